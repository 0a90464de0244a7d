import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { EventMap } from '@shared/contract/events';
import type { Job } from '@shared/domain/job';
import type { Core } from '../../src/main/core/create-core';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, waitFor } from '../support/core';

const FAST_CONNECTIONS = {
  healthIntervalMs: 300,
  checkTimeoutMs: 1500,
  backoff: { initialDelayMs: 50, maxDelayMs: 300 },
};

/** EmptyImage → PeerSlowSteps (a sampler stand-in that reports steps and previews) → SaveImage. */
function peerWorkflow(steps = 5): Record<string, unknown> {
  return {
    '1': {
      class_type: 'EmptyImage',
      inputs: { width: 64, height: 64, batch_size: 1, color: 16711680 },
      _meta: { title: 'Canvas' },
    },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps, step_ms: 30, preview: true },
      _meta: { title: 'Slow sampler' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'peer' }, _meta: { title: 'Save' } },
  };
}

interface Harness {
  comfy: ComfyTestServer;
  core: Core;
  dataDir: string;
  events: Array<{ name: keyof EventMap; payload: unknown }>;
  workflowId: (file: string) => string;
  stop: () => Promise<void>;
}

let harness: Harness | undefined;

async function setup(
  workflows: Record<string, unknown> = { 'peer.json': peerWorkflow() },
  comfyOptions: Parameters<typeof startComfyServer>[0] = {},
): Promise<Harness> {
  const comfy = await startComfyServer(comfyOptions);
  const { tempDir } = await import('../support/core');
  const data = tempDir('comfydesk-jobs-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  for (const [name, content] of Object.entries(workflows))
    writeFileSync(join(data.path, 'workflows', name), JSON.stringify(content));
  const started = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
        activeId: 'test',
        alsoOnline: [],
      },
    },
    core: { connections: FAST_CONNECTIONS, jobs: { busyPollMs: 100, idlePollMs: 300, historyWaitMs: 2000 } },
  });
  const { core } = started;
  const events: Harness['events'] = [];
  core.events.onAny((name, payload) => events.push({ name, payload }));
  await waitFor(
    () => core.connections.health('test').state === 'online' && core.connections.client('test')?.isSocketOpen,
    { timeoutMs: 8000, message: 'test server not online' },
  );
  await waitFor(() => core.library.records().length >= Object.keys(workflows).length, {
    message: 'workflows not scanned',
  });
  return {
    comfy,
    core,
    dataDir: data.path,
    events,
    workflowId: (file) => core.library.records().find((record) => record.path === file)!.id,
    stop: async () => {
      await started.stop();
      await comfy.stop();
      data.remove();
    },
  };
}

beforeEach(() => {
  harness = undefined;
});

afterEach(async () => {
  await harness?.stop();
});

/** The statuses a job went through, as `jobs.updated` told them (each change once). */
function statusesOf(events: Harness['events'], jobId: string): string[] {
  const statuses: string[] = [];
  for (const event of events) {
    if (event.name !== 'jobs.updated' || (event.payload as Job).id !== jobId) continue;
    const { status } = event.payload as Job;
    if (statuses.at(-1) !== status) statuses.push(status);
  }
  return statuses;
}

function jobOf(core: Core, jobId: string): Job | undefined {
  return core.jobs.get(jobId);
}

async function finished(core: Core, jobId: string, timeoutMs = 10_000): Promise<Job> {
  return waitFor(
    () => {
      const job = jobOf(core, jobId);
      return job && ['succeeded', 'failed', 'cancelled', 'lost'].includes(job.status) ? job : undefined;
    },
    { timeoutMs, message: `job ${jobId} did not finish (${jobOf(core, jobId)?.status})` },
  );
}

describe('generation against the ComfyUI protocol server', () => {
  test("the form lists the workflow's parameters with the server's constraints", async () => {
    harness = await setup();
    const form = await harness.core.router.call('generation.form', { workflowId: harness.workflowId('peer.json') });
    expect(form).toMatchObject({ serverId: 'test', format: 'api', missingNodeTypes: [] });
    const width = form.parameters.find((parameter) => parameter.kind === 'width');
    expect(width).toMatchObject({
      targets: [{ nodeId: '1', inputName: 'width' }],
      value: 64,
      constraints: { type: 'INT', min: 1 },
    });
  });

  test('a full run: queued with our client id, progress is monotonic to 100, the current node is named by its title, previews arrive, and the output is saved', async () => {
    harness = await setup();
    const { core, comfy, events } = harness;
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: harness.workflowId('peer.json') });
    const job = await finished(core, jobIds[0]!);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(1);
    const output = job.outputs[0]!;
    expect(output).toMatchObject({ kind: 'image', filename: 'peer_00001_.png', type: 'output', mime: 'image/png' });
    const saved = join(core.outputsDir(), output.localPath!);
    expect(existsSync(saved)).toBe(true);
    expect(readFileSync(saved).subarray(1, 4).toString()).toBe('PNG');

    // The server saw our socket's client id with the prompt.
    const entry = comfy.history()[job.promptId!] as {
      prompt: [number, string, unknown, { client_id?: string; extra_pnginfo?: unknown }];
    };
    expect(entry.prompt[3].client_id).toBe(core.connections.client('test')!.clientId);
    expect(entry.prompt[3].extra_pnginfo).toBeDefined();

    const progress = events
      .filter((event) => event.name === 'generation.progress')
      .map((event) => (event.payload as EventMap['generation.progress']).progress);
    const percents = progress.map((item) => item.percent);
    expect(percents.length).toBeGreaterThan(3);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(Math.max(...percents)).toBeLessThan(100);
    expect(progress.some((item) => item.nodeTitle === 'Slow sampler' && item.step === 3 && item.steps === 5)).toBe(
      true,
    );
    expect(job.progress?.percent).toBe(100);
    expect(events.some((event) => event.name === 'generation.preview')).toBe(true);
    // Started, then finished, each told once by the job's status (it may start before /prompt answers).
    expect(statusesOf(events, job.id).filter((status) => status !== 'queued')).toEqual([
      'held',
      'running',
      'succeeded',
    ]);

    // It is in the history, searchable, with a duration the library can use for estimates.
    const history = await core.router.call('history.list', {});
    expect(history.jobs[0]).toMatchObject({ id: job.id, status: 'succeeded' });
    expect(core.history.durations(job.workflowId!, 'test')).toHaveLength(1);
  });

  test('a run ComfyUI answers from its cache is marked cached, in the job and in history; a changed input runs again', async () => {
    harness = await setup();
    const { core } = harness;
    const workflowId = harness.workflowId('peer.json');
    const first = await finished(core, (await core.router.call('jobs.enqueue', { workflowId })).jobIds[0]!);
    expect(first.status).toBe('succeeded');
    expect(first.isCached).toBeUndefined();

    const again = await finished(core, (await core.router.call('jobs.enqueue', { workflowId })).jobIds[0]!);
    expect(again.status).toBe('succeeded');
    expect(again.isCached).toBe(true);
    expect((await core.router.call('history.get', { jobId: again.id })).job.isCached).toBe(true);

    const changed = await finished(
      core,
      (await core.router.call('jobs.enqueue', { workflowId, values: { steps: 4 } })).jobIds[0]!,
    );
    expect(changed.status).toBe('succeeded');
    expect(changed.isCached).toBeUndefined();
  });

  test("a validation error comes back with the node's title and ComfyUI's own message; nothing runs", async () => {
    const broken = {
      '1': { class_type: 'LoadImage', inputs: { image: 'not-there.png' }, _meta: { title: 'My photo' } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } },
    };
    harness = await setup({ 'broken.json': broken });
    const { jobIds } = await harness.core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('broken.json'),
    });
    const job = await finished(harness.core, jobIds[0]!);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ nodeId: '1', nodeTitle: 'My photo' });
    expect(job.error!.message).toContain('My photo');
    expect(job.error!.message).toContain('Invalid image file');
    expect(Object.keys(harness.comfy.history())).toEqual([]);
  });

  test("a node that raises fails the job with ComfyUI's exception, under the node's title", async () => {
    harness = await setup();
    harness.comfy.injectFailure({ classType: 'PeerSlowSteps', kind: 'exception', message: 'CUDA out of memory' });
    const { jobIds } = await harness.core.router.call('jobs.enqueue', { workflowId: harness.workflowId('peer.json') });
    const job = await finished(harness.core, jobIds[0]!);
    expect(job).toMatchObject({ status: 'failed', error: { nodeTitle: 'Slow sampler', nodeId: '2' } });
    expect(job.error!.message).toContain('CUDA out of memory');
    expect(statusesOf(harness.events, job.id).at(-1)).toBe('failed');
  });

  test('cancelling a running job interrupts it by prompt id; cancelling a held one drops it; the server queue is left empty', async () => {
    harness = await setup({ 'peer.json': peerWorkflow(200) });
    const { core, comfy } = harness;
    const { jobIds } = await core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('peer.json'),
      count: 2,
      seedMode: 'fixed',
    });
    const [first, second] = jobIds as [string, string];
    await waitFor(() => jobOf(core, first)?.status === 'running' && (jobOf(core, first)?.progress?.step ?? 0) >= 1, {
      message: 'first job never ran',
    });
    expect(jobOf(core, second)?.status).toBe('held');
    await core.router.call('jobs.cancel', { jobId: second });
    expect(jobOf(core, second)?.status).toBe('cancelled');
    await core.router.call('jobs.cancel', { jobId: first });
    // A cancel the person asked for is no error: just cancelled.
    expect(await finished(core, first)).toMatchObject({ status: 'cancelled', error: null });
    expect(jobOf(core, second)).toMatchObject({ status: 'cancelled', error: null });
    await comfy.waitForIdle();
    expect(comfy.queue()).toEqual({ running: [], pending: [] });
    const last = (
      comfy.history()[jobOf(core, first)!.promptId!] as { status: { messages: Array<[string]> } }
    ).status.messages.at(-1)![0];
    expect(last).toBe('execution_interrupted');
  });

  test("cancelling a job pending on the server removes it from the server's queue", async () => {
    harness = await setup({ 'peer.json': peerWorkflow(200) });
    const { core, comfy } = harness;
    core.settings.update({ generation: { maxInFlightPerServer: 2 } });
    const { jobIds } = await core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('peer.json'),
      count: 2,
      seedMode: 'fixed',
    });
    const [first, second] = jobIds as [string, string];
    await waitFor(() => jobOf(core, second)?.status === 'queued' && comfy.queue().pending.length === 1, {
      message: 'second job not pending',
    });
    await core.router.call('jobs.cancel', { jobId: second });
    expect(jobOf(core, second)?.status).toBe('cancelled');
    expect(comfy.queue().pending).toEqual([]);
    await core.router.call('jobs.cancel', { jobId: first });
    await finished(core, first);
  });

  test('pause holds the queue (the running job finishes), resume releases it, and held jobs can be reordered', async () => {
    harness = await setup();
    const { core } = harness;
    core.jobs.setPaused(true);
    const { jobIds } = await core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('peer.json'),
      count: 3,
      seedMode: 'increment',
    });
    expect(jobIds.map((id) => jobOf(core, id)?.status)).toEqual(['held', 'held', 'held']);
    await core.router.call('jobs.move', { jobId: jobIds[2]!, toIndex: 0 });
    expect((await core.router.call('jobs.list', {})).jobs.map((job) => job.id)).toEqual([
      jobIds[2],
      jobIds[0],
      jobIds[1],
    ]);
    const startOrder: string[] = [];
    core.events.on('jobs.updated', (job) => {
      if (job.status === 'running' && !startOrder.includes(job.id)) startOrder.push(job.id);
    });
    await core.router.call('jobs.setPaused', { paused: false });
    for (const id of jobIds) expect((await finished(core, id)).status).toBe('succeeded');
    expect(startOrder).toEqual([jobIds[2], jobIds[0], jobIds[1]]);
  });

  test('jobs queued by other clients appear, marked as foreign, and disappear when done', async () => {
    harness = await setup({ 'peer.json': peerWorkflow(40) });
    const { core, comfy } = harness;
    const response = await fetch(`${comfy.url}/prompt`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: peerWorkflow(40), client_id: 'someone-else' }),
    });
    const { prompt_id: promptId } = (await response.json()) as { prompt_id: string };
    const foreign = await waitFor(() => core.jobs.snapshot().jobs.find((job) => job.promptId === promptId));
    expect(foreign).toMatchObject({ origin: 'foreign', serverId: 'test' });
    await comfy.waitForIdle();
    await waitFor(() => !core.jobs.snapshot().jobs.some((job) => job.promptId === promptId), {
      message: 'foreign job still listed',
    });
  });

  test('when the socket drops mid-run, the REST poll and reconnect still finish the job with its outputs', async () => {
    harness = await setup({ 'peer.json': peerWorkflow(20) });
    const { core, comfy } = harness;
    comfy.injectFailure({ classType: 'PeerSlowSteps', kind: 'disconnect' });
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: harness.workflowId('peer.json') });
    const job = await finished(core, jobIds[0]!);
    expect(job.status).toBe('succeeded');
    expect(job.outputs[0]?.localPath).toBeDefined();
  });

  test('a server restart mid-run loses the job, says why, keeps its parameters, and Retry runs it again', async () => {
    harness = await setup({ 'peer.json': peerWorkflow(200) });
    const { core, comfy } = harness;
    const { jobIds } = await core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('peer.json'),
      values: {},
    });
    await waitFor(() => jobOf(core, jobIds[0]!)?.status === 'running');
    await comfy.restart();
    const lost = await finished(core, jobIds[0]!);
    expect(lost.status).toBe('lost');
    expect(lost.error?.message).toContain('Retry');
    comfy.setTiming({ stepMs: 5 });
    await waitFor(() => core.connections.client('test')?.isSocketOpen, { timeoutMs: 8000 });
    const { jobIds: retried } = await core.router.call('jobs.retry', { jobId: lost.id });
    const again = await finished(core, retried[0]!);
    expect(again.status).toBe('succeeded');
    expect(again.parameters).toEqual(lost.parameters);
  });

  test('100 queued jobs: held in order, released one at a time, all finish', async () => {
    harness = await setup({ 'peer.json': peerWorkflow(1) }, { stepMs: 0 });
    const { core, comfy } = harness;
    const { jobIds } = await core.router.call('jobs.enqueue', {
      workflowId: harness.workflowId('peer.json'),
      count: 100,
      seedMode: 'increment',
    });
    expect(jobIds).toHaveLength(100);
    let maxOnServer = 0;
    const watcher = setInterval(
      () => (maxOnServer = Math.max(maxOnServer, comfy.queue().running.length + comfy.queue().pending.length)),
      5,
    );
    try {
      for (const id of jobIds) expect((await finished(core, id, 60_000)).status).toBe('succeeded');
    } finally {
      clearInterval(watcher);
    }
    expect(maxOnServer).toBeLessThanOrEqual(1);
    expect(
      (await core.router.call('history.list', { limit: 200 })).jobs.filter((job) => job.status === 'succeeded'),
    ).toHaveLength(100);
  }, 90_000);

  test('history: search by prompt words, delete with files', async () => {
    harness = await setup();
    const { core } = harness;
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: harness.workflowId('peer.json') });
    const job = await finished(core, jobIds[0]!);
    const file = join(core.outputsDir(), job.outputs[0]!.localPath!);
    expect(existsSync(file)).toBe(true);
    await core.router.call('history.delete', { jobId: job.id, deleteFiles: true });
    expect(existsSync(file)).toBe(false);
    expect((await core.router.call('history.list', {})).jobs).toEqual([]);
    await expect(core.router.call('history.get', { jobId: job.id })).rejects.toMatchObject({
      error: { code: 'job_not_found' },
    });
  });

  test('unfinished jobs survive a restart of ComfyDesk: held ones wait again, a run that finished meanwhile is picked up from the server', async () => {
    const { tempDir } = await import('../support/core');
    const data = tempDir('comfydesk-restart-');
    const dataDir = data.path;
    mkdirSync(join(dataDir, 'workflows'), { recursive: true });
    writeFileSync(join(dataDir, 'workflows', 'peer.json'), JSON.stringify(peerWorkflow(30)));
    const restartedComfy = await startComfyServer();
    const settings = {
      connections: {
        profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: restartedComfy.url }],
        activeId: 'test',
        alsoOnline: [],
      },
    };
    const options = { connections: FAST_CONNECTIONS, jobs: { busyPollMs: 100, idlePollMs: 300, historyWaitMs: 2000 } };
    // First run of ComfyDesk: one job sent (running), one held behind it; then ComfyDesk quits.
    const first = await startTestCore({ dataDir, settings, core: options });
    await waitFor(
      () => first.core.connections.client('test')?.isSocketOpen && first.core.library.records().length > 0,
      { timeoutMs: 8000 },
    );
    const workflowId = first.core.library.records().find((record) => record.path === 'peer.json')!.id;
    const { jobIds } = await first.core.router.call('jobs.enqueue', { workflowId, count: 2, seedMode: 'fixed' });
    await waitFor(() => jobOf(first.core, jobIds[0]!)?.status === 'running');
    await first.core.stop();
    await restartedComfy.waitForIdle();
    // Second run: the finished one is read from the server's history with its output; the held one runs.
    const second = await startTestCore({ dataDir, settings, core: options });
    try {
      const done = await finished(second.core, jobIds[0]!);
      expect(done.status).toBe('succeeded');
      expect(done.outputs[0]?.localPath).toBeDefined();
      expect((await finished(second.core, jobIds[1]!)).status).toBe('succeeded');
    } finally {
      await second.core.stop();
      await restartedComfy.stop();
      data.remove();
    }
  });
});
