import { rm } from 'node:fs/promises';
import type { DesktopPort } from '../app/desktop-port';
import type { WorkflowDocument } from '@shared/domain/job';
import { sourceOf, type GenerationService } from '../generation/generation-service';
import type { StagedInputs } from '../generation/staging';
import { AppError } from '../lib/errors';
import { realFileInside, removablePathInside } from '../lib/inside-folder';
import type { Handlers } from '../router';
import type { HistoryStore } from './history-store';
import type { JobService } from './job-service';
import type { ServerDirectory } from './server-directory';

export interface JobsHandlerDeps {
  jobs: JobService;
  generation: GenerationService;
  staged: StagedInputs;
  servers: ServerDirectory;
  history: HistoryStore;
  outputsDir: () => string;
  desktop: DesktopPort | undefined;
}

type JobsCommand =
  | 'generation.form'
  | 'generation.stageFile'
  | 'jobs.enqueue'
  | 'jobs.list'
  | 'jobs.cancel'
  | 'jobs.retry'
  | 'jobs.move'
  | 'jobs.setPaused'
  | 'history.list'
  | 'history.get'
  | 'history.delete'
  | 'outputs.reveal';

export function jobsHandlers(deps: JobsHandlerDeps): Pick<Handlers, JobsCommand> {
  const serverFor = (serverId: string | undefined): string => {
    const id = serverId ?? deps.servers.defaultId();
    if (!id) throw new AppError('comfy_offline', 'No ComfyUI server is set up yet. Add one in Settings › Connections.');
    return id;
  };
  const recordOf = (jobId: string) => {
    const record = deps.history.get(jobId);
    if (!record)
      throw new AppError('job_not_found', 'That job is not in the history (it may have been deleted).', {
        details: { jobId },
      });
    return record;
  };

  /**
   * The server a workflow is converted against: the one named, else the first online server it may
   * run on that has every node type it uses (the default first), else the default (whose error says
   * what is missing). The conversion `generation.form` made is reused while nothing changed.
   */
  const conversionFor = async (
    request: { serverId?: string; servers?: string[]; workflowId?: string; workflow?: WorkflowDocument },
    options: { isForForm?: boolean } = {},
  ) => {
    const source = sourceOf(request);
    if (request.serverId)
      return { id: request.serverId, loaded: await deps.generation.load(source, request.serverId, options) };
    const candidates = request.servers ?? deps.servers.generationIds();
    const fallback = deps.servers.defaultId();
    const online = [...new Set([fallback, ...candidates])].filter(
      (serverId): serverId is string => !!serverId && candidates.includes(serverId) && !!deps.servers.client(serverId),
    );
    for (const id of online) {
      const loaded = await deps.generation.load(source, id, options);
      if (loaded.conversion.missingNodeTypes.length === 0) return { id, loaded };
    }
    const id = serverFor(online[0] ?? request.servers?.[0]);
    return { id, loaded: await deps.generation.load(source, id, options) };
  };

  return {
    'generation.form': async (request) => {
      const { id, loaded } = await conversionFor(request, { isForForm: true });
      return {
        ...(loaded.workflowId !== null ? { workflowId: loaded.workflowId } : {}),
        serverId: id,
        format: loaded.conversion.format,
        parameters: loaded.parameters,
        warnings: loaded.conversion.warnings,
        missingNodeTypes: loaded.conversion.missingNodeTypes,
      };
    },
    'generation.stageFile': ({ path }) => deps.staged.stageFile(path),
    'jobs.enqueue': async (request) => {
      const { id, loaded } = await conversionFor(request);
      const runs = deps.generation.prepare(loaded, id, {
        values: request.values,
        count: request.count,
        seedMode: request.seedMode,
      });
      return { jobIds: deps.jobs.enqueue(runs, { servers: request.servers }) };
    },
    'jobs.list': async ({ refresh }) => {
      if (refresh) await deps.jobs.refresh();
      return deps.jobs.snapshot();
    },
    'jobs.cancel': async ({ jobId }) => {
      await deps.jobs.cancel(jobId);
      return {};
    },
    'jobs.retry': ({ jobId }) => ({ jobIds: deps.jobs.retry(jobId) }),
    'jobs.move': ({ jobId, toIndex }) => {
      deps.jobs.move(jobId, toIndex);
      return {};
    },
    'jobs.setPaused': ({ paused }) => ({ paused: deps.jobs.setPaused(paused) }),
    'history.list': (query) => ({ jobs: deps.history.list(query) }),
    'history.get': ({ jobId }) => {
      const record = recordOf(jobId);
      return { job: record.job, apiPrompt: record.apiPrompt };
    },
    'history.delete': async ({ jobId, deleteFiles }) => {
      const job = deps.jobs.forget(jobId);
      if (!job)
        throw new AppError('job_not_found', 'That job is not in the history (it may have been deleted).', {
          details: { jobId },
        });
      if (deleteFiles) {
        const dir = deps.outputsDir();
        for (const output of job.outputs) {
          // Only what really lies in the outputs folder: a linked sub folder never leads the delete elsewhere.
          const path = output.localPath ? await removablePathInside(dir, output.localPath) : undefined;
          if (path) await rm(path, { force: true });
        }
      }
      return {};
    },
    'outputs.reveal': async ({ jobId, index }) => {
      const output = recordOf(jobId).job.outputs[index];
      if (!output?.localPath) throw new AppError('not_found', 'That output was not saved on this machine.');
      // Shown only when the real file is in the outputs folder: a stored path never leads the file manager elsewhere.
      const path = await realFileInside(deps.outputsDir(), output.localPath);
      if (!path)
        throw new AppError(
          'not_found',
          'That file is no longer in the outputs folder (it was moved or deleted, or the outputs folder changed).',
          { details: { jobId, index } },
        );
      if (!deps.desktop) return { isRevealed: false, path };
      deps.desktop.showItemInFolder(path);
      return { isRevealed: true, path };
    },
  };
}
