import type { Job, JobProgress } from '../../src/shared/domain/job';

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
