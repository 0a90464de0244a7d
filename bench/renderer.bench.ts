import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, test } from 'vitest';
import { CHROMIUM_ARGS, findChromium } from '../scripts/lib/chromium.mjs';
import { silentLogger } from '../src/main/core/lib/logger';
import { ServeServer } from '../src/main/serve/serve-server';
import buildOnce from '../tests/support/build-once';
import { startComfyServer, type ComfyTestServer } from '../tests/support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../tests/support/core';
import { ms, percentile, printTable } from './table';

// The renderer under load, in a real Chromium against a real serve-mode core and the ComfyUI
// protocol test server: 100 jobs queued, the running one reporting progress at ~30 events a
// second, the Queue view on screen. The page measures itself: the gap between animation frames
// and the long tasks (over 50 ms) that PerformanceObserver reports.

const STEP_MS = 33;
const STEPS = 2000;
const JOBS = 100;
const MEASURE_MS = 10_000;
const ROOT = resolve(import.meta.dirname, '..');

let comfy: ComfyTestServer;
let browser: Browser;
let url = '';
let stop: () => Promise<void> = async () => undefined;

/** Runs in the page before its scripts: records frame gaps and long tasks from the moment `__startMeasuring()` is called. */
const MEASURE = `
  const state = { frames: [], longTasks: [], measuring: false, last: 0 };
  window.__perf = state;
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

beforeAll(async () => {
  buildOnce();
  const found = (await findChromium()) as { executablePath?: string } | undefined;
  if (!found)
    throw new Error('No Chromium for the renderer bench: install one (apt-get install chromium) or set CHROMIUM_PATH.');
  comfy = await startComfyServer({ stepMs: STEP_MS });
  const data = tempDir('comfydesk-bench-renderer-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(
    join(data.path, 'workflows', 'Long run.json'),
    JSON.stringify({
      '1': {
        class_type: 'EmptyImage',
        inputs: { width: 64, height: 64, batch_size: 1, color: 1 },
        _meta: { title: 'Canvas' },
      },
      '2': {
        class_type: 'PeerSlowSteps',
        inputs: { image: ['1', 0], steps: STEPS, step_ms: STEP_MS, preview: true },
        _meta: { title: 'Sampler' },
      },
      '3': {
        class_type: 'SaveImage',
        inputs: { images: ['2', 0], filename_prefix: 'bench' },
        _meta: { title: 'Save' },
      },
    }),
  );
  const started = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: [{ id: 'bench', kind: 'url', name: 'Bench', url: comfy.url }],
        activeId: 'bench',
        alsoOnline: [],
      },
    },
    core: { connections: { healthIntervalMs: 1000, checkTimeoutMs: 2000 } },
  });
  const server = new ServeServer({
    core: started.core,
    rendererDir: join(ROOT, 'out', 'renderer'),
    mediaDir: () => started.core.outputsDir(),
    port: 0,
    log: silentLogger,
  });
  await server.start();
  await waitFor(
    () => started.core.connections.client('bench')?.isSocketOpen && started.core.library.records().length > 0,
    { timeoutMs: 10_000 },
  );
  const workflowId = started.core.library.records()[0]!.id;
  url = `http://127.0.0.1:${server.port}/?token=${server.token}#/generate?workflow=${encodeURIComponent(workflowId)}`;
  browser = await chromium.launch({
    headless: true,
    args: CHROMIUM_ARGS,
    ...(found.executablePath ? { executablePath: found.executablePath } : {}),
  });
  stop = async () => {
    await browser.close();
    // Nothing of the 100 jobs may keep the server busy after the bench.
    await started.core.router.call('jobs.setPaused', { paused: true });
    for (const job of started.core.jobs.snapshot().jobs)
      await started.core.router.call('jobs.cancel', { jobId: job.id }).catch(() => undefined);
    await server.stop();
    await started.stop();
    await comfy.stop();
    data.remove();
  };
});

afterAll(() => stop());

test('the renderer stays responsive with 100 queued jobs and progress at 30 events a second', async () => {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  await page.addInitScript({ content: MEASURE });
  await page.goto(url);
  const runs = page.getByRole('spinbutton', { name: 'Runs' });
  await runs.waitFor();
  await page.getByRole('button', { name: 'Generate', exact: true }).waitFor();
  await waitFor(async () => page.getByRole('button', { name: 'Generate', exact: true }).isEnabled(), {
    timeoutMs: 10_000,
    message: 'Generate did not come on',
  });
  await runs.fill(String(JOBS));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('tab', { name: /Queue/ }).click();
  await waitFor(
    // The list renders only the rows in view; each says the size of the whole queue.
    async () =>
      (await page
        .getByRole('list', { name: 'Queued jobs' })
        .getByRole('listitem')
        .first()
        .getAttribute('aria-setsize')) === String(JOBS),
    { timeoutMs: 15_000, message: `${JOBS} jobs did not appear` },
  );
  const row = page.getByRole('list', { name: 'Queued jobs' }).getByRole('listitem').first();
  await waitFor(async () => /step \d+\//.test((await row.textContent()) ?? ''), {
    timeoutMs: 15_000,
    message: 'the first job did not start',
  });

  const stepOf = async () => Number(/step (\d+)\//.exec((await row.textContent()) ?? '')?.[1] ?? 0);
  const firstStep = await stepOf();
  const startedAt = Date.now();
  await page.evaluate(() => (globalThis as unknown as { __startMeasuring: () => void }).__startMeasuring());
  await page.waitForTimeout(MEASURE_MS);
  const { frames, longTasks } = await page.evaluate(() =>
    (globalThis as unknown as { __stopMeasuring: () => { frames: number[]; longTasks: number[] } }).__stopMeasuring(),
  );
  const eventsPerSecond = ((await stepOf()) - firstStep) / ((Date.now() - startedAt) / 1000);
  const rowsShown = Number(await row.getAttribute('aria-setsize'));
  await page.close();

  const longestFrame = Math.max(...frames);
  printTable(
    `Renderer: ${rowsShown} jobs in the Queue view, progress at ${eventsPerSecond.toFixed(1)} events/s, measured ${MEASURE_MS / 1000} s in Chromium`,
    [
      { metric: 'frames', value: String(frames.length) },
      { metric: 'frame gap p50', value: ms(percentile(frames, 50)) },
      { metric: 'frame gap p95', value: ms(percentile(frames, 95)) },
      { metric: 'longest frame', value: ms(longestFrame), target: '≤ 50 ms', met: longestFrame <= 50 },
      { metric: 'long tasks (> 50 ms)', value: String(longTasks.length), target: '0', met: longTasks.length === 0 },
      { metric: 'longest task', value: longTasks.length > 0 ? ms(Math.max(...longTasks)) : '—' },
    ],
  );
});
