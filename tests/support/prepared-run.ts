import type { PreparedRun } from '../../src/main/core/generation/generation-service';

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
