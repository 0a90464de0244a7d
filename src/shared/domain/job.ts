import { z } from 'zod';

/**
 * A generation job's life: held by ComfyDesk → queued on the server → running → an end state.
 * `lost` means the server no longer knows the job (it restarted, or its queue was cleared by
 * someone else); its parameters are kept so Retry works.
 */
export const JobStatus = z.enum(['held', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'lost']);
export type JobStatus = z.infer<typeof JobStatus>;

export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled', 'lost'];

export function isFinished(status: JobStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

export const OutputKind = z.enum(['image', 'video', 'audio', 'text', '3d', 'file']);
export type OutputKind = z.infer<typeof OutputKind>;

/** One output of a finished job, as ComfyUI listed it and as ComfyDesk saved it. */
export const OutputFile = z.object({
  kind: OutputKind,
  /** The node that produced it (execution id, e.g. "9" or "12:5"). */
  nodeId: z.string(),
  /** ComfyUI's own name, subfolder and type (output | temp | input). */
  filename: z.string(),
  subfolder: z.string(),
  type: z.string(),
  /** Where ComfyDesk saved it, relative to the outputs folder; absent until downloaded (or for text). */
  localPath: z.string().optional(),
  mime: z.string().optional(),
  /** The text of a text output (PreviewAny and the like). */
  text: z.string().optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
});
export type OutputFile = z.infer<typeof OutputFile>;

/** Live progress of a running job. */
export const JobProgress = z.object({
  /** Overall percent across the whole graph, monotonic, 100 only when finished. */
  percent: z.number().min(0).max(100),
  /** The node executing now (execution id) and its title as the user sees it. */
  nodeId: z.string().nullable(),
  nodeTitle: z.string().nullable(),
  /** Steps of the current node when it reports them (samplers). */
  step: z.number().nullable(),
  steps: z.number().nullable(),
  /** Estimated seconds left, or null when there is no honest estimate yet. */
  etaSeconds: z.number().nullable(),
});
export type JobProgress = z.infer<typeof JobProgress>;

/** Why a job failed, in ComfyUI's own words where it gave any. */
export const JobError = z.object({
  message: z.string(),
  /** ComfyUI's exception or error type (e.g. "torch.OutOfMemoryError", "value_not_in_list"). */
  type: z.string().optional(),
  nodeId: z.string().optional(),
  nodeTitle: z.string().optional(),
  /** Per-node validation messages for a rejected prompt. */
  nodeErrors: z.array(z.object({ nodeId: z.string(), nodeTitle: z.string().optional(), messages: z.array(z.string()) })).optional(),
});
export type JobError = z.infer<typeof JobError>;

/** A job as clients see it. The API prompt itself stays in the history database. */
export const Job = z.object({
  id: z.string(),
  /** The prompt id on the server (a fresh UUID per submission; a retry gets a new one). */
  promptId: z.string().nullable(),
  /** 'comfydesk' for ours; 'foreign' for jobs other clients queued on the same server. */
  origin: z.enum(['comfydesk', 'foreign']),
  serverId: z.string(),
  workflowId: z.string().nullable(),
  workflowName: z.string(),
  status: JobStatus,
  /** The user's parameter values (by parameter id) and the positive prompt for display and search. */
  parameters: z.record(z.string(), z.unknown()),
  promptText: z.string(),
  createdAt: z.number(),
  queuedAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  progress: JobProgress.nullable(),
  error: JobError.nullable(),
  outputs: z.array(OutputFile),
  /** Position in ComfyDesk's own held queue (lower runs first). */
  position: z.number(),
  /** For batches: this run's index and the batch size. */
  batch: z.object({ index: z.number().int(), count: z.number().int() }).nullable(),
});
export type Job = z.infer<typeof Job>;
