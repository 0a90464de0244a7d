import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import type { ComfyEvent } from '../../src/main/core/comfy/messages';
import { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { waitFor } from '../support/core';

const SLOW_PROMPT = (steps: number, preview = true) => ({
  1: { class_type: 'EmptyImage', inputs: { width: 32, height: 24, batch_size: 1, color: 0x336699 } },
  2: { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps, step_ms: 5, preview } },
  3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'client_test' } },
});

let server: ComfyTestServer;
const clients: ComfyClient[] = [];

beforeAll(async () => {
  server = await startComfyServer({
    models: { checkpoints: ['sd15.safetensors', 'sdxl/base.safetensors'], loras: ['style.safetensors', 'notes.txt'] },
  });
});

afterAll(() => server.stop());

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function client(options: Partial<ConstructorParameters<typeof ComfyClient>[0]> = {}): ComfyClient {
  const made = new ComfyClient({
    baseUrl: server.url,
    log: silentLogger,
    socket: { backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
    ...options,
  });
  clients.push(made);
  return made;
}

/** Connects a client and collects its events. */
async function connected(
  options: Partial<ConstructorParameters<typeof ComfyClient>[0]> = {},
): Promise<{ comfy: ComfyClient; events: ComfyEvent[] }> {
  const comfy = client(options);
  const events: ComfyEvent[] = [];
  comfy.on('event', (event) => events.push(event));
  comfy.connect();
  await waitFor(() => events.some((event) => event.type === 'feature_flags'), { message: 'no feature_flags reply' });
  return { comfy, events };
}

function finished(events: ComfyEvent[], promptId: string): boolean {
  return events.some(
    (event) => event.type === 'executing' && event.data.node === null && event.data.prompt_id === promptId,
  );
}

describe('ComfyClient against the protocol server', () => {
  test('a run delivers every event type in order, with previews decoded and the output in history', async () => {
    const { comfy, events } = await connected();
    expect(comfy.serverFlags).toEqual({ supports_preview_metadata: true, max_upload_size: 104857600 });
    const { promptId, number, nodeErrors } = await comfy.queuePrompt({
      prompt: SLOW_PROMPT(3),
      extraData: { extra_pnginfo: { workflow: { id: 'w1' } } },
    });
    expect(promptId).toMatch(/^[0-9a-f-]{36}$/);
    expect(number).toEqual(expect.any(Number));
    expect(nodeErrors).toEqual({});
    await waitFor(() => finished(events, promptId));
    const types = events.map((event) => event.type);
    for (const type of [
      'status',
      'execution_start',
      'execution_cached',
      'progress_state',
      'executing',
      'progress',
      'preview',
      'executed',
      'execution_success',
    ])
      expect(types).toContain(type);
    // With preview metadata negotiated, each preview comes before its progress and names its prompt and node.
    const firstPreview = types.indexOf('preview');
    expect(types.indexOf('progress')).toBeGreaterThan(firstPreview);
    const preview = events.find((event) => event.type === 'preview');
    expect(preview).toMatchObject({
      data: { format: 'jpeg', mime: 'image/jpeg', metadata: { prompt_id: promptId, node_id: '2' } },
    });
    expect(preview?.type === 'preview' && preview.data.bytes.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    const entry = await comfy.getHistory(promptId);
    expect(entry?.status?.status_str).toBe('success');
    expect(entry?.prompt[3]).toEqual({ extra_pnginfo: { workflow: { id: 'w1' } }, client_id: comfy.clientId });
    const image = (entry!.outputs['3'] as { images: Array<{ filename: string; subfolder: string; type: 'output' }> })
      .images[0]!;
    const { bytes, contentType } = await comfy.viewBytes(image);
    expect(contentType).toBe('image/png');
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
  });

  test('without preview metadata, type-1 previews arrive without ids after their progress', async () => {
    const { comfy, events } = await connected({ socket: { featureFlags: {} } });
    const { promptId } = await comfy.queuePrompt({ prompt: SLOW_PROMPT(2) });
    await waitFor(() => finished(events, promptId));
    const preview = events.find((event) => event.type === 'preview');
    expect(preview?.data).not.toHaveProperty('metadata');
    expect(events.map((event) => event.type).indexOf('progress')).toBeLessThan(
      events.map((event) => event.type).indexOf('preview'),
    );
  });

  test('text frames (type 3) arrive decoded with their node id', async () => {
    const { comfy, events } = await connected();
    const { promptId } = await comfy.queuePrompt({
      prompt: {
        1: { class_type: 'EmptyImage', inputs: { width: 40, height: 30, batch_size: 2, color: 1 } },
        2: { class_type: 'GetImageSize', inputs: { image: ['1', 0] } },
        3: { class_type: 'PreviewAny', inputs: { source: ['2', 0] } },
      },
    });
    await waitFor(() => finished(events, promptId));
    expect(events.find((event) => event.type === 'text')?.data).toEqual({
      nodeId: '2',
      text: 'width: 40, height: 30\n batch size: 2',
    });
  });

  test("a validation failure is comfy_invalid_prompt carrying node ids and ComfyUI's own messages", async () => {
    const comfy = client();
    const prompt = SLOW_PROMPT(1);
    prompt[1].inputs.width = -5;
    const error = await comfy.queuePrompt({ prompt }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    expect(appError.code).toBe('comfy_invalid_prompt');
    expect(appError.userMessage).toContain('node 1 (EmptyImage): Value -5 smaller than min of 1 — width');
    expect(appError.details).toMatchObject({
      error: { type: 'prompt_outputs_failed_validation' },
      nodeErrors: { 1: { class_type: 'EmptyImage', errors: [{ type: 'value_smaller_than_min' }] } },
    });
    const missing = (await comfy
      .queuePrompt({ prompt: { 1: { class_type: 'NoSuchNode', inputs: {} } } })
      .catch((caught: unknown) => caught)) as AppError;
    expect(missing.userMessage).toBe(
      "ComfyUI rejected the prompt: Cannot execute because node NoSuchNode does not exist. (Node ID '#1').",
    );
  });

  test("a node exception arrives as execution_error with ComfyUI's message, and history says error", async () => {
    const { comfy, events } = await connected();
    server.injectFailure({ classType: 'PeerSlowSteps', kind: 'exception', message: 'CUDA out of memory' });
    const { promptId } = await comfy.queuePrompt({ prompt: SLOW_PROMPT(2) });
    await waitFor(() => finished(events, promptId));
    expect(events.find((event) => event.type === 'execution_error')).toMatchObject({
      data: {
        node_id: '2',
        node_type: 'PeerSlowSteps',
        exception_message: 'CUDA out of memory\n',
        exception_type: 'Exception',
      },
    });
    expect((await comfy.getHistory(promptId))?.status).toMatchObject({ status_str: 'error', completed: false });
  });

  test('queue, interrupt by prompt id, delete and clear act on the real queue', async () => {
    server.setTiming({ stepMs: 40 });
    try {
      const { comfy, events } = await connected();
      const running = await comfy.queuePrompt({ prompt: SLOW_PROMPT(200, false) });
      const second = await comfy.queuePrompt({ prompt: SLOW_PROMPT(201, false) });
      const third = await comfy.queuePrompt({ prompt: SLOW_PROMPT(202, false), front: true });
      const queue = await comfy.getQueue();
      expect(queue.running.map((item) => item.promptId)).toEqual([running.promptId]);
      // Sorted in execution order: the front item first.
      expect(queue.pending.map((item) => item.promptId)).toEqual([third.promptId, second.promptId]);
      expect(queue.pending[0]!.clientId).toBe(comfy.clientId);
      await comfy.deleteFromQueue([third.promptId]);
      expect((await comfy.getQueue()).pending.map((item) => item.promptId)).toEqual([second.promptId]);
      await comfy.clearQueue();
      expect((await comfy.getQueue()).pending).toEqual([]);
      await comfy.interrupt('some-other-prompt');
      await comfy.interrupt(running.promptId);
      await waitFor(() => finished(events, running.promptId));
      expect(
        events.some((event) => event.type === 'execution_interrupted' && event.data.prompt_id === running.promptId),
      ).toBe(true);
      expect(await comfy.getHistory(second.promptId)).toBeUndefined();
    } finally {
      server.setTiming({ stepMs: undefined });
    }
  });

  test('history: list with max_items/offset, one entry, delete', async () => {
    const { comfy, events } = await connected();
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const prompt = SLOW_PROMPT(1, false);
      prompt[1].inputs.color = 1000 + index;
      const { promptId } = await comfy.queuePrompt({ prompt });
      ids.push(promptId);
      await waitFor(() => finished(events, promptId));
    }
    const lastTwo = await comfy.listHistory({ maxItems: 2 });
    expect(lastTwo.map((item) => item.promptId)).toEqual(ids.slice(1));
    await comfy.deleteHistory([ids[2]!]);
    expect(await comfy.getHistory(ids[2]!)).toBeUndefined();
    expect((await comfy.listHistory({ maxItems: 1 })).map((item) => item.promptId)).toEqual([ids[1]]);
    await comfy.clearHistory();
    expect(await comfy.listHistory({ maxItems: 10 })).toEqual([]);
  });

  test('object_info is cached per client until refreshed, and includes PeerSlowSteps', async () => {
    const comfy = client();
    const before = server.requests.filter((request) => request.path === '/api/object_info').length;
    const first = await comfy.getObjectInfo();
    await comfy.getObjectInfo();
    expect(server.requests.filter((request) => request.path === '/api/object_info').length).toBe(before + 1);
    await comfy.getObjectInfo({ refresh: true });
    expect(server.requests.filter((request) => request.path === '/api/object_info').length).toBe(before + 2);
    expect(first.problems).toEqual([]);
    expect(first.objectInfo.PeerSlowSteps?.display_name).toBe('Peer Slow Steps (test)');
  });

  test('models by folder, an unknown folder, uploads, masks, system stats, features and free', async () => {
    const comfy = client();
    expect(await comfy.listModelFolders()).toContain('checkpoints');
    expect(await comfy.listModels('checkpoints')).toEqual(['sd15.safetensors', 'sdxl/base.safetensors']);
    expect(await comfy.listModels('loras')).toEqual(['style.safetensors']);
    await expect(comfy.listModels('unet')).rejects.toMatchObject({ code: 'not_found' });
    const uploaded = await comfy.uploadImage({ data: Buffer.from('png bytes'), filename: 'input.png' });
    expect(uploaded).toEqual({ name: 'input.png', subfolder: '', type: 'input' });
    expect((await comfy.uploadImage({ data: Buffer.from('other bytes'), filename: 'input.png' })).name).toBe(
      'input (1).png',
    );
    expect(
      (await comfy.uploadImage({ data: Buffer.from('other bytes'), filename: 'input.png', overwrite: true })).name,
    ).toBe('input.png');
    const mask = await comfy.uploadMask({
      data: Buffer.from('mask'),
      filename: 'mask.png',
      subfolder: 'clipspace',
      originalRef: { filename: 'input.png', type: 'input' },
    });
    expect(mask).toEqual({ name: 'mask.png', subfolder: 'clipspace', type: 'input' });
    expect((await comfy.viewBytes({ filename: 'input.png', type: 'input' })).bytes.toString()).toBe('other bytes');
    await expect(comfy.viewBytes({ filename: 'nope.png' })).rejects.toMatchObject({ code: 'not_found' });
    const stats = await comfy.systemStats();
    expect(stats.system.comfyui_version).toBe('0.3.64');
    expect(stats.devices[0]).toMatchObject({ name: 'cpu', vram_free: expect.any(Number) });
    expect(await comfy.features()).toMatchObject({ supports_preview_metadata: true });
    await expect(comfy.free({ unloadModels: true, freeMemory: true })).resolves.toBeUndefined();
  });

  test('a request can be aborted by its caller', async () => {
    server.setResponseDelay(2000);
    try {
      const controller = new AbortController();
      const pending = client().systemStats({ signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    } finally {
      server.setResponseDelay(0);
    }
  });

  test('after a server restart mid-run the socket reconnects with the same client id and a fresh status', async () => {
    server.setTiming({ stepMs: 50 });
    const { comfy, events } = await connected();
    const opens: boolean[] = [];
    comfy.on('open', ({ isReconnect }) => opens.push(isReconnect));
    const { promptId } = await comfy.queuePrompt({ prompt: SLOW_PROMPT(100, false) });
    await waitFor(() => events.some((event) => event.type === 'progress'));
    const before = events.length;
    await server.restart();
    server.setTiming({ stepMs: undefined });
    await waitFor(() => opens.includes(true), { message: 'no reconnect' });
    await waitFor(() => events.slice(before).some((event) => event.type === 'status'));
    const status = events.slice(before).find((event) => event.type === 'status');
    expect(status?.type === 'status' && status.data).toMatchObject({
      sid: comfy.clientId,
      status: { exec_info: { queue_remaining: 0 } },
    });
    expect(server.socketClientIds()).toContain(comfy.clientId);
    // The handshake is sent again on the new connection, and the server answers it.
    await waitFor(() => events.slice(before).some((event) => event.type === 'feature_flags'), {
      message: 'no handshake reply after the reconnect',
    });
    // The restart lost the prompt: the queue and history say so, which is how callers reconcile.
    expect((await comfy.getQueue()).running).toEqual([]);
    expect(await comfy.getHistory(promptId)).toBeUndefined();
  });

  test('a dropped socket mid-run comes back under the same client id and hears the rest of the run', async () => {
    server.setTiming({ stepMs: 30 });
    try {
      const { comfy, events } = await connected();
      const opens: boolean[] = [];
      comfy.on('open', ({ isReconnect }) => opens.push(isReconnect));
      server.injectFailure({ classType: 'PeerSlowSteps', kind: 'disconnect' });
      const { promptId } = await comfy.queuePrompt({ prompt: SLOW_PROMPT(15, false) });
      await waitFor(() => finished(events, promptId), { timeoutMs: 8000, message: 'the end of the run never arrived' });
      expect(opens).toContain(true);
      // After the reconnect the server replays the running node without a prompt id (§3.6), then the run goes on.
      const replay = events.findIndex(
        (event) => event.type === 'executing' && event.data.node === '2' && event.data.prompt_id === undefined,
      );
      expect(replay).toBeGreaterThan(-1);
      expect(events.slice(replay).some((event) => event.type === 'progress')).toBe(true);
    } finally {
      server.setTiming({ stepMs: undefined });
    }
  });
});
