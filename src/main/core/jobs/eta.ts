/** Middle value of durations (ms), or undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Seconds left for a running job, or null when there is no honest estimate.
 *
 * Two sources: the observed rate (elapsed time over the fraction done — meaningful once a few
 * percent are done) and the median of past runs of the same workflow on the same server. Early in
 * a run the history knows better (model loading is not linear); as the run advances the observed
 * rate takes over.
 */
export function estimateEtaSeconds(input: {
  fraction: number;
  elapsedMs: number;
  pastDurationsMs: number[];
}): number | null {
  const { fraction, elapsedMs } = input;
  const fromRate = fraction >= 0.02 && elapsedMs > 0 ? (elapsedMs * (1 - fraction)) / fraction : undefined;
  const past = median(input.pastDurationsMs);
  const fromHistory = past !== undefined ? Math.max(0, past - elapsedMs) : undefined;
  let etaMs: number | undefined;
  if (fromRate !== undefined && fromHistory !== undefined) etaMs = fraction * fromRate + (1 - fraction) * fromHistory;
  else etaMs = fromRate ?? fromHistory;
  return etaMs === undefined ? null : Math.max(0, Math.round(etaMs / 1000));
}
