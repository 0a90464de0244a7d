import { isFinished, type Job } from '@shared/domain/job';
import { describeProgress, formatEta } from '@shared/format';

/** What the tray, taskbar and dock show, derived from the job list. */
export interface DesktopStatus {
  state: 'idle' | 'running' | 'error';
  /** The job running now (ours first, else another client's). */
  current: Job | undefined;
  /** Jobs waiting: ComfyDesk's held jobs and those queued on servers. */
  queueCount: number;
  paused: boolean;
  /** The most recent failure, shown until a new job starts. */
  lastFailure: Job | undefined;
  /** Jobs running now on every server (ours, else all); with several, progress is their mean. */
  running?: Job[];
}

/** Overall progress: the mean percent of the jobs running now on every server (0–100). */
export function overallPercent(status: DesktopStatus): number {
  const running = status.running?.length ? status.running : status.current ? [status.current] : [];
  if (running.length === 0) return 0;
  return running.reduce((sum, job) => sum + (job.progress?.percent ?? 0), 0) / running.length;
}

/** One change worth a native notification. */
export interface FinishedJob {
  job: Job;
  outcome: 'succeeded' | 'failed';
}

/**
 * Derives the desktop status from successive job snapshots and reports which jobs finished since
 * the previous snapshot (each exactly once), so notifications never repeat.
 */
export class DesktopStatusTracker {
  readonly #lastStatus = new Map<string, Job['status']>();
  #lastFailure: Job | undefined;

  update(jobs: Job[], paused: boolean): { status: DesktopStatus; finished: FinishedJob[] } {
    const finished: FinishedJob[] = [];
    for (const job of jobs) {
      const before = this.#lastStatus.get(job.id);
      if (
        before !== undefined &&
        !isFinished(before) &&
        (job.status === 'succeeded' || job.status === 'failed') &&
        job.origin === 'comfydesk'
      ) {
        finished.push({ job, outcome: job.status });
      }
      this.#lastStatus.set(job.id, job.status);
    }
    const running = jobs.filter((job) => job.status === 'running');
    const current = running.find((job) => job.origin === 'comfydesk') ?? running[0];
    if (current) this.#lastFailure = undefined;
    for (const { job, outcome } of finished) if (outcome === 'failed') this.#lastFailure = job;
    const queueCount = jobs.filter((job) => job.status === 'held' || job.status === 'queued').length;
    const state = current ? 'running' : this.#lastFailure ? 'error' : 'idle';
    const ours = running.filter((job) => job.origin === 'comfydesk');
    const shown = ours.length > 0 ? ours : running;
    return {
      status: { state, current, queueCount, paused, lastFailure: this.#lastFailure, running: shown },
      finished,
    };
  }

  /** The user looked at the failure (opened the window): back to idle. */
  acknowledgeFailure(): void {
    this.#lastFailure = undefined;
  }
}

/** Frames of the running tray icon: 0 … RING_STEPS eighths of a turn. */
export const RING_STEPS = 8;

export function ringStep(percent: number): number {
  return Math.max(0, Math.min(RING_STEPS, Math.round((percent / 100) * RING_STEPS)));
}

/** The tray tooltip for a status. */
export function tooltipFor(status: DesktopStatus): string {
  const count = status.running?.length ?? 0;
  if (status.state === 'running' && count > 1) {
    const queued = status.queueCount > 0 ? ` · ${status.queueCount} waiting` : '';
    return `ComfyDesk — ${count} running on your servers, ${Math.floor(overallPercent(status))}% overall${queued}`;
  }
  if (status.state === 'running' && status.current) {
    const job = status.current;
    const percent = Math.floor(job.progress?.percent ?? 0);
    const eta = formatEta(job.progress?.etaSeconds);
    const queued = status.queueCount > 0 ? ` · ${status.queueCount} waiting` : '';
    return `ComfyDesk — ${job.workflowName} ${percent}% · ${describeProgress(job.progress)}${eta ? ` · ${eta}` : ''}${queued}`;
  }
  if (status.state === 'error' && status.lastFailure) {
    return `ComfyDesk — last job failed: ${status.lastFailure.error?.message ?? status.lastFailure.workflowName}`;
  }
  const waiting = status.queueCount > 0 ? `${status.queueCount} waiting${status.paused ? ' (paused)' : ''}` : 'idle';
  return `ComfyDesk — ${waiting}`;
}
