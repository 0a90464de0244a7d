import type { FlushScheduler } from '../../../../src/renderer/src/state/jobs.svelte';

/** Animation frames a test drives by hand: `frame()` runs what was scheduled, `requests` counts the asks. */
export function manualFrames() {
  let pending: Array<() => void> = [];
  let requests = 0;
  const schedule: FlushScheduler = (flush) => {
    requests += 1;
    pending.push(flush);
    return () => {
      pending = pending.filter((item) => item !== flush);
    };
  };
  return {
    schedule,
    frame(): void {
      const due = pending;
      pending = [];
      for (const flush of due) flush();
    },
    get waiting(): number {
      return pending.length;
    },
    get requests(): number {
      return requests;
    },
  };
}
