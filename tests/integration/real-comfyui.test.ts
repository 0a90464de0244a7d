import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import type { ComfyEvent } from '../../src/main/core/comfy/messages';
import { ServerConnection } from '../../src/main/core/connections/server-connection';
import { type AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { waitFor } from '../support/core';

// Opt-in: runs only against a real ComfyUI named by COMFYUI_REAL_URL (e.g. 0.3.64 started as
// shared/comfyui/README.md describes, with the PeerSlowSteps test node installed). Skipped otherwise.
const REAL_URL = process.env.COMFYUI_REAL_URL;

const prompt = (color: number, steps: number, stepMs: number) => ({
  1: { class_type: 'EmptyImage', inputs: { width: 64, height: 48, batch_size: 1, color } },
  2: { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps, step_ms: stepMs, preview: true } },
  3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'comfydesk_real_check' } },
});

/** A fresh colour each run, so the real server's cache never answers instead of running. */
const freshColor = () => Math.floor(Math.random() * 0xffffff);

async function run(
  client: ComfyClient,
  body: Record<string, unknown>,
): Promise<{ promptId: string; events: ComfyEvent[] }> {
  const events: ComfyEvent[] = [];
  const off = client.on('event', (event) => events.push(event));
  const { promptId } = await client.queuePrompt({ prompt: body });
  await waitFor(
    () =>
      events.some(
        (event) => event.type === 'executing' && event.data.node === null && event.data.prompt_id === promptId,
      ),
    { timeoutMs: 30_000 },
  );
  off();
  return {
    promptId,
    events: events.filter(
      (event) => !('prompt_id' in event.data) || event.data.prompt_id === promptId || event.type === 'status',
    ),
  };
}

describe.skipIf(!REAL_URL)('the client against a real ComfyUI (COMFYUI_REAL_URL)', () => {
  let real: ComfyClient;
  let emulated: ComfyTestServer;
  let mirror: ComfyClient;

  beforeAll(async () => {
    real = new ComfyClient({ baseUrl: REAL_URL!, log: silentLogger });
    real.connect();
    emulated = await startComfyServer();
    mirror = new ComfyClient({ baseUrl: emulated.url, log: silentLogger });
    mirror.connect();
    await waitFor(() => real.isSocketOpen && mirror.isSocketOpen && Object.keys(real.serverFlags).length > 0, {
      timeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    real?.close();
    mirror?.close();
    await emulated?.stop();
  });

  test('health: online with version and device facts', async () => {
    const health = await new ServerConnection({
      profile: { id: 'real', name: 'real', kind: 'url', url: REAL_URL! },
      secrets: {},
      log: silentLogger,
      readKnownHosts: async () => '',
    }).probe();
    expect(health).toMatchObject({
      state: 'online',
      facts: { comfyuiVersion: expect.any(String), gpuName: expect.any(String) },
    });
  });

  test('EmptyImage → PeerSlowSteps → SaveImage: progress, previews with metadata, output and success', async () => {
    const { promptId, events } = await run(real, prompt(freshColor(), 4, 50));
    const progress = events.filter((event) => event.type === 'progress');
    expect(progress.map((event) => event.type === 'progress' && event.data.value)).toEqual([1, 2, 3, 4]);
    const previews = events.filter((event) => event.type === 'preview');
    expect(previews).toHaveLength(4);
    expect(previews[0]).toMatchObject({ data: { format: 'jpeg', metadata: { prompt_id: promptId, node_id: '2' } } });
    expect(events.some((event) => event.type === 'execution_success')).toBe(true);
    const entry = await real.getHistory(promptId);
    expect(entry?.status?.status_str).toBe('success');
    const image = (entry!.outputs['3'] as { images: Array<{ filename: string; subfolder: string; type: 'output' }> })
      .images[0]!;
    expect((await real.viewBytes(image)).bytes.subarray(1, 4).toString()).toBe('PNG');
  });

  test('the test server sends the same sequence of message types as the real one for that run', async () => {
    const body = prompt(freshColor(), 3, 30);
    const sequence = (events: ComfyEvent[]) => events.map((event) => event.type);
    const [a, b] = [await run(real, body), await run(mirror, body)];
    expect(sequence(b.events)).toEqual(sequence(a.events));
  });

  test("validation errors carry the node id and ComfyUI's own message", async () => {
    const bad = prompt(freshColor(), 1, 0);
    bad[1].inputs.width = -5;
    const error = (await real.queuePrompt({ prompt: bad }).catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('comfy_invalid_prompt');
    expect(error.userMessage).toContain('node 1 (EmptyImage): Value -5 smaller than min of 1 — width');
  });

  test('interrupting a running prompt by its id stops it at the next step', async () => {
    const events: ComfyEvent[] = [];
    const off = real.on('event', (event) => events.push(event));
    const { promptId } = await real.queuePrompt({ prompt: prompt(freshColor(), 200, 50) });
    await waitFor(() => events.some((event) => event.type === 'progress' && event.data.prompt_id === promptId), {
      timeoutMs: 15_000,
    });
    await real.interrupt(promptId);
    await waitFor(
      () => events.some((event) => event.type === 'execution_interrupted' && event.data.prompt_id === promptId),
      { timeoutMs: 15_000 },
    );
    off();
    expect((await real.getQueue()).running.map((item) => item.promptId)).not.toContain(promptId);
  });

  test('object_info has PeerSlowSteps and the models are listed by folder', async () => {
    const { objectInfo } = await real.getObjectInfo({ refresh: true });
    expect(objectInfo.PeerSlowSteps?.input.required).toHaveProperty('step_ms');
    expect(await real.listModelFolders()).toContain('checkpoints');
    expect(Object.keys(await real.listAllModels())).toContain('loras');
  });
});
