import { z } from 'zod';
import type { HistoryEntry } from './messages';

// The jobs API of newer ComfyUI servers (protocol doc §2.6; Comfy-Org/ComfyUI server.py `/api/jobs*`
// routes and comfy_execution/jobs.py). Registered only under `/api`, 404 on 0.3.64. Parsed leniently:
// the fields a client relies on are checked, anything else may be added by later versions.

/** A job's status as the jobs API names it. */
export const JobsApiStatus = z.enum(['pending', 'in_progress', 'completed', 'failed', 'cancelled']);
export type JobsApiStatus = z.infer<typeof JobsApiStatus>;

/** One entry of `GET /api/jobs` (null fields are pruned by the server). */
export const JobsApiJob = z
  .object({
    id: z.string(),
    status: JobsApiStatus,
    /** The queue number (`number` of POST /prompt). */
    priority: z.number(),
    /** ms since epoch, set by the server when the prompt was accepted. */
    create_time: z.number().optional(),
    execution_start_time: z.number().optional(),
    execution_end_time: z.number().optional(),
    workflow_id: z.string().optional(),
  })
  .loose();
export type JobsApiJob = z.infer<typeof JobsApiJob>;

/** `GET /api/jobs`. */
export const JobsApiList = z
  .object({
    jobs: z.array(JobsApiJob),
    pagination: z
      .object({ offset: z.number(), limit: z.number().nullable(), total: z.number(), has_more: z.boolean() })
      .loose(),
  })
  .loose();

/** A finished job's history status (`status_str`, `completed`, and the execution messages). */
const HistoryStatus = z
  .object({
    status_str: z.string(),
    completed: z.boolean(),
    messages: z.array(z.tuple([z.string(), z.record(z.string(), z.unknown())]).rest(z.unknown())).default([]),
  })
  .loose();

/** `GET /api/jobs/{id}`: the job plus the prompt it was queued with, and for finished jobs its outputs and history status. */
export const JobsApiDetail = JobsApiJob.extend({
  workflow: z
    .object({ prompt: z.record(z.string(), z.unknown()), extra_data: z.record(z.string(), z.unknown()) })
    .loose(),
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  execution_status: HistoryStatus.nullable().optional(),
}).loose();
export type JobsApiDetail = z.infer<typeof JobsApiDetail>;

/** `POST /api/jobs/{id}/cancel` and `POST /api/jobs/cancel`. */
export const JobsApiCancelled = z.object({ cancelled: z.boolean() }).loose();

/** Whether a jobs API status means the prompt has finished (its history is written). */
export function isFinishedJobStatus(status: JobsApiStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/**
 * A finished job's detail as the history entry `GET /history/{id}` would have given: the same
 * prompt tuple, outputs and status. Only `meta` (per-node display ids) is not in the jobs API.
 */
export function historyEntryFromJob(job: JobsApiDetail): HistoryEntry {
  return {
    prompt: [job.priority, job.id, job.workflow.prompt, job.workflow.extra_data, []],
    outputs: job.outputs ?? {},
    status: job.execution_status ?? null,
  };
}

/** A canonical lowercase hyphenated UUID, the only prompt id newer servers accept (`str(uuid.UUID(x)) == x`). */
export const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
