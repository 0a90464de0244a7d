import { basename, join } from 'node:path';
import type {
  ApiPrompt,
  ControlMode,
  ConversionResult,
  Parameter,
  ParameterTarget,
  ParameterValues,
} from '@shared/domain/generation';
import { StagedRef, type SeedMode, type WorkflowDocument } from '@shared/domain/job';
import { MAX_JSON_DEPTH, tooDeeplyNestedMessage, valueDepth } from '@shared/json-depth';
import type { WorkflowRecord } from '@shared/domain/workflow';
import type { ComfyClient } from '../comfy/comfy-client';
import { inputOptions, outputNodeTypes, type ObjectInfo } from '../comfy/object-info';
import { AppError } from '../lib/errors';
import { readJsonFile } from '../lib/json-file';
import type { ServerDirectory } from '../jobs/server-directory';
import { assertNoMissingNodes, convertWorkflow } from './convert/convert-workflow';
import { uploadMediaOf } from './parameters/constraints';
import { detectParameters } from './parameters/detect-parameters';
import { planRuns } from './parameters/parameter-values';
import { writeValuesToWorkflow } from './parameters/write-back';
import type { StagedInputs } from './staging';

/** Where a workflow comes from: the library (by id), a file on this machine, or handed over whole (the CLI's `run`). */
export type WorkflowSource = { workflowId: string } | { file: string } | { document: WorkflowDocument };

/** The source a contract request names: a library id or a workflow document (the schema allows exactly one). */
export function sourceOf(request: { workflowId?: string; workflow?: WorkflowDocument }): WorkflowSource {
  return request.workflow ? { document: request.workflow } : { workflowId: request.workflowId ?? '' };
}

/** A staged file a run must upload before queueing, and the prompt inputs that take its name. */
export interface StagedUpload {
  stagedId: string;
  targets: ParameterTarget[];
  /** The file's name, to say which file is missing if it is gone (absent in jobs recorded before it was kept). */
  name?: string;
}

/** One run, ready for the queue: everything a job needs, independent of the library and the form. */
export interface PreparedRun {
  workflowId: string | null;
  workflowName: string;
  serverId: string;
  /** The API prompt with the run's values (staged files still to be uploaded into it). */
  prompt: ApiPrompt;
  /** The source workflow with the run's values written back (sent as extra_pnginfo.workflow). */
  sourceWorkflow: unknown;
  /** The values as the person chose them for this run, seeds resolved. */
  values: ParameterValues;
  /** The positive prompt text, for display and history search. */
  promptText: string;
  /** Execution id → title, for progress and errors. */
  titles: Record<string, string>;
  uploads: StagedUpload[];
  /** Node classes that are outputs on the server (object_info `output_node`), for the progress closure. */
  outputClassTypes: ReadonlySet<string>;
}

/** Converted workflow and its parameters on one server. */
export interface LoadedWorkflow {
  workflowId: string | null;
  name: string;
  raw: unknown;
  conversion: ConversionResult;
  parameters: Parameter[];
  objectInfo: ObjectInfo;
  /** Node classes that are outputs on this server. */
  outputClassTypes: ReadonlySet<string>;
}

/** A library workflow converted for one server, kept while neither the file nor the server's node definitions change. */
interface CachedLoad {
  loaded: LoadedWorkflow;
  objectInfo: ObjectInfo;
  modifiedMs: number;
  fileSizeBytes: number;
  /**
   * The conversion drew random numbers (dynamic prompts `{a|b}`) or read the clock (`%date:…%`):
   * like ComfyUI's frontend, each queueing converts again (from the kept file, not re-read).
   */
  isVolatile: boolean;
}

/** Conversions kept (one per workflow and server), the oldest dropped first. */
const MAX_CACHED_LOADS = 32;

export interface GenerationServiceDeps {
  servers: ServerDirectory;
  /** Finds a library workflow by id (absent in the CLI's one-file runs). */
  findWorkflow?: (id: string) => WorkflowRecord | undefined;
  staged: StagedInputs;
  /** @default Math.random */
  random?: () => number;
  /** @default () => new Date() */
  now?: () => Date;
  /** Reads a workflow file. @default readJsonFile */
  readWorkflow?: (path: string) => Promise<unknown>;
}

/**
 * Turns a workflow and a person's values into runs: converts it with the server's own node
 * definitions, detects its parameters, validates the values, plans batches (seeds per run) and
 * writes the values back into the workflow kept with the outputs.
 *
 * A library workflow's conversion is kept per server while its file and the server's node
 * definitions stay the same, so queueing what the form showed neither re-reads nor re-converts it.
 */
export class GenerationService {
  readonly #deps: GenerationServiceDeps;
  readonly #cache = new Map<string, CachedLoad>();

  constructor(deps: GenerationServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Converts the workflow for `serverId` and lists what a person can change. `isForForm`: the
   * form is shown now, so the input file lists are read fresh (queueing then takes what it showed).
   */
  async load(source: WorkflowSource, serverId: string, options: { isForForm?: boolean } = {}): Promise<LoadedWorkflow> {
    const client = this.#deps.servers.client(serverId);
    if (!client) {
      throw new AppError(
        'comfy_offline',
        `${this.#deps.servers.label(serverId)} is not connected right now, so the workflow cannot be checked against it. Connect it in Settings › Connections.`,
        { details: { serverId } },
      );
    }
    if (!('workflowId' in source)) {
      const [read, { objectInfo }] = await Promise.all([this.#read(source), client.getObjectInfo()]);
      return this.#withFreshLists(this.#convert(read, objectInfo).loaded, client);
    }
    const record = this.#record(source.workflowId);
    const key = `${serverId}\u0000${record.id}`;
    const { objectInfo } = await client.getObjectInfo();
    let cached = this.#cache.get(key);
    let isFresh = false;
    this.#cache.delete(key); // most recently used last
    if (
      !cached ||
      cached.objectInfo !== objectInfo ||
      cached.modifiedMs !== record.modifiedMs ||
      cached.fileSizeBytes !== record.fileSizeBytes
    ) {
      const converted = this.#convert(await this.#read(source), objectInfo);
      cached = {
        loaded: await this.#withFreshLists(converted.loaded, client),
        objectInfo,
        modifiedMs: record.modifiedMs,
        fileSizeBytes: record.fileSizeBytes,
        isVolatile: converted.isVolatile,
      };
      isFresh = true;
    } else if (options.isForForm) {
      cached = { ...cached, loaded: await this.#withFreshLists(cached.loaded, client) };
    }
    this.#cache.set(key, cached);
    for (const old of this.#cache.keys()) {
      if (this.#cache.size <= MAX_CACHED_LOADS) break;
      this.#cache.delete(old);
    }
    if (isFresh || !cached.isVolatile) return cached.loaded;
    // Converted again for each use, with the parameters (and file lists) the form last showed.
    const { raw, name, workflowId, parameters } = cached.loaded;
    return { ...this.#convert({ raw, name, workflowId }, objectInfo).loaded, parameters };
  }

  /**
   * The parameters again with the server's input file lists as they are now (a file uploaded since
   * the node definitions were read is offered; one that is gone is flagged before anything is sent).
   */
  async #withFreshLists(loaded: LoadedWorkflow, client: ComfyClient): Promise<LoadedWorkflow> {
    const objectInfo = await withFreshFileLists(client, loaded.conversion.prompt, loaded.objectInfo);
    return objectInfo === loaded.objectInfo
      ? loaded
      : { ...loaded, parameters: detectParameters(loaded.conversion, objectInfo) };
  }

  #convert(
    read: { name: string; workflowId: string | null; raw: unknown },
    objectInfo: ObjectInfo,
  ): { loaded: LoadedWorkflow; isVolatile: boolean } {
    let isVolatile = false;
    const random = this.#deps.random ?? Math.random;
    const now = this.#deps.now ?? (() => new Date());
    const conversion = convertWorkflow(read.raw, {
      objectInfo,
      random: () => {
        isVolatile = true;
        return random();
      },
      now: () => {
        isVolatile = true;
        return now();
      },
    });
    const parameters = detectParameters(conversion, objectInfo);
    return {
      loaded: { ...read, conversion, parameters, objectInfo, outputClassTypes: outputNodeTypes(objectInfo) },
      isVolatile,
    };
  }

  /**
   * Validates `values` and plans `count` runs. Staged files (values `{ staged: id }`) are checked
   * to exist now and uploaded by the queue when a run is released.
   */
  prepare(
    loaded: LoadedWorkflow,
    serverId: string,
    input: { values: ParameterValues; count: number; seedMode?: SeedMode },
  ): PreparedRun[] {
    assertNoMissingNodes(loaded.conversion);
    const { values, uploads } = this.#resolveStaged(loaded.parameters, input.values);
    const seedControls: Record<string, ControlMode> = {};
    if (input.seedMode)
      for (const parameter of loaded.parameters)
        if (parameter.kind === 'seed') seedControls[parameter.id] = input.seedMode;
    const runs = planRuns({
      prompt: loaded.conversion.prompt,
      parameters: loaded.parameters,
      values,
      count: input.count,
      seedControls,
      random: this.#deps.random,
    });
    const titles = Object.fromEntries(
      Object.entries(loaded.conversion.nodeMap).map(([id, entry]) => [id, entry.title]),
    );
    for (const [id, node] of Object.entries(loaded.conversion.prompt))
      titles[id] ??= node._meta?.title ?? node.class_type;
    return runs.map((run) => ({
      workflowId: loaded.workflowId,
      workflowName: loaded.name,
      serverId,
      prompt: run.prompt,
      sourceWorkflow:
        loaded.conversion.format === 'ui' && isRecord(loaded.raw)
          ? writeValuesToWorkflow(loaded.raw, loaded.conversion.nodeMap, run.assignments)
          : run.prompt,
      values: run.values,
      promptText: promptTextOf(loaded.parameters, run.values),
      titles,
      uploads,
      outputClassTypes: loaded.outputClassTypes,
    }));
  }

  /** Swaps staged-file values for their names (so validation sees a file name) and remembers where to upload them. */
  #resolveStaged(
    parameters: readonly Parameter[],
    values: ParameterValues,
  ): { values: ParameterValues; uploads: StagedUpload[] } {
    const resolved: ParameterValues = { ...values };
    const uploads: StagedUpload[] = [];
    for (const parameter of parameters) {
      const ref = StagedRef.safeParse(values[parameter.id]);
      if (!ref.success) continue;
      const staged = this.#deps.staged.get(ref.data.staged);
      if (!staged)
        throw new AppError('not_found', `The file for "${parameter.label}" is no longer available; add it again.`, {
          details: { parameterId: parameter.id },
        });
      resolved[parameter.id] = staged.name;
      uploads.push({ stagedId: staged.id, targets: parameter.targets, name: staged.name });
    }
    return { values: resolved, uploads };
  }

  /** The library's record of a workflow, if it can be used. */
  #record(workflowId: string): WorkflowRecord {
    const record = this.#deps.findWorkflow?.(workflowId);
    if (!record)
      throw new AppError(
        'workflow_not_found',
        'That workflow is no longer in your library (was the file moved or deleted?).',
        { details: { workflowId } },
      );
    if (record.error)
      throw new AppError('workflow_invalid', `${record.name} cannot be used: ${record.error.reason}`, {
        details: { workflowId: record.id },
      });
    return record;
  }

  async #read(source: WorkflowSource): Promise<{ name: string; workflowId: string | null; raw: unknown }> {
    let path: string;
    let name: string;
    let workflowId: string | null = null;
    if ('document' in source) {
      // Handed over whole: the sender read it, but nothing that walks it may meet a hostile depth.
      if (valueDepth(source.document.data) > MAX_JSON_DEPTH)
        throw new AppError('workflow_invalid', tooDeeplyNestedMessage(source.document.name));
      return { name: source.document.name, workflowId: null, raw: source.document.data };
    }
    if ('workflowId' in source) {
      const record = this.#record(source.workflowId);
      path = join(record.root, record.path);
      name = record.name;
      workflowId = record.id;
    } else {
      path = source.file;
      name = basename(source.file).replace(/\.json$/i, '');
    }
    const raw = this.#deps.readWorkflow
      ? await this.#deps.readWorkflow(path)
      : await readJsonFile(path, 'workflow_invalid');
    return { name, workflowId, raw };
  }
}

/**
 * object_info with the loaders of input files (LoadImage, LoadVideo, LoadAudio…) read again: their
 * lists are the server's input folder now, so the form can tell a file that is not there before
 * anything is sent. The cached definitions are used when the server cannot answer.
 */
async function withFreshFileLists(client: ComfyClient, prompt: ApiPrompt, objectInfo: ObjectInfo): Promise<ObjectInfo> {
  const loaders = [...new Set(Object.values(prompt).map((node) => node.class_type))].filter((classType) => {
    const def = objectInfo[classType];
    return Object.values({ ...def?.input.required, ...def?.input.optional }).some(
      (spec) => uploadMediaOf(inputOptions(spec)) !== undefined,
    );
  });
  if (loaders.length === 0) return objectInfo;
  try {
    return { ...objectInfo, ...(await client.getNodeDefinitions(loaders, { timeoutMs: 10_000 })) };
  } catch {
    return objectInfo;
  }
}

/** The positive prompt of a run, for display and search (several prompt fields are joined). */
function promptTextOf(parameters: readonly Parameter[], values: ParameterValues): string {
  return parameters
    .filter((parameter) => parameter.kind === 'prompt')
    .map((parameter) => values[parameter.id] ?? parameter.value)
    .filter((value): value is string => typeof value === 'string' && value.trim() !== '')
    .join(' · ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
