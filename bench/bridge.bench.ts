import { afterAll, beforeAll, test } from 'vitest';
import { silentLogger } from '../src/main/core/lib/logger';
import { ServeServer } from '../src/main/serve/serve-server';
import { ApiClient } from '../src/renderer/src/api/client';
import { createWsTransport } from '../src/renderer/src/api/ws-transport';
import { startTestCore, tempDir, waitFor } from '../tests/support/core';
import { ms, percentile, printTable } from './table';

let stop: () => Promise<void> = async () => undefined;
let api: ApiClient;

beforeAll(async () => {
  const started = await startTestCore();
  const web = tempDir();
  const server = new ServeServer({ core: started.core, rendererDir: web.path, port: 0, log: silentLogger });
  await server.start();
  api = new ApiClient(createWsTransport({ url: `ws://127.0.0.1:${server.port}/ws?token=${server.token}` }));
  await waitFor(() => api.linkState === 'open');
  stop = async () => {
    api.close();
    await server.stop();
    await started.stop();
    web.remove();
  };
});

afterAll(() => stop());

test('bridge round trip over serve mode', async () => {
  for (let i = 0; i < 200; i += 1) await api.call('app.info', {});
  const samples: number[] = [];
  for (let i = 0; i < 2000; i += 1) {
    const start = performance.now();
    await api.call('settings.get', {});
    samples.push(performance.now() - start);
  }
  printTable('Bridge: one command round trip over the serve-mode WebSocket (2000 calls)', [
    { metric: 'p50', value: ms(percentile(samples, 50)) },
    { metric: 'p95', value: ms(percentile(samples, 95)) },
    { metric: 'p99', value: ms(percentile(samples, 99)) },
  ]);
});
