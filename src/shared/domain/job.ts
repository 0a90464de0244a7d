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
  nodeErrors: z
    .array(z.object({ nodeId: z.string(), nodeTitle: z.string().optional(), messages: z.array(z.string()) }))
    .optional(),
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
  /** For batches: this run's index, counted from 1, and the batch size. */
  batch: z.object({ index: z.number().int(), count: z.number().int() }).nullable(),
  /**
   * ComfyUI answered from its cache: every output node's result was kept from an earlier run with the
   * same inputs, so nothing was computed again (it finishes at once). Absent for older records.
   */
  isCached: z.boolean().optional(),
  /** The servers this job may run on (pinned by the person); absent = any server used for generation. */
  servers: z.array(z.string()).optional(),
  /** Why a held job is not released yet when no server can take it ("no connected server has flux1-dev.safetensors"). */
  heldReason: z.string().optional(),
});
export type Job = z.infer<typeof Job>;

/** How a batch changes the seed between runs (overrides the workflow's own control mode). */
export const SeedMode = z.enum(['randomize', 'fixed', 'increment']);
export type SeedMode = z.infer<typeof SeedMode>;

/** A file the user dropped or picked, kept by ComfyDesk until a run uploads it to the server. */
export const StagedInput = z.object({
  /** Refer to it as a parameter value: `{ "staged": id }`. */
  id: z.string(),
  name: z.string(),
  mime: z.string(),
  sizeBytes: z.number().int().nonnegative(),
});
export type StagedInput = z.infer<typeof StagedInput>;

/** A parameter value that names a staged file (for image, video, audio and mask inputs). */
export const StagedRef = z.object({ staged: z.string() }).strict();
export type StagedRef = z.infer<typeof StagedRef>;

/**
 * A workflow handed over whole instead of by library id (`comfydesk run FILE`): its name as people
 * see it and its JSON, UI or API format. The CLI reads and checks the file on its own machine.
 */
export const WorkflowDocument = z.object({
  name: z.string().min(1).max(255),
  data: z.unknown(),
});
export type WorkflowDocument = z.infer<typeof WorkflowDocument>;

/** Exactly one of a library workflow (`workflowId`) or a workflow handed over whole (`workflow`). */
export function hasOneWorkflowSource(value: { workflowId?: string; workflow?: unknown }): boolean {
  return (value.workflowId === undefined) !== (value.workflow === undefined);
}
export const ONE_WORKFLOW_SOURCE = 'Give either workflowId (a library workflow) or workflow (its JSON), not both.';

/** Queue one workflow with the user's values, once or as a batch. */
export const EnqueueRequest = z.object({
  /** A workflow of the library… */
  workflowId: z.string().min(1).optional(),
  /** …or one handed over whole (the CLI's `run FILE`). */
  workflow: WorkflowDocument.optional(),
  /** The connection the workflow is converted against (its nodes and models). @default the default connection */
  serverId: z.string().optional(),
  /**
   * Pins the job (or batch) to these servers: each run goes to the least busy of them that can run
   * it. One id pins to one server. @default every server used for generation (the farm)
   */
  servers: z.array(z.string().min(1)).min(1).max(64).optional(),
  /** Parameter id → value (see `Parameter.id`); staged files as `{ staged: id }`. */
  values: z.record(z.string(), z.unknown()).default({}),
  /** Runs in this batch; seeds follow `seedMode`. @default 1 */
  count: z.number().int().min(1).max(100).default(1),
  /** @default the workflow's own control mode for its seed */
  seedMode: SeedMode.optional(),
});
export type EnqueueRequest = z.infer<typeof EnqueueRequest>;

/** The live queue: every unfinished job (ours and other clients') in execution order. */
export const JobsSnapshot = z.object({
  jobs: z.array(Job),
  /** ComfyDesk stopped releasing its held jobs; the running one still finishes. */
  paused: z.boolean(),
});
export type JobsSnapshot = z.infer<typeof JobsSnapshot>;

/** Counts for badges and the tray (the seed's `queue_updated`). */
export const QueueCounts = z.object({ running: z.number().int(), pending: z.number().int(), paused: z.boolean() });
export type QueueCounts = z.infer<typeof QueueCounts>;

/** A live preview frame of a running job. */
export const PreviewFrame = z.object({
  jobId: z.string(),
  promptId: z.string(),
  mime: z.string(),
  /** The frame as a data: URL, ready for an <img>. */
  dataUrl: z.string(),
  nodeId: z.string().nullable(),
});
export type PreviewFrame = z.infer<typeof PreviewFrame>;
