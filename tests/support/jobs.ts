import type { PreparedRun } from '../../src/main/core/generation/generation-service';
import type { Job, JobProgress } from '../../src/shared/domain/job';

/** A converted run as `jobs.enqueue` hands it to JobService: one SaveImage unless told otherwise. */
export function preparedRun(overrides: Partial<PreparedRun> = {}): PreparedRun {
  return {
    workflowId: 'wf-1',
    workflowName: 'Poster',
    serverId: 'local',
    prompt: { '1': { class_type: 'SaveImage', inputs: { filename_prefix: 'poster' } } },
    sourceWorkflow: null,
    values: {},
    promptText: '',
    titles: {},
    uploads: [],
    outputClassTypes: new Set(['SaveImage']),
    ...overrides,
  };
}

/** A job as the core sends it; held and ours unless told otherwise. */
export function job(id: string, overrides: Partial<Job> = {}): Job {
  return {
    id,
    promptId: `p-${id}`,
    origin: 'comfydesk',
    serverId: 'local',
    workflowId: 'wf-t2i',
    workflowName: 'Text to image',
    status: 'held',
    parameters: { prompt: 'a red fox in the snow', seed: 42 },
    promptText: 'a red fox in the snow',
    createdAt: 1_700_000_000_000,
    queuedAt: null,
    startedAt: null,
    finishedAt: null,
    progress: null,
    error: null,
    outputs: [],
    position: 0,
    batch: null,
    ...overrides,
  };
}

/** Progress as `generation.progress` carries it. */
export function progress(percent: number, overrides: Partial<JobProgress> = {}): JobProgress {
  return { percent, nodeId: '3', nodeTitle: 'KSampler', step: 15, steps: 30, etaSeconds: 12, ...overrides };
}
