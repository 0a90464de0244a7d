import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { JobProgress } from '@shared/domain/job';
import { HistoryStore } from '../../../../../src/main/core/jobs/history-store';
import { JobBook, type JobServiceEvents } from '../../../../../src/main/core/jobs/job-book';
import { entryFromRun } from '../../../../../src/main/core/jobs/job-entry';
import { ProgressTracker } from '../../../../../src/main/core/jobs/progress-tracker';
import { Emitter } from '../../../../../src/main/core/lib/emitter';
import { silentLogger } from '../../../../../src/main/core/lib/logger';
import { tempDir } from '../../../../support/core';
import { preparedRun } from '../../../../support/prepared-run';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('JobBook', () => {
  test('progress that says nothing new is not sent again: each sampler step is told once', async () => {
    const dir = tempDir('comfydesk-book-');
    cleanups.push(() => dir.remove());
    const history = new HistoryStore({ file: join(dir.path, 'history.db'), log: silentLogger });
    await history.start();
    cleanups.push(() => history.stop());
    const emitter = new Emitter<JobServiceEvents>();
    const sent: JobProgress[] = [];
    emitter.on('progress', (event) => sent.push(event.progress));
    const book = new JobBook({
      history,
      emitter,
      log: silentLogger,
      now: () => 1000,
      onCountsChanged: () => undefined,
    });
    const prompt = {
      '1': { class_type: 'KSampler', inputs: { steps: 10 } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0] } },
    };
    const entry = entryFromRun(preparedRun({ workflowName: 'Steps', prompt }), {
      id: 'job',
      now: 1000,
      position: 0,
      batch: null,
    });
    book.add(entry);
    entry.job = { ...entry.job, promptId: 'p-1', status: 'running' };
    entry.tracker = new ProgressTracker({ prompt, isOutputNode: (type) => type === 'SaveImage', now: () => 1000 });
    for (let step = 1; step <= 3; step += 1) {
      // ComfyUI tells each step twice: progress_state, then progress.
      entry.tracker.nodeStates({ '1': { state: 'running' } });
      entry.tracker.progress('1', step, 10);
      book.emitProgress(entry);
      entry.tracker.progress('1', step, 10);
      book.emitProgress(entry);
    }
    expect(sent.map((progress) => progress.step)).toEqual([1, 2, 3]);
    expect(entry.job.progress?.step).toBe(3);
  });
});
