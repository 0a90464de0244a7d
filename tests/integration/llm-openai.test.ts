import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { EnhanceFinished } from '@shared/contract/llm';
import type { Core } from '../../src/main/core/create-core';
import { startTestCore, waitFor } from '../support/core';
import { FakeOpenAiServer } from '../support/llm';

let server: FakeOpenAiServer;
let core: Core;
let stopCore: () => Promise<void>;
const finished = new Map<string, EnhanceFinished>();
const tokens = new Map<string, string[]>();

beforeEach(async () => {
  server = new FakeOpenAiServer();
  await server.start();
  const started = await startTestCore();
  core = started.core;
  stopCore = started.stop;
  finished.clear();
  tokens.clear();
  core.events.on('llm.token', ({ id, text }) => tokens.set(id, [...(tokens.get(id) ?? []), text]));
  core.events.on('llm.finished', (event) => finished.set(event.id, event));
  await core.router.call('settings.update', {
    llm: {
      enabled: true,
      backend: 'openai',
      openai: { baseUrl: server.baseUrl, model: 'qwen2.5:1.5b-instruct', apiKey: '' },
    },
  });
});

afterEach(async () => {
  await stopCore();
  await server.stop();
});

async function enhance(
  prompt: string,
  style?: 'detailed' | 'minimal',
): Promise<{ id: string; result: EnhanceFinished }> {
  const { id } = await core.router.call('llm.enhance', { prompt, ...(style ? { style } : {}) });
  const result = (await waitFor(() => finished.get(id), { timeoutMs: 10_000 })) as EnhanceFinished;
  return { id, result };
}

describe('enhancement through an OpenAI-compatible server (streaming SSE)', () => {
  test('tokens stream as the server sends them and the result is the cleaned prompt', async () => {
    server.completions = [
      { chunks: ['Sure! Here is the prompt:\n\n', '"A red fox', ' in fresh snow', ', golden light"'] },
    ];
    const { id, result } = await enhance('a red fox in the snow', 'detailed');
    expect(tokens.get(id)).toEqual([
      'Sure! Here is the prompt:\n\n',
      '"A red fox',
      ' in fresh snow',
      ', golden light"',
    ]);
    expect(result).toMatchObject({
      ok: true,
      result: {
        text: 'A red fox in fresh snow, golden light',
        isSubjectKept: true,
        model: 'qwen2.5:1.5b-instruct',
        tokens: 5,
      },
    });
    const request = server.requests.find((entry) => entry.path === '/v1/chat/completions')!;
    expect(request.body).toMatchObject({
      model: 'qwen2.5:1.5b-instruct',
      stream: true,
      messages: [{ role: 'system' }, { role: 'user', content: 'a red fox in the snow' }],
    });
    expect(request.authorization).toBeUndefined();
    expect(core.events.listenerCount()).toBeGreaterThan(0);
  });

  test('an API key is sent as a Bearer token, and a refused key is a clear error', async () => {
    await core.router.call('settings.update', {
      llm: { openai: { baseUrl: server.baseUrl, model: 'm', apiKey: 'sk-local' } },
    });
    server.refuse = { status: 401, message: 'invalid api key' };
    const { result } = await enhance('a red fox');
    expect(server.requests[0]!.authorization).toBe('Bearer sk-local');
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'llm_endpoint_error', userMessage: expect.stringContaining('refused the API key') },
    });
  });

  test('an unknown model is reported with the server’s own words', async () => {
    server.refuse = { status: 404, message: 'model "nope" not found, try pulling it first' };
    const { result } = await enhance('a red fox');
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'llm_endpoint_error', userMessage: expect.stringContaining('model "nope" not found') },
    });
  });

  test('a server that is not running is llm_endpoint_unreachable and names the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address() as { port: number };
        probe.close(() => resolve(address.port));
      });
    });
    await core.router.call('settings.update', {
      llm: { openai: { baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', apiKey: '' } },
    });
    const { result } = await enhance('a red fox');
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'llm_endpoint_unreachable',
        userMessage: expect.stringContaining(`127.0.0.1:${port}/v1 is not answering (ECONNREFUSED)`),
      },
    });
  });

  test('an error in the middle of the stream, or a dropped connection, fails the request', async () => {
    server.streamError = 'out of memory';
    expect((await enhance('a red fox')).result).toMatchObject({
      ok: false,
      error: { code: 'llm_endpoint_error', userMessage: expect.stringContaining('out of memory') },
    });
    server.streamError = undefined;
    server.completions = [{ chunks: ['A red fox', ' in snow', ' at dawn'], dropAfter: 1 }];
    expect((await enhance('a red fox')).result).toMatchObject({
      ok: false,
      error: { code: 'llm_endpoint_unreachable' },
    });
  });

  test('a server that ignores "stream" still works', async () => {
    server.ignoreStream = true;
    server.completions = [{ chunks: ['A red fox in snow, ', 'soft light'] }];
    expect((await enhance('a red fox in snow')).result).toMatchObject({
      ok: true,
      result: { text: 'A red fox in snow, soft light', tokens: 2 },
    });
  });

  test('cancelling closes the connection to the server and ends with "cancelled"', async () => {
    server.completions = [{ chunks: ['A red fox', ' in snow', ' at dawn', ' with mist'], delayMs: 150 }];
    const { id } = await core.router.call('llm.enhance', { prompt: 'a red fox' });
    await waitFor(() => tokens.get(id)?.length === 1, { timeoutMs: 5000 });
    await core.router.call('llm.cancel', { id });
    expect(await waitFor(() => finished.get(id))).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    await server.closedEarly[0];
  });

  test('an empty model name is caught before anything is sent', async () => {
    await core.router.call('settings.update', { llm: { openai: { baseUrl: server.baseUrl, model: '', apiKey: '' } } });
    expect((await enhance('a red fox')).result).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', userMessage: expect.stringContaining('Choose which model') },
    });
    expect(server.requests).toEqual([]);
  });

  test('"Test connection" lists the server’s models, and reports a wrong address', async () => {
    expect(await core.router.call('llm.checkEndpoint', {})).toEqual({
      models: ['qwen2.5:1.5b-instruct', 'llama3.2:3b'],
    });
    await expect(
      core.router.call('llm.checkEndpoint', { baseUrl: `http://127.0.0.1:${server.port}/nothing` }),
    ).rejects.toMatchObject({ error: { code: 'llm_endpoint_error' } });
  });
});
