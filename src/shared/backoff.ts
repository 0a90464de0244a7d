/** Reconnect timing: exponential backoff with jitter, so many clients do not retry a restarting server in step. */
export interface BackoffOptions {
  /** First delay. @default 500 */
  initialDelayMs?: number;
  /** Longest delay. @default 15000 */
  maxDelayMs?: number;
  /** @default Math.random */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0-based): a random point in the upper half of
 * `min(max, initial × 2^attempt)` — never zero, never above the ceiling.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 15_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (options.random ?? Math.random)() * (ceiling / 2));
}
