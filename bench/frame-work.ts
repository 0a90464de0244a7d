import { writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';

// What "under 16 ms a frame" means: the work the page's main thread does per frame, not the gap
// between frames (which never falls below the display's 16.7 ms, however little the page does).
// Chromium's own trace has both pieces: every main-thread task with its duration (RunTask) and the
// start of every frame on the main thread (BeginMainThreadFrame). The work of a frame is the task
// time from one frame's start to the next: the frame's own script, style, layout and paint, plus
// every task that ran in between (socket messages, timers).

/** Trace categories for `measureFrameWork`: tasks and frames only, so tracing costs the page little. */
const CATEGORIES = ['disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame'];

/**
 * With FRAME_TRACE_FILE=path the whole trace is also written there (open it in Perfetto or
 * chrome://tracing), with these categories on top, or FRAME_TRACE_CATEGORIES (comma-separated): what
 * ran inside each task (script by function, style, layout, paint, GC) and where the browser posted
 * it from (toplevel). They cost the page more, so figures measured with them are not the bench's.
 */
const DETAIL_CATEGORIES = ['devtools.timeline', 'toplevel', 'v8.gc', 'disabled-by-default-v8.cpu_profiler'];

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  /** µs */
  ts: number;
  /** µs */
  dur?: number;
  /** The thread's CPU time, µs (less than `dur` when the thread waited for a core). */
  tdur?: number;
  args?: { name?: string };
}

/** Main-thread work per frame, ms, and the longest single task in the trace, ms. */
export interface FrameWork {
  /** Task time between one frame's start and the next, one value per frame (wall clock). ms */
  perFrame: number[];
  /**
   * The same tasks' CPU time per frame: what the page itself spent, without the time its thread
   * waited for a core on a busy machine. ms
   */
  cpuPerFrame: number[];
  /** The longest main-thread task. ms */
  longestTaskMs: number;
  /** Each frame's tasks, longest (wall clock) first, with the CPU time of each: ms. */
  tasksPerFrame: Array<Array<{ wallMs: number; cpuMs: number }>>;
}

/** Traces `page` while `during` runs and answers its main-thread work per frame. */
export async function measureFrameWork(browser: Browser, page: Page, during: () => Promise<void>): Promise<FrameWork> {
  const traceFile = process.env.FRAME_TRACE_FILE;
  const detail = process.env.FRAME_TRACE_CATEGORIES?.split(',') ?? DETAIL_CATEGORIES;
  await browser.startTracing(page, { categories: traceFile ? [...CATEGORIES, ...detail] : CATEGORIES });
  let buffer: Buffer;
  try {
    await during();
  } finally {
    // Tracing ends even when `during` threw.
    buffer = await browser.stopTracing();
  }
  if (traceFile) writeFileSync(traceFile, buffer);
  const parsed = JSON.parse(buffer.toString('utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  return frameWorkOf(Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []));
}

/** Splits the page's main-thread tasks into frames (see the note at the top). */
export function frameWorkOf(events: TraceEvent[]): FrameWork {
  // The page's main thread is the renderer main thread that began the most frames.
  const frameCounts = new Map<string, number>();
  for (const event of events)
    if (event.name === 'BeginMainThreadFrame') {
      const key = `${event.pid}:${event.tid}`;
      frameCounts.set(key, (frameCounts.get(key) ?? 0) + 1);
    }
  const main = [...frameCounts].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!main) return { perFrame: [], cpuPerFrame: [], longestTaskMs: Number.NaN, tasksPerFrame: [] };
  const onMain = (event: TraceEvent) => `${event.pid}:${event.tid}` === main;
  const starts = events
    .filter((event) => onMain(event) && event.name === 'BeginMainThreadFrame')
    .map((event) => event.ts)
    .sort((a, b) => a - b);
  const tasks = events
    .filter((event) => onMain(event) && event.name === 'RunTask' && event.ph === 'X' && event.dur !== undefined)
    .map((event) => ({ start: event.ts, end: event.ts + event.dur!, cpu: event.tdur ?? event.dur! }))
    .sort((a, b) => a.start - b.start);
  const perFrame: number[] = [];
  const cpuPerFrame: number[] = [];
  const tasksOf: Array<Array<{ wallMs: number; cpuMs: number }>> = [];
  let next = 0;
  // Frames between the first and the last start seen: each is complete.
  for (let index = 0; index + 1 < starts.length; index += 1) {
    const from = starts[index]!;
    const to = starts[index + 1]!;
    let busyUs = 0;
    let cpuUs = 0;
    const own: Array<{ wallMs: number; cpuMs: number }> = [];
    while (next < tasks.length && tasks[next]!.end <= from) next += 1;
    for (let task = next; task < tasks.length && tasks[task]!.start < to; task += 1) {
      const { start, end, cpu } = tasks[task]!;
      const overlap = Math.min(end, to) - Math.max(start, from);
      if (overlap <= 0) continue;
      busyUs += overlap;
      // A task across a frame's start counts in each frame by the share of it there.
      cpuUs += end > start ? (cpu * overlap) / (end - start) : 0;
      own.push({ wallMs: (end - start) / 1000, cpuMs: cpu / 1000 });
    }
    perFrame.push(busyUs / 1000);
    cpuPerFrame.push(cpuUs / 1000);
    tasksOf.push(own.sort((a, b) => b.wallMs - a.wallMs));
  }
  return {
    perFrame,
    cpuPerFrame,
    longestTaskMs: tasks.reduce((longest, task) => Math.max(longest, (task.end - task.start) / 1000), 0),
    tasksPerFrame: tasksOf,
  };
}
