import { describe, expect, test, vi } from 'vitest';
import type { EventMap } from '@shared/contract/events';
import type { Job } from '@shared/domain/job';
import { job as makeJob } from '../../../support/jobs';
import { Emitter } from '../../../../src/main/core/lib/emitter';
import { feedJobs } from '../../../../src/main/electron/job-feed';

function job(status: Job['status'], overrides: Partial<Job> = {}): Job {
  return makeJob('j', { status, promptId: 'p', ...overrides });
}

describe("the tray's job feed", () => {
  test('state changes go out at once, progress bursts are coalesced, and a finished job is passed on exactly once', async () => {
    vi.useFakeTimers();
    try {
      const events = new Emitter<EventMap>();
      const seen: Array<Array<[string, string, number | undefined]>> = [];
      const off = feedJobs(
        { events, jobs: { snapshot: () => ({ jobs: [], paused: false }), paused: false } as never },
        (jobs) => seen.push(jobs.map((item) => [item.id, item.status, item.progress?.percent])),
        { intervalMs: 250 },
      );
      await vi.advanceTimersByTimeAsync(0);
      seen.length = 0;
      events.emit('jobs.updated', job('running'));
      await vi.advanceTimersByTimeAsync(0);
      expect(seen).toEqual([[['j', 'running', undefined]]]);
      for (let percent = 1; percent <= 30; percent += 1)
        events.emit('generation.progress', {
          jobId: 'j',
          promptId: 'p',
          progress: { percent, nodeId: '3', nodeTitle: 'KSampler', step: percent, steps: 30, etaSeconds: 5 },
        });
      await vi.advanceTimersByTimeAsync(300);
      expect(seen).toHaveLength(2);
      expect(seen[1]).toEqual([['j', 'running', 30]]);
      events.emit('jobs.updated', job('succeeded'));
      await vi.advanceTimersByTimeAsync(0);
      events.emit('jobs.queue', { running: 0, pending: 0, paused: false });
      await vi.advanceTimersByTimeAsync(0);
      expect(seen.slice(2)).toEqual([[['j', 'succeeded', undefined]], []]);
      off();
    } finally {
      vi.useRealTimers();
    }
  });
});
