import { isFinished, type Job } from '@shared/domain/job';
import type { Core } from '../core/create-core';
import type { Unsubscribe } from '../core/lib/emitter';

/**
 * Keeps a current list of jobs from the core's events for the tray and taskbar, coalescing bursts
 * (progress can arrive at 30 events a second; the tray needs a few). Finished jobs are passed on
 * once, so their end is seen, then dropped.
 */
export function feedJobs(
  core: Pick<Core, 'events' | 'jobs'>,
  onJobs: (jobs: Job[], paused: boolean) => void,
  options: { intervalMs?: number } = {},
): Unsubscribe {
  const intervalMs = options.intervalMs ?? 250;
  const jobs = new Map<string, Job>(core.jobs.snapshot().jobs.map((job) => [job.id, job]));
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;

  const flush = () => {
    timer = undefined;
    lastFlush = Date.now();
    onJobs([...jobs.values()], core.jobs.paused);
    for (const [id, job] of jobs) if (isFinished(job.status)) jobs.delete(id);
  };
  const schedule = (isUrgent = false) => {
    if (timer) return;
    // State changes go out at once; progress is coalesced.
    const wait = isUrgent ? 0 : Math.max(0, intervalMs - (Date.now() - lastFlush));
    timer = setTimeout(flush, wait);
    timer.unref?.();
  };

  const offs = [
    core.events.on('jobs.updated', (job) => {
      const before = jobs.get(job.id);
      jobs.set(
        job.id,
        job.progress === null && before?.progress && job.status === before.status
          ? { ...job, progress: before.progress }
          : job,
      );
      schedule(before?.status !== job.status);
    }),
    core.events.on('generation.progress', ({ jobId, progress }) => {
      const job = jobs.get(jobId);
      if (!job) return;
      jobs.set(jobId, { ...job, progress });
      schedule();
    }),
    core.events.on('jobs.removed', ({ jobId }) => {
      if (jobs.delete(jobId)) schedule(true);
    }),
    core.events.on('jobs.queue', () => schedule(true)),
  ];
  schedule(true);
  return () => {
    clearTimeout(timer);
    for (const off of offs) off();
  };
}
