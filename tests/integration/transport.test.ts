import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Core } from '../../src/main/core/create-core';
import { silentLogger } from '../../src/main/core/lib/logger';
import { ServeServer } from '../../src/main/serve/serve-server';
import { ApiClient, ApiError } from '../../src/renderer/src/api/client';
import type { LinkState } from '../../src/renderer/src/api/transport';
import { createWsTransport } from '../../src/renderer/src/api/ws-transport';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { createMemoryTransport } from '../support/memory-transport';

interface Harness {
  api: ApiClient;
  /** The core's event bus, to push events from the server's side. */
  events: Core['events'];
  /** Sends raw text the way a broken or hostile client would, and returns what came back. */
  sendRaw(text: string): Promise<unknown>;
  drop(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<Harness> {
  const { core, stop } = await startTestCore();
  const pair = createMemoryTransport(core);
  const api = new ApiClient(pair.transport, { timeoutMs: 3000 });
  return {
    api,
    events: core.events,
    sendRaw: async (text) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return core.router.handle(parsed, { clientId: 'raw', transport: 'local' });
    },
    drop: async () => pair.drop(),
    restore: async () => pair.restore(),
    close: async () => {
      api.close();
      await stop();
    },
  };
}

async function wsHarness(): Promise<Harness> {
  const { core, stop } = await startTestCore();
  const web = tempDir('comfydesk-web-');
  mkdirSync(web.path, { recursive: true });
  writeFileSync(join(web.path, 'index.html'), '<!doctype html><title>t</title>');
  const token = 'test-token-123';
  let server = new ServeServer({ core, rendererDir: web.path, port: 0, token, log: silentLogger });
  await server.start();
  const port = server.port;
  const api = new ApiClient(
    createWsTransport({ url: `ws://127.0.0.1:${port}/ws?token=${token}`, initialDelayMs: 20, maxDelayMs: 100 }),
    { timeoutMs: 3000 },
  );
  await waitFor(() => api.linkState === 'open', { message: 'socket did not open' });
  return {
    api,
    events: core.events,
    sendRaw: (text) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
        socket.onopen = () => socket.send(text);
        socket.onmessage = (event) => {
          // A frame holds one envelope or an array of them (a burst of events, perhaps with the answer).
          const messages = [JSON.parse(String(event.data)) as unknown].flat() as Array<{ kind?: string }>;
          // Broadcast events (a connection's health, the job queue) may come first; the answer is what counts.
          const answer = messages.find((message) => message.kind !== 'event');
          if (!answer) return;
          resolve(answer);
          socket.close();
        };
        socket.onerror = () => reject(new Error('raw socket failed'));
      }),
    // A restart of serve mode on the same port: every socket drops, the client must come back.
    drop: () => server.stop(),
    restore: async () => {
      server = new ServeServer({ core, rendererDir: web.path, port, token, log: silentLogger });
      await server.start();
    },
    close: async () => {
      api.close();
      await server.stop();
      await stop();
      web.remove();
    },
  };
}

for (const [name, makeHarness] of [
  ['in-memory pair', memoryHarness],
  ['real WebSocket', wsHarness],
] as const) {
  describe(`transport suite over ${name}`, () => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
    });

    test('a command makes the round trip and its output is validated', async () => {
      harness = await makeHarness();
      const info = await harness.api.call('app.info', {});
      expect(info).toMatchObject({ name: 'ComfyDesk', version: '0.0.0-test', mode: 'serve', notices: [] });
    });

    test('a failing command rejects with a typed error', async () => {
      harness = await makeHarness();
      const failure = await harness.api
        .call('settings.update', { general: { theme: 'neon' as 'dark' } })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ApiError);
      expect(failure).toMatchObject({ code: 'invalid_input' });
    });

    test('an invalid message gets invalid_message back and the link stays usable', async () => {
      harness = await makeHarness();
      expect(await harness.sendRaw('{not json')).toMatchObject({
        kind: 'response',
        ok: false,
        error: { code: 'invalid_message' },
      });
      expect(
        await harness.sendRaw(JSON.stringify({ kind: 'request', id: 'q', command: 'no.such', input: {} })),
      ).toMatchObject({ id: 'q', ok: false, error: { code: 'unknown_command' } });
      await expect(harness.api.call('settings.get', {})).resolves.toMatchObject({ general: { theme: 'dark' } });
    });

    test('events are delivered to the client', async () => {
      harness = await makeHarness();
      const changed = new Promise((resolve) => harness!.api.on('settings.changed', resolve));
      await harness.api.call('settings.update', { general: { theme: 'light' } });
      await expect(changed).resolves.toMatchObject({ general: { theme: 'light' } });
    });

    test('a burst of events arrives whole and in order, and an answer sent after it comes after it', async () => {
      harness = await makeHarness();
      const seen: number[] = [];
      harness.api.on('jobs.queue', ({ pending }) => seen.push(pending));
      const burst = Array.from({ length: 500 }, (_, index) => index);
      for (const pending of burst) harness.events.emit('jobs.queue', { running: 0, pending, paused: false });
      await harness.api.call('app.info', {});
      expect(seen).toEqual(burst);
    });

    test('after the link drops, calls fail with disconnected, and the client reconnects by itself', async () => {
      harness = await makeHarness();
      const states: LinkState[] = [];
      harness.api.onLink((state) => states.push(state));
      await harness.drop();
      await waitFor(() => harness!.api.linkState !== 'open');
      await expect(harness.api.call('app.info', {})).rejects.toMatchObject({ code: 'disconnected' });
      await harness.restore();
      await waitFor(() => harness!.api.linkState === 'open', { message: 'did not reconnect' });
      expect(states.at(-1)).toBe('open');
      await expect(harness.api.call('app.info', {})).resolves.toMatchObject({ name: 'ComfyDesk' });
      const changed = new Promise((resolve) => harness!.api.on('settings.changed', resolve));
      await harness.api.call('settings.update', { general: { theme: 'system' } });
      await expect(changed).resolves.toMatchObject({ general: { theme: 'system' } });
    });
  });
}

describe('API client deadlines', () => {
  test('a call that gets no answer ends with timeout, never hangs', async () => {
    const silent = {
      state: 'open' as const,
      send: () => undefined,
      onMessage: () => () => undefined,
      onState: () => () => undefined,
      close: () => undefined,
    };
    const api = new ApiClient(silent, { timeoutMs: 50 });
    await expect(api.call('app.info', {})).rejects.toMatchObject({ code: 'timeout' });
  });

  test('a response that breaks the contract is rejected as invalid_output and reported', async () => {
    let deliver: (message: unknown) => void = () => undefined;
    const problems: string[] = [];
    const fake = {
      state: 'open' as const,
      send: (envelope: { id: string }) =>
        queueMicrotask(() => deliver({ kind: 'response', id: envelope.id, ok: true, output: { wrong: true } })),
      onMessage: (listener: (message: unknown) => void) => {
        deliver = listener;
        return () => undefined;
      },
      onState: () => () => undefined,
      close: () => undefined,
    };
    const api = new ApiClient(fake, { onInvalidMessage: (problem) => problems.push(problem) });
    await expect(api.call('app.info', {})).rejects.toMatchObject({ code: 'invalid_output' });
    expect(problems).toEqual(['invalid output for "app.info"']);
  });
});
