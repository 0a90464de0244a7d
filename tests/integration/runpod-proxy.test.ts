import { afterEach, describe, expect, test } from 'vitest';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import type { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { startComfyServer } from '../support/comfy-server';
import { waitFor } from '../support/core';
import { startCutoffProxy } from '../support/cutoff-proxy';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(cutoffMs: number) {
  const comfy = await startComfyServer();
  cleanup.push(() => comfy.stop());
  const proxy = await startCutoffProxy({ upstream: comfy.url, cutoffMs });
  cleanup.push(() => proxy.stop());
  const client = (options: Partial<ConstructorParameters<typeof ComfyClient>[0]> = {}) => {
    const made = new ComfyClient({
      baseUrl: proxy.url,
      log: silentLogger,
      socket: { backoff: { initialDelayMs: 20, maxDelayMs: 100 } },
      ...options,
    });
    cleanup.push(() => made.close());
    return made;
  };
  return { comfy, proxy, client };
}

describe('through a proxy with a cut-off like RunPod’s', () => {
  test('a request stops waiting before the proxy would cut it, and says why', async () => {
    const { comfy, client } = await setup(5000);
    comfy.setResponseDelay(10_000);
    const error = (await client({ responseDeadlineMs: 300 })
      .systemStats()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('comfy_timeout');
    expect(error.userMessage).toMatch(
      /did not start answering \/system_stats .*proxy in front of it cuts requests after 100 s/,
    );
  });

  test("the proxy's own cut-off (HTTP 524) is reported as such, not as a broken server", async () => {
    const { proxy, client } = await setup(5000);
    proxy.answerWith(524);
    const error = (await client()
      .getQueue()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('comfy_timeout');
    expect(error.userMessage).toMatch(/HTTP 524: no answer within 100 s/);
  });

  test('the event socket stays open through idle periods longer than the cut-off, because it pings', async () => {
    const { proxy, client } = await setup(300);
    const comfy = client({ socket: { pingIntervalMs: 60, backoff: { initialDelayMs: 20, maxDelayMs: 100 } } });
    const closed: unknown[] = [];
    comfy.on('closed', (event) => closed.push(event));
    comfy.connect();
    await waitFor(() => comfy.isSocketOpen);
    // Twenty pings span four cut-off periods with no message from ComfyUI in between.
    await waitFor(() => proxy.frames.pings >= 20, { timeoutMs: 10_000 });
    expect(proxy.idleClosures).toBe(0);
    expect(closed).toEqual([]);
  });

  test('without pings the same proxy closes the idle socket (the check above can fail)', async () => {
    const { proxy, client } = await setup(300);
    const comfy = client({ socket: { pingIntervalMs: 60_000, backoff: { initialDelayMs: 20, maxDelayMs: 100 } } });
    const closed: unknown[] = [];
    comfy.on('closed', (event) => closed.push(event));
    comfy.connect();
    await waitFor(() => closed.length > 0, { timeoutMs: 10_000 });
    expect(proxy.idleClosures).toBeGreaterThan(0);
  });
});
