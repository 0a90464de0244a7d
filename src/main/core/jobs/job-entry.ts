import type { ApiPrompt } from '@shared/domain/generation';
import type { Job, JobError, OutputFile } from '@shared/domain/job';
import type { PreparedRun, StagedUpload } from '../generation/generation-service';
import { expectedDurationMs } from './eta';
import type { HistoryStore, JobRecord } from './history-store';
import { ProgressTracker, samplingSteps } from './progress-tracker';
import { titlesOf } from './prompt-helpers';

/** How a prompt ended, as the socket or the history told it. */
export interface JobOutcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  error?: JobError;
}

/** One of our jobs, with what only the job service needs to run it. */
export interface Entry {
  job: Job;
  prompt: ApiPrompt;
  sourceWorkflow: unknown;
  /** Execution id → the title the person gave the node, for progress and errors. */
  titles: Record<string, string>;
  /** Staged files still to upload before the prompt is sent. */
  uploads: StagedUpload[];
  /** Staged files uploaded to the server it was sent to (uploaded again if it moves to another); kept in the history. */
  uploaded?: StagedUpload[];
  /** Class types that are outputs (from the server's object_info); unknown for a job restored after a restart. */
  outputClassTypes: ReadonlySet<string> | undefined;
  /** Sampler steps the run takes, for time estimates. */
  samplingSteps: number | null;
  tracker?: ProgressTracker;
  /**
   * When POST /prompt was sent under `job.promptId` (ms), recorded in the history before the request
   * goes out. Set on a held job, the prompt may be on the server: reconcile decides, the pump keeps off.
   */
  sentAt?: number;
  /**
   * After a send that got no answer in this session: the earliest time a server that does not know
   * the prompt means it never arrived (the request may still be on its way until then).
   */
  confirmAfter?: number;
  /** Sends that got no answer and turned out not to have arrived; after a few the job fails. */
  failedSends: number;
  /** Why the last unanswered send failed, for the message when the job gives up. */
  lastSendError?: string;
  /** Uploads and POST /prompt are in flight now. */
  isSubmitting: boolean;
  /** The user asked to cancel while the job was being submitted or was running. */
  isCancelRequested: boolean;
  /** What the socket said about the end, in case history cannot be read. */
  outcome?: JobOutcome;
  /** Outputs announced by `executed` events, in case history cannot be read. */
  liveOutputs: OutputFile[];
  isFinalizing: boolean;
  lastPreviewAt: number;
  /** The server's queue number once queued (orders our queued jobs like the server does). */
  number?: number;
}

/** What an entry is built from, whichever way it comes. */
interface EntrySource {
  job: Job;
  prompt: ApiPrompt;
  sourceWorkflow: unknown;
  titles?: Record<string, string>;
  uploads?: StagedUpload[];
  uploaded?: StagedUpload[];
  outputClassTypes?: ReadonlySet<string>;
  samplingSteps?: number | null;
  sentAt?: number | null;
}

/** The one place an entry is set up: runtime state starts empty, the rest comes from the source. */
function createEntry(source: EntrySource): Entry {
  return {
    job: source.job,
    prompt: source.prompt,
    sourceWorkflow: source.sourceWorkflow,
    titles: source.titles ?? titlesOf(source.prompt),
    uploads: source.uploads ?? [],
    ...(source.uploaded && source.uploaded.length > 0 ? { uploaded: source.uploaded } : {}),
    outputClassTypes: source.outputClassTypes,
    samplingSteps:
      source.samplingSteps !== undefined
        ? source.samplingSteps
        : source.outputClassTypes
          ? samplingSteps(source.prompt, (type) => source.outputClassTypes!.has(type))
          : null,
    ...(source.sentAt !== undefined && source.sentAt !== null ? { sentAt: source.sentAt } : {}),
    failedSends: 0,
    isSubmitting: false,
    isCancelRequested: false,
    liveOutputs: [],
    isFinalizing: false,
    lastPreviewAt: 0,
  };
}

/** A new held job for a prepared run. */
export function entryFromRun(
  run: PreparedRun,
  placement: { id: string; now: number; position: number; batch: Job['batch'] },
): Entry {
  return createEntry({
    job: {
      id: placement.id,
      promptId: null,
      origin: 'comfydesk',
      serverId: run.serverId,
      workflowId: run.workflowId,
      workflowName: run.workflowName,
      status: 'held',
      parameters: run.values,
      promptText: run.promptText,
      createdAt: placement.now,
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      progress: null,
      error: null,
      outputs: [],
      position: placement.position,
      batch: placement.batch,
    },
    prompt: run.prompt,
    sourceWorkflow: run.sourceWorkflow,
    titles: run.titles,
    uploads: run.uploads,
    outputClassTypes: run.outputClassTypes,
  });
}

/** An unfinished job read back from the history after a restart. */
export function entryFromRecord(record: JobRecord): Entry {
  return createEntry({
    job: { ...record.job, progress: null },
    prompt: (record.apiPrompt ?? {}) as ApiPrompt,
    sourceWorkflow: record.sourceWorkflow,
    uploads: record.uploads,
    uploaded: record.uploaded,
    samplingSteps: record.samplingSteps ?? null,
    sentAt: record.sentAt,
  });
}

/** A finished job run again with the same values: a new held job (a new prompt id when it is sent). */
export function entryForRetry(
  from: { job: Job; prompt: ApiPrompt; sourceWorkflow: unknown; uploads?: StagedUpload[]; previous?: Entry },
  placement: { id: string; now: number; position: number },
): Entry {
  return createEntry({
    job: {
      ...from.job,
      id: placement.id,
      promptId: null,
      status: 'held',
      createdAt: placement.now,
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      progress: null,
      error: null,
      outputs: [],
      position: placement.position,
      batch: null,
    },
    prompt: from.prompt,
    sourceWorkflow: from.sourceWorkflow,
    titles: from.previous?.titles,
    uploads: from.uploads,
    outputClassTypes: from.previous?.outputClassTypes,
    samplingSteps: from.previous?.samplingSteps,
  });
}

/** What the history keeps of an entry (live progress is not kept). */
export function recordOf(entry: Entry): JobRecord {
  return {
    job: { ...entry.job, progress: null },
    apiPrompt: entry.prompt,
    sourceWorkflow: entry.sourceWorkflow,
    sentAt: entry.sentAt ?? null,
    uploads: entry.uploads,
    uploaded: entry.uploaded ?? [],
    samplingSteps: entry.samplingSteps,
  };
}

/** A progress tracker for an entry, given the server's output classes, with the time past runs suggest. */
export function trackerFor(
  entry: Entry,
  outputs: ReadonlySet<string>,
  deps: { history: HistoryStore; now: () => number },
): ProgressTracker {
  entry.samplingSteps ??= samplingSteps(entry.prompt, (type) => outputs.has(type));
  const { workflowId, serverId } = entry.job;
  return new ProgressTracker({
    prompt: entry.prompt,
    isOutputNode: (classType) => outputs.has(classType),
    titles: entry.titles,
    expectedMs: workflowId
      ? expectedDurationMs(deps.history.pastRuns(workflowId, serverId), entry.samplingSteps)
      : undefined,
    now: deps.now,
  });
}
