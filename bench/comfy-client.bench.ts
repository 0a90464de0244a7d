import { afterAll, beforeAll, test } from 'vitest';
import { ComfyClient } from '../src/main/core/comfy/comfy-client';
import type { ComfyEvent } from '../src/main/core/comfy/messages';
import { silentLogger } from '../src/main/core/lib/logger';
import { startComfyServer, type ComfyTestServer } from '../tests/support/comfy-server';
import { waitFor } from '../tests/support/core';
import { ms, percentile, printTable } from './table';

let server: ComfyTestServer;
let client: ComfyClient;
const events: ComfyEvent[] = [];

beforeAll(async () => {
  server = await startComfyServer();
  client = new ComfyClient({ baseUrl: server.url, log: silentLogger });
  client.on('event', (event) => events.push(event));
  client.connect();
  await waitFor(() => client.isSocketOpen);
});

afterAll(async () => {
  client.close();
  await server.stop();
});

test('ComfyUI client: request latency and prompt turnaround against the protocol server', async () => {
  const stats: number[] = [];
  for (let i = 0; i < 300; i += 1) {
    const start = performance.now();
    await client.systemStats();
    stats.push(performance.now() - start);
  }
  // The trivial prompt of transcript P (a real 0.3.64 took a median 6.7 ms from POST to `executing null`).
  const turnaround: number[] = [];
  for (let i = 0; i < 100; i += 1) {
    const start = performance.now();
    const { promptId } = await client.queuePrompt({
      prompt: {
        1: { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: i } },
        2: { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
        3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'bench' } },
      },
    });
    await waitFor(
      () =>
        events.some(
          (event) => event.type === 'executing' && event.data.node === null && event.data.prompt_id === promptId,
        ),
      { intervalMs: 1 },
    );
    turnaround.push(performance.now() - start);
  }
  printTable('ComfyUI client against the protocol test server', [
    { metric: 'GET /system_stats p50', value: ms(percentile(stats, 50)) },
    { metric: 'GET /system_stats p95', value: ms(percentile(stats, 95)) },
    {
      metric: 'POST /prompt → executing null p50',
      value: ms(percentile(turnaround, 50)),
      target: '≤ 20 ms (real 0.3.64: 6.7 ms)',
      met: percentile(turnaround, 50) <= 20,
    },
    { metric: 'POST /prompt → executing null p95', value: ms(percentile(turnaround, 95)) },
  ]);
});
