import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import type { ComfyEvent } from '../../src/main/core/comfy/messages';
import { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';

const slowPrompt = (steps: number, stepMs = 20) => ({
  1: { class_type: 'EmptyImage', inputs: { width: 32, height: 24, batch_size: 1, color: 0x336699 } },
  2: { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps, step_ms: stepMs, preview: false } },
  3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'newer_test' } },
});

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(newer: boolean): Promise<ComfyTestServer> {
  const comfy = await startComfyServer({ newer });
  cleanup.push(() => comfy.stop());
  return comfy;
}

async function connected(comfy: ComfyTestServer): Promise<{ client: ComfyClient; events: ComfyEvent[] }> {
  const client = new ComfyClient({ baseUrl: comfy.url, log: silentLogger });
  cleanup.push(() => client.close());
  const events: ComfyEvent[] = [];
  client.on('event', (event) => events.push(event));
  client.connect();
  await waitFor(() => client.isSocketOpen && events.some((event) => event.type === 'feature_flags'));
  return { client, events };
}

/** Queues a prompt as another tool would: no client id, straight to /prompt. */
async function queueForeign(comfy: ComfyTestServer, prompt: unknown): Promise<string> {
  const response = await fetch(`${comfy.url}/api/prompt`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return ((await response.json()) as { prompt_id: string }).prompt_id;
}

const modes = [
  { name: 'ComfyUI 0.3.64 (/queue and /history)', newer: false },
  { name: 'a newer ComfyUI (/api/jobs)', newer: true },
];

describe.each(modes)('queue and history on $name', ({ newer }) => {
  test('the queue lists the running and the waiting job with their prompts and client ids, in order', async () => {
    const comfy = await server(newer);
    comfy.setTiming({ stepMs: 200 });
    const { client } = await connected(comfy);
    const first = await client.queuePrompt({ prompt: slowPrompt(50) });
    const second = await client.queuePrompt({ prompt: slowPrompt(2) });
    const foreign = await queueForeign(comfy, slowPrompt(2));
    const queue = await waitFor(async () => {
      const snapshot = await client.getQueue();
      return snapshot.running.length === 1 ? snapshot : undefined;
    });
    expect(queue.running.map((item) => item.promptId)).toEqual([first.promptId]);
    expect(queue.pending.map((item) => item.promptId)).toEqual([second.promptId, foreign]);
    expect(queue.running[0]).toMatchObject({ number: first.number, clientId: client.clientId });
    expect(Object.keys(queue.running[0]!.prompt)).toEqual(['1', '2', '3']);
    expect(queue.pending[1]!.clientId).toBeUndefined();
    expect(await client.queueRoutes()).toBe(newer ? 'jobs-api' : 'legacy');
    const paths = comfy.requests.map((request) => request.path.split('?')[0]);
    if (newer) {
      expect(paths).toContain('/api/jobs');
      expect(paths).not.toContain('/api/queue');
    } else expect(paths).toContain('/api/queue');
    await client.cancelJob(first.promptId);
  });

  test('history is absent while a job waits or runs, then has its outputs and a success status', async () => {
    const comfy = await server(newer);
    comfy.setTiming({ stepMs: 100 });
    const { client, events } = await connected(comfy);
    const { promptId } = await client.queuePrompt({ prompt: slowPrompt(3) });
    expect(await client.getHistory(promptId)).toBeUndefined();
    await waitFor(() =>
      events.some(
        (event) => event.type === 'executing' && event.data.node === null && event.data.prompt_id === promptId,
      ),
    );
    const entry = await waitFor(() => client.getHistory(promptId));
    expect(entry.prompt[1]).toBe(promptId);
    expect(entry.prompt[3]).toMatchObject({ client_id: client.clientId });
    expect(entry.status).toMatchObject({ status_str: 'success', completed: true });
    const images = (entry.outputs['3'] as { images: Array<{ filename: string; type: string }> }).images;
    expect(images[0]).toMatchObject({ type: 'output', filename: expect.stringMatching(/^newer_test_\d+_\.png$/) });
    expect(await client.getHistory('0b5f1c1e-1111-4222-8333-944455556666')).toBeUndefined();
  });

  test('cancelling a job interrupts it when it runs, removes it when it waits, and says when there was none', async () => {
    const comfy = await server(newer);
    comfy.setTiming({ stepMs: 200 });
    const { client, events } = await connected(comfy);
    const running = await client.queuePrompt({ prompt: slowPrompt(100) });
    const waiting = await client.queuePrompt({ prompt: slowPrompt(2) });
    await waitFor(() => comfy.queue().running[0]?.[1] === running.promptId);
    expect(await client.cancelJob(waiting.promptId)).toBe(true);
    expect(comfy.queue().pending.map((item) => item[1])).not.toContain(waiting.promptId);
    expect(await client.cancelJob(running.promptId)).toBe(true);
    await waitFor(() =>
      events.some((event) => event.type === 'execution_interrupted' && event.data.prompt_id === running.promptId),
    );
    const entry = await waitFor(() => client.getHistory(running.promptId));
    expect(entry.status?.status_str).toBe('error');
    expect(await client.cancelJob(running.promptId)).toBe(false);
    expect(await client.getHistory(waiting.promptId)).toBeUndefined();
  });

  test('a prompt id that is not a lowercase UUID is refused before anything is sent', async () => {
    const comfy = await server(newer);
    const { client } = await connected(comfy);
    const error = await client
      .queuePrompt({ prompt: slowPrompt(1), promptId: 'F2C3A0E8-0000-4000-8000-000000000001' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_input');
    expect(comfy.requests.some((request) => request.method === 'POST' && request.path === '/api/prompt')).toBe(false);
  });
});

describe('the newer test server answers as the newer ComfyUI source does', () => {
  test('prompt ids must be canonical lowercase UUIDs; null or none lets the server mint one', async () => {
    const comfy = await server(true);
    const post = async (body: unknown) => {
      const response = await fetch(`${comfy.url}/api/prompt`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const upper = await post({ prompt: slowPrompt(1), prompt_id: 'F2C3A0E8-0000-4000-8000-000000000001' });
    expect(upper).toEqual({
      status: 400,
      body: {
        error: {
          type: 'invalid_prompt_id',
          message: 'prompt_id must be a valid UUID',
          details:
            'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
          extra_info: {},
        },
        node_errors: {},
      },
    });
    const minted = await post({ prompt: slowPrompt(1), prompt_id: null });
    expect(minted.status).toBe(200);
    expect(minted.body.prompt_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const missing = await post({
      prompt: { 1: { class_type: 'NoSuchNode', inputs: {}, _meta: { title: 'Mystery' } } },
    });
    expect(missing).toEqual({
      status: 400,
      body: {
        error: {
          type: 'missing_node_type',
          message: "Node 'Mystery' not found. The custom node may not be installed.",
          details: "Node ID '#1'",
          extra_info: { node_id: '1', class_type: 'NoSuchNode', node_title: 'Mystery' },
        },
        node_errors: {},
      },
    });
  });

  test('the jobs API lives under /api only, checks its query, and pages newest first', async () => {
    const comfy = await server(true);
    const { client, events } = await connected(comfy);
    const ids: string[] = [];
    for (let index = 0; index < 3; index += 1)
      ids.push((await client.queuePrompt({ prompt: slowPrompt(1, 1) })).promptId);
    await waitFor(() =>
      ids.every((id) =>
        events.some((event) => event.type === 'executing' && event.data.node === null && event.data.prompt_id === id),
      ),
    );
    expect((await fetch(`${comfy.url}/jobs`)).status).toBe(404);
    const bad = await fetch(`${comfy.url}/api/jobs?status=done`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'Invalid status value(s): done. Valid values: pending, in_progress, completed, failed, cancelled',
    });
    expect(await (await fetch(`${comfy.url}/api/jobs?limit=0`)).json()).toEqual({
      error: 'limit must be a positive integer',
    });
    const page = (await (await fetch(`${comfy.url}/api/jobs?status=completed&limit=2`)).json()) as {
      jobs: Array<Record<string, unknown>>;
      pagination: Record<string, unknown>;
    };
    expect(page.pagination).toEqual({ offset: 0, limit: 2, total: 3, has_more: true });
    expect(page.jobs[0]).toMatchObject({ status: 'completed', outputs_count: 1, previewable_outputs_count: 1 });
    expect(page.jobs[0]).not.toHaveProperty('workflow');
    const createTimes = page.jobs.map((job) => job.create_time as number);
    expect(createTimes[0]).toBeGreaterThanOrEqual(createTimes[1]!);
    const invalidBatch = await fetch(`${comfy.url}/api/jobs/cancel`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ job_ids: ['not-a-uuid'] }),
    });
    expect(invalidBatch.status).toBe(400);
    expect(await invalidBatch.json()).toEqual({ error: 'job_ids contains invalid id(s)', invalid_ids: ['not-a-uuid'] });
    expect(await (await fetch(`${comfy.url}/api/jobs/${ids[0]}/cancel`, { method: 'POST' })).json()).toEqual({
      cancelled: false,
    });
  });
});

describe('generation through the core on a newer server', () => {
  test('a job runs to success and its image is saved, with the job service reading /api/jobs', async () => {
    const comfy = await server(true);
    const data = tempDir('comfydesk-newer-');
    cleanup.push(() => data.remove());
    mkdirSync(join(data.path, 'workflows'), { recursive: true });
    writeFileSync(join(data.path, 'workflows', 'peer.json'), JSON.stringify(slowPrompt(3)));
    const started = await startTestCore({
      dataDir: data.path,
      settings: {
        connections: {
          profiles: [{ id: 'new', kind: 'url', name: 'Newer ComfyUI', url: comfy.url }],
          activeId: 'new',
          alsoOnline: [],
        },
      },
      core: {
        connections: { healthIntervalMs: 300, checkTimeoutMs: 1500, backoff: { initialDelayMs: 50, maxDelayMs: 300 } },
        jobs: { busyPollMs: 100, idlePollMs: 300, historyWaitMs: 2000 },
      },
    });
    cleanup.push(() => started.stop());
    const { core } = started;
    await waitFor(() => core.connections.client('new')?.isSocketOpen, { timeoutMs: 8000 });
    await waitFor(() => core.library.records().length === 1);
    const workflowId = core.library.records()[0]!.id;
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId });
    const job = await waitFor(
      () => {
        const current = core.jobs.get(jobIds[0]!);
        return current && ['succeeded', 'failed', 'cancelled', 'lost'].includes(current.status) ? current : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(job.status).toBe('succeeded');
    expect(job.outputs[0]).toMatchObject({ kind: 'image', localPath: expect.any(String) });
    const paths = comfy.requests.map((request) => request.path.split('?')[0]);
    expect(paths).toContain(`/api/jobs/${job.promptId}`);
    expect(paths).not.toContain(`/api/history/${job.promptId}`);
  });
});
