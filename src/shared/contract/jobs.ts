import { z } from 'zod';
import { ConversionWarning, MissingNodeType, Parameter, WorkflowFormat } from '../domain/generation';
import {
  EnqueueRequest,
  hasOneWorkflowSource,
  ONE_WORKFLOW_SOURCE,
  Job,
  JobProgress,
  JobStatus,
  JobsSnapshot,
  PreviewFrame,
  QueueCounts,
  StagedInput,
  WorkflowDocument,
} from '../domain/job';

const JobId = z.object({ jobId: z.string().min(1).max(128) }).strict();

/** What the Generate panel needs to show a workflow's form on a server. */
export const GenerationForm = z.object({
  /** The library workflow's id; absent for a workflow handed over whole. */
  workflowId: z.string().optional(),
  serverId: z.string(),
  format: WorkflowFormat,
  /** The form's fields, in group order; values are the workflow's own. */
  parameters: z.array(Parameter),
  warnings: z.array(ConversionWarning),
  /** Node types the server lacks: Generate stays off until they are installed. */
  missingNodeTypes: z.array(MissingNodeType),
});
export type GenerationForm = z.infer<typeof GenerationForm>;

/** Jobs, the held queue, history and outputs. Long work returns an id at once; progress comes as events. */
export const jobsCommands = {
  /** Converts a workflow (by library id, or handed over whole) with the server's node definitions and detects its parameters. */
  'generation.form': {
    input: z
      .object({
        workflowId: z.string().min(1).optional(),
        workflow: WorkflowDocument.optional(),
        serverId: z.string().optional(),
        /** The servers the runs may go to: the form is read from the first online one that has every node type. */
        servers: z.array(z.string().min(1)).min(1).max(64).optional(),
      })
      .strict()
      .refine(hasOneWorkflowSource, ONE_WORKFLOW_SOURCE),
    output: GenerationForm,
  },
  /**
   * Keeps a media file named by its full path on the machine running ComfyDesk (the desktop app
   * hands over a dropped or picked file's path; at most 64 MB) for a run to upload. File contents
   * never travel in a message: serve mode's page uploads them to `POST /upload` instead.
   */
  'generation.stageFile': {
    input: z.object({ path: z.string().min(1).max(4096) }).strict(),
    output: StagedInput,
  },
  /** Validates the values and queues one job per run; answers at once with the new job ids. */
  'jobs.enqueue': {
    input: EnqueueRequest.strict().refine(hasOneWorkflowSource, ONE_WORKFLOW_SOURCE),
    output: z.object({ jobIds: z.array(z.string()) }),
  },
  /** The live queue; with `refresh`, each watched server's queue is read first (a core that just started). */
  'jobs.list': {
    input: z.object({ refresh: z.boolean().default(false) }).strict(),
    output: JobsSnapshot,
  },
  /** Interrupts a running job, removes a pending one from the server, or drops a held one. */
  'jobs.cancel': { input: JobId, output: z.object({}) },
  /** Queues a finished, failed or lost job again with the same values (a new job). */
  'jobs.retry': { input: JobId, output: z.object({ jobIds: z.array(z.string()) }) },
  /** Moves a held job to a new place in ComfyDesk's queue (0 = next). */
  'jobs.move': {
    input: z.object({ jobId: z.string(), toIndex: z.number().int().min(0) }).strict(),
    output: z.object({}),
  },
  'jobs.setPaused': { input: z.object({ paused: z.boolean() }).strict(), output: z.object({ paused: z.boolean() }) },
  /** Past jobs, newest first; `text` searches the prompts. */
  'history.list': {
    input: z
      .object({
        text: z.string().max(200).optional(),
        workflowId: z.string().optional(),
        statuses: z.array(JobStatus).optional(),
        limit: z.number().int().min(1).max(200).default(50),
        offset: z.number().int().min(0).default(0),
      })
      .strict(),
    output: z.object({ jobs: z.array(Job) }),
  },
  'history.get': { input: JobId, output: z.object({ job: Job, apiPrompt: z.unknown() }) },
  /** Forgets a job; with `deleteFiles`, its saved outputs too. */
  'history.delete': {
    input: z.object({ jobId: z.string(), deleteFiles: z.boolean().default(false) }).strict(),
    output: z.object({}),
  },
  /** Shows a saved output in the file manager (desktop); always answers with its path. */
  'outputs.reveal': {
    input: z.object({ jobId: z.string(), index: z.number().int().min(0) }).strict(),
    output: z.object({ isRevealed: z.boolean(), path: z.string() }),
  },
} as const;

/**
 * Job events: the whole job on every state change (`jobs.updated` — a job started, finished, failed
 * or was cancelled when its `status` changes to running, succeeded, failed/lost or cancelled), queue
 * counts, and live progress and previews of a running job, which are too frequent to resend the job.
 */
export const jobsEvents = {
  'jobs.updated': Job,
  'jobs.removed': z.object({ jobId: z.string() }),
  'jobs.queue': QueueCounts,
  'generation.progress': z.object({ jobId: z.string(), promptId: z.string(), progress: JobProgress }),
  'generation.preview': PreviewFrame,
} as const;
