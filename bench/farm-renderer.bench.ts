import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, test } from 'vitest';
import { CHROMIUM_ARGS, findChromium } from '../scripts/lib/chromium.mjs';
import type { Core } from '../src/main/core/create-core';
import { silentLogger } from '../src/main/core/lib/logger';
import { ServeServer } from '../src/main/serve/serve-server';
import buildOnce from '../tests/support/build-once';
import { startComfyServer, type ComfyTestServer } from '../tests/support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../tests/support/core';
import { measureFrameWork } from './frame-work';
import { ms, percentile, printTable } from './table';

// The renderer's Queue view with the farm under load, in a real Chromium against a real serve-mode
// core: 16 ComfyUI protocol test servers used for generation, 2,000 jobs queued, one running on
// each server and reporting progress at ~30 events a second each. The target is the work per frame:
// the page's main-thread tasks per frame from Chromium's trace (frame-work.ts), as CPU time (what the
// page spent) and as wall-clock time (which also holds the time its thread waited for a core: on a
// small machine the 16 servers and the core share the CPU with Chromium, and the load average is
// printed with the figures). The gap between animation frames and the long tasks are measured in the
// page too, as information: a gap is never below the display's 16.7 ms, so it cannot show whether a
// frame's work fits in 16 ms.

const SERVERS = 16;
const JOBS = 2000;
const STEP_MS = 33;
const MEASURE_MS = 10_000;
const ROOT = resolve(import.meta.dirname, '..');

const MEASURE = `
  const state = { frames: [], longTasks: [], measuring: false, last: 0 };
  window.__startMeasuring = () => { state.frames = []; state.longTasks = []; state.measuring = true; state.last = performance.now(); };
  window.__stopMeasuring = () => { state.measuring = false; return { frames: state.frames, longTasks: state.longTasks }; };
  const tick = (now) => {
    if (state.measuring) state.frames.push(now - state.last);
    state.last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    if (state.measuring) for (const entry of list.getEntries()) state.longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
`;

/** The target: the page's main-thread work per frame. ms */
const FRAME_MS = 16;

/** A frame's longest tasks as "wall (CPU)", to tell one long task from many small ones, and work from waiting. */
const tasksOf = (tasks: Array<{ wallMs: number; cpuMs: number }> = []) =>
  `${tasks.length} tasks, longest ${tasks
    .slice(0, 3)
    .map((task) => `${ms(task.wallMs)} (${ms(task.cpuMs)} CPU)`)
    .join(', ')}`;

/** The 1-minute load average, so a figure measured on a busy machine says so. */
const loadAverage = () => loadavg()[0]!.toFixed(2);

let servers: ComfyTestServer[] = [];
let core: Core;
let browser: Browser;
let url = '';
let stop: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  buildOnce();
  const found = (await findChromium()) as { executablePath?: string } | undefined;
  if (!found)
    throw new Error('No Chromium for the renderer bench: install one (apt-get install chromium) or set CHROMIUM_PATH.');
  servers = await Promise.all(Array.from({ length: SERVERS }, () => startComfyServer({ stepMs: STEP_MS })));
  const data = tempDir('comfydesk-bench-farm-renderer-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(
    join(data.path, 'workflows', 'Long run.json'),
    JSON.stringify({
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 1 } },
      '2': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: 2000, step_ms: STEP_MS, preview: false } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'bench' } },
    }),
  );
  const ids = servers.map((_, index) => `s${index}`);
  const started = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: servers.map((server, index) => ({
          id: ids[index],
          kind: 'url',
          name: `Server ${index}`,
          url: server.url,
        })),
        activeId: ids[0],
        alsoOnline: [],
        generation: ids.slice(1),
      },
    },
    core: { connections: { healthIntervalMs: 2000, checkTimeoutMs: 4000 } },
  });
  core = started.core;
  const server = new ServeServer({
    core,
    rendererDir: join(ROOT, 'out', 'renderer'),
    mediaDir: () => core.outputsDir(),
    port: 0,
    log: silentLogger,
  });
  await server.start();
  await waitFor(() => ids.every((id) => core.connections.inventory(id)) && core.library.records().length > 0, {
    timeoutMs: 30_000,
  });
  url = `http://127.0.0.1:${server.port}/?token=${server.token}#/generate`;
  browser = await chromium.launch({
    headless: true,
    args: CHROMIUM_ARGS,
    ...(found.executablePath ? { executablePath: found.executablePath } : {}),
  });
  stop = async () => {
    await browser.close();
    await core.router.call('jobs.setPaused', { paused: true });
    for (const job of core.jobs.snapshot().jobs)
      await core.router.call('jobs.cancel', { jobId: job.id }).catch(() => undefined);
    await server.stop();
    await started.stop();
    await Promise.all(servers.map((item) => item.stop()));
    data.remove();
  };
}, 60_000);

afterAll(() => stop(), 120_000);

test('the Queue view with 2,000 jobs over 16 servers stays under a frame', async () => {
  const workflowId = core.library.records()[0]!.id;
  for (let batch = 0; batch < JOBS / 100; batch += 1)
    await core.router.call('jobs.enqueue', { workflowId, count: 100 });
  await waitFor(() => core.jobs.snapshot().jobs.filter((job) => job.status === 'running').length === SERVERS, {
    timeoutMs: 30_000,
    message: 'not every server started a job',
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  await page.addInitScript({ content: MEASURE });
  await page.goto(url);
  await page.getByRole('tab', { name: /Queue/ }).click();
  await waitFor(
    // The list renders only the rows in view; each says the size of the whole queue.
    async () =>
      (await page
        .getByRole('list', { name: 'Queued jobs' })
        .getByRole('listitem')
        .first()
        .getAttribute('aria-setsize')) === String(JOBS),
    { timeoutMs: 60_000, message: `${JOBS} jobs did not appear` },
  );
  let events = 0;
  let counting = false;
  const off = core.events.on('generation.progress', () => {
    if (counting) events += 1;
  });
  let frames: number[] = [];
  let longTasks: number[] = [];
  const loadBefore = loadAverage();
  const work = await measureFrameWork(browser, page, async () => {
    await page.evaluate(() => (globalThis as unknown as { __startMeasuring: () => void }).__startMeasuring());
    counting = true;
    await page.waitForTimeout(MEASURE_MS);
    counting = false;
    ({ frames, longTasks } = await page.evaluate(() =>
      (globalThis as unknown as { __stopMeasuring: () => { frames: number[]; longTasks: number[] } }).__stopMeasuring(),
    ));
  });
  off();
  await page.close();
  const cpuP95 = percentile(work.cpuPerFrame, 95);
  const cpuMax = Math.max(...work.cpuPerFrame);
  const wallP95 = percentile(work.perFrame, 95);
  const wallMax = Math.max(...work.perFrame);
  const cpuWorst = work.cpuPerFrame.indexOf(cpuMax);
  const wallWorst = work.perFrame.indexOf(wallMax);
  const over = (values: number[]) => values.filter((value) => value > FRAME_MS).length;
  printTable(
    `Renderer: ${JOBS} jobs over ${SERVERS} servers in the Queue view, progress at ${(events / (MEASURE_MS / 1000)).toFixed(0)} events/s, ${MEASURE_MS / 1000} s in Chromium (load ${loadBefore} before, ${loadAverage()} after)`,
    [
      { metric: 'frames traced', value: String(work.perFrame.length) },
      { metric: 'work per frame, CPU, p50', value: ms(percentile(work.cpuPerFrame, 50)) },
      { metric: 'work per frame, CPU, p95', value: ms(cpuP95), target: '≤ 16 ms', met: cpuP95 <= FRAME_MS },
      { metric: 'work per frame, CPU, max', value: ms(cpuMax), target: '≤ 16 ms', met: cpuMax <= FRAME_MS },
      { metric: 'work per frame, wall clock, p50', value: ms(percentile(work.perFrame, 50)) },
      { metric: 'work per frame, wall clock, p95', value: ms(wallP95), target: '≤ 16 ms', met: wallP95 <= FRAME_MS },
      { metric: 'work per frame, wall clock, max', value: ms(wallMax), target: '≤ 16 ms', met: wallMax <= FRAME_MS },
      {
        metric: 'frames over 16 ms, CPU / wall clock',
        value: `${over(work.cpuPerFrame)} / ${over(work.perFrame)} of ${work.perFrame.length}`,
      },
      {
        metric: 'worst frame by CPU: wall clock, longest tasks',
        value: `${ms(work.perFrame[cpuWorst]!)}; ${tasksOf(work.tasksPerFrame[cpuWorst])}`,
      },
      {
        metric: 'worst frame by wall clock: CPU, longest tasks',
        value: `${ms(work.cpuPerFrame[wallWorst]!)}; ${tasksOf(work.tasksPerFrame[wallWorst])}`,
      },
      { metric: 'longest task (trace)', value: ms(work.longestTaskMs) },
      { metric: 'frame gap p50 (information)', value: ms(percentile(frames, 50)) },
      { metric: 'frame gap p95 (information)', value: ms(percentile(frames, 95)) },
      { metric: 'longest frame gap (information)', value: ms(Math.max(...frames)) },
      { metric: 'long tasks (> 50 ms)', value: String(longTasks.length) },
      { metric: 'longest long task', value: longTasks.length > 0 ? ms(Math.max(...longTasks)) : '—' },
    ],
  );
}, 300_000);
