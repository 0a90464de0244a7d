import type { PastRun } from './history-store';

/** Middle value of durations (ms), or undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * How long a run should take (ms), from past runs of the same workflow on the same server: their
 * median, each past run scaled by the steps chosen now over the steps it took (30 steps after runs
 * of 20 take about 1.5 times as long). Runs recorded without their steps are used unscaled, and only
 * when no run with known steps exists. Undefined without past runs.
 */
export function expectedDurationMs(pastRuns: readonly PastRun[], samplingSteps: number | null): number | undefined {
  const withSteps = pastRuns.filter((run) => run.samplingSteps !== null && run.samplingSteps > 0);
  if (samplingSteps !== null && samplingSteps > 0 && withSteps.length > 0)
    return median(withSteps.map((run) => (run.durationMs * samplingSteps) / run.samplingSteps!));
  return median(pastRuns.map((run) => run.durationMs));
}

/**
 * Seconds left for a running job, or null when there is no honest estimate.
 *
 * Two sources: the observed rate (elapsed time over the fraction done — meaningful once a few
 * percent are done) and how long past runs took (`expectedMs`, see {@link expectedDurationMs}).
 * Early in a run the history knows better (model loading is not linear); as the run advances the
 * observed rate takes over.
 */
export function estimateEtaSeconds(input: { fraction: number; elapsedMs: number; expectedMs?: number }): number | null {
  const { fraction, elapsedMs } = input;
  const fromRate = fraction >= 0.02 && elapsedMs > 0 ? (elapsedMs * (1 - fraction)) / fraction : undefined;
  const fromHistory = input.expectedMs !== undefined ? Math.max(0, input.expectedMs - elapsedMs) : undefined;
  let etaMs: number | undefined;
  if (fromRate !== undefined && fromHistory !== undefined) etaMs = fraction * fromRate + (1 - fraction) * fromHistory;
  else etaMs = fromRate ?? fromHistory;
  return etaMs === undefined ? null : Math.max(0, Math.round(etaMs / 1000));
}
