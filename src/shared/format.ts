import type { JobProgress } from './domain/job';

/** "~12 s left", "~3 min 5 s left", "~1 h 4 min left"; undefined without an estimate. */
export function formatEta(seconds: number | null | undefined): string | undefined {
  if (seconds === null || seconds === undefined) return undefined;
  if (seconds < 60) return `~${Math.max(1, Math.round(seconds))} s left`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `~${minutes} min ${Math.round(seconds % 60)} s left`;
  return `~${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** "KSampler (step 15/30)", just the node's title, or "Starting…" before the first node. */
export function describeProgress(progress: JobProgress | null | undefined): string {
  if (!progress?.nodeTitle) return 'Starting…';
  return progress.step !== null && progress.steps !== null
    ? `${progress.nodeTitle} (step ${progress.step}/${progress.steps})`
    : progress.nodeTitle;
}

/** A duration in ms as "850 ms", "12.4 s", "3 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** Bytes as "512 B", "1.5 MB", "2.3 GB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
