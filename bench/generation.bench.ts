import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { silentLogger } from '../src/main/core/lib/logger';
import { ServeServer } from '../src/main/serve/serve-server';
import { ApiClient } from '../src/renderer/src/api/client';
import { createWsTransport } from '../src/renderer/src/api/ws-transport';
import { startComfyServer, type ComfyTestServer } from '../tests/support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../tests/support/core';
import { ms, percentile, printTable } from './table';

const STEPS = 300;
const sentAt = new Map<string, number>();
let comfy: ComfyTestServer;
let api: ApiClient;
let stop: () => Promise<void> = async () => undefined;
let workflowId = '';

beforeAll(async () => {
  comfy = await startComfyServer({
    stepMs: 33, // ~30 progress events a second, like a fast sampler
    onJsonSent: (type, data) => {
      if (type === 'progress')
        sentAt.set(
          `${(data as { prompt_id: string }).prompt_id}:${(data as { value: number }).value}`,
          performance.now(),
        );
    },
  });
  const data = tempDir('comfydesk-bench-gen-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(
    join(data.path, 'workflows', 'peer.json'),
    JSON.stringify({
      '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 1 } },
      '2': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: STEPS, step_ms: 33, preview: false } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'bench' } },
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
  const web = tempDir();
  const server = new ServeServer({ core: started.core, rendererDir: web.path, port: 0, log: silentLogger });
  await server.start();
  api = new ApiClient(createWsTransport({ url: `ws://127.0.0.1:${server.port}/ws?token=${server.token}` }));
  await waitFor(
    () =>
      api.linkState === 'open' &&
      started.core.connections.client('bench')?.isSocketOpen &&
      started.core.library.records().length > 0,
    { timeoutMs: 10_000 },
  );
  workflowId = started.core.library.records()[0]!.id;
  stop = async () => {
    api.close();
    await server.stop();
    await started.stop();
    await comfy.stop();
    web.remove();
    data.remove();
  };
});

afterAll(() => stop());

test('ComfyUI progress message → generation.progress in a serve-mode client', async () => {
  const latencies: number[] = [];
  let promptId = '';
  const done = new Promise<void>((resolve) => {
    api.on('generation.progress', ({ promptId: id, progress }) => {
      promptId = id;
      if (progress.step === null || progress.nodeId !== '2') return;
      const sent = sentAt.get(`${id}:${progress.step}`);
      if (sent !== undefined) latencies.push(performance.now() - sent);
    });
    api.on('jobs.updated', (job) => {
      if (job.status === 'succeeded') resolve();
    });
  });
  await api.call('jobs.enqueue', { workflowId });
  await done;
  printTable(
    `Generation: ComfyUI WebSocket progress message → client event over serve mode (${latencies.length} messages at ~30/s, prompt ${promptId.slice(0, 8)})`,
    [
      { metric: 'p50', value: ms(percentile(latencies, 50)) },
      { metric: 'p95', value: ms(percentile(latencies, 95)), target: '≤ 20 ms', met: percentile(latencies, 95) <= 20 },
      { metric: 'max', value: ms(Math.max(...latencies)) },
    ],
  );
});
