import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { EventMap } from '@shared/contract/events';
import { isFinished, type Job } from '@shared/domain/job';
import type { Core } from '../../src/main/core/create-core';
import { ApiClient } from '../../src/renderer/src/api/client';
import { createWsTransport } from '../../src/renderer/src/api/ws-transport';
import { startCli, type RunningCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { solidPng } from '../support/comfy-server/images';
import { startComfyProxy, type ComfyProxy } from '../support/comfy-proxy';
import { startTestCore, tempDir, waitFor } from '../support/core';

const FAST_CONNECTIONS = {
  healthIntervalMs: 300,
  checkTimeoutMs: 1500,
  backoff: { initialDelayMs: 50, maxDelayMs: 300 },
};
const FAST_JOBS = { busyPollMs: 100, idlePollMs: 300, historyWaitMs: 2000, unconfirmedGraceMs: 0 };

/** EmptyImage → PeerSlowSteps (reports steps) → SaveImage. */
function peerWorkflow(steps: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 32, height: 32, batch_size: 1, color: 255 } },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps, step_ms: 30, preview: false },
      _meta: { title: 'Slow sampler' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'restart' } },
  };
}

/** Everything a test started, released in reverse order after it. */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function comfyServer(options: Parameters<typeof startComfyServer>[0] = {}): Promise<ComfyTestServer> {
  const comfy = await startComfyServer(options);
  cleanups.push(() => comfy.stop());
  return comfy;
}

async function proxyFor(comfy: ComfyTestServer): Promise<ComfyProxy> {
  const proxy = await startComfyProxy(comfy.url);
  cleanups.push(() => proxy.stop());
  return proxy;
}

/** A data folder with one workflow, `peer.json` (or the one given). */
function dataFolder(steps: number, workflow: Record<string, unknown> = peerWorkflow(steps)): string {
  const data = tempDir('comfydesk-restart-');
  cleanups.push(() => data.remove());
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(join(data.path, 'workflows', 'peer.json'), JSON.stringify(workflow));
  return data.path;
}

function settingsFor(url: string) {
  return {
    connections: {
      profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url }],
      activeId: 'test',
      alsoOnline: [],
    },
  };
}

/** A ComfyDesk core on `dataDir` talking to `url`, stopped after the test unless stopped before. */
async function startDesk(dataDir: string, url: string): Promise<Core> {
  const { core } = await startTestCore({
    dataDir,
    settings: settingsFor(url),
    core: { connections: FAST_CONNECTIONS, jobs: FAST_JOBS },
  });
  cleanups.push(() => core.stop());
  await waitFor(() => core.connections.client('test')?.isSocketOpen && core.library.records().length > 0, {
    timeoutMs: 8000,
    message: 'ComfyDesk did not come online',
  });
  return core;
}

function workflowIdOf(core: Core): string {
  return core.library.records().find((record) => record.path === 'peer.json')!.id;
}

async function finished(core: Core, jobId: string, timeoutMs = 15_000): Promise<Job> {
  return waitFor(
    () => {
      const job = core.jobs.get(jobId);
      return job && isFinished(job.status) ? job : undefined;
    },
    { timeoutMs, message: `job ${jobId} did not finish (${core.jobs.get(jobId)?.status})` },
  );
}

function promptPosts(comfy: ComfyTestServer): number {
  return comfy.requests.filter((request) => request.method === 'POST' && /\/prompt$/.test(request.path)).length;
}

describe('nothing lost, nothing run twice', () => {
  test('killed between sending a prompt and its answer, ComfyDesk finds the prompt on the server after a restart: it is adopted under the same id and ComfyUI runs it once', async () => {
    const comfy = await comfyServer();
    const proxy = await proxyFor(comfy);
    proxy.setPromptMode('hold');
    const dataDir = dataFolder(30);
    writeFileSync(join(dataDir, 'settings.json'), JSON.stringify(settingsFor(proxy.url)));

    // A real serve process: it is killed (SIGKILL), so nothing of it runs after the send.
    const serve: RunningCli = startCli(['serve', '--data-dir', dataDir, '--port', '0', '--json']);
    cleanups.push(async () => {
      serve.child.kill('SIGKILL');
      await serve.exited;
    });
    const { port, url } = JSON.parse(await serve.waitForLine(/"url"/)) as { port: number; url: string };
    const token = new URL(url).searchParams.get('token')!;
    const api = new ApiClient(
      createWsTransport({ url: `ws://127.0.0.1:${port}/ws?token=${token}`, initialDelayMs: 20, maxDelayMs: 100 }),
      { timeoutMs: 5000 },
    );
    cleanups.push(() => api.close());
    const jobIds = await waitFor(
      async () => {
        const { items } = await api.call('workflows.list', {});
        const card = items.find((item) => item.path === 'peer.json');
        return card ? (await api.call('jobs.enqueue', { workflowId: card.id })).jobIds : undefined;
      },
      { timeoutMs: 10_000, message: 'the serve process never took the job' },
    );
    const answer = await proxy.nextWithheldAnswer();
    serve.child.kill('SIGKILL');
    await serve.exited;
    api.close();
    expect(promptPosts(comfy)).toBe(1);

    // ComfyDesk starts again on the same data folder, straight to the server.
    const core = await startDesk(dataDir, comfy.url);
    const job = await finished(core, jobIds[0]!);
    expect(job).toMatchObject({ status: 'succeeded', promptId: answer.prompt_id });
    expect(job.outputs[0]?.localPath).toBeDefined();
    await comfy.waitForIdle();
    expect(promptPosts(comfy)).toBe(1);
    expect(Object.keys(comfy.history())).toEqual([answer.prompt_id]);
  });

  test('a prompt whose answer is cut off is found on the server and adopted, not sent again', async () => {
    const comfy = await comfyServer();
    const proxy = await proxyFor(comfy);
    const core = await startDesk(dataFolder(10), proxy.url);
    proxy.setPromptMode('cut-after', { times: 1 });
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: workflowIdOf(core) });
    const answer = await proxy.nextWithheldAnswer();
    const job = await finished(core, jobIds[0]!);
    expect(job).toMatchObject({ status: 'succeeded', promptId: answer.prompt_id });
    await comfy.waitForIdle();
    expect(promptPosts(comfy)).toBe(1);
    expect(proxy.prompts).toHaveLength(1);
  });

  test('a prompt that never reached the server is sent again under the same prompt id, and runs once', async () => {
    const comfy = await comfyServer();
    const proxy = await proxyFor(comfy);
    const core = await startDesk(dataFolder(3), proxy.url);
    // Only the first send is cut: a test that switched back by hand could miss the moment and see three.
    proxy.setPromptMode('cut-before', { times: 1 });
    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: workflowIdOf(core) });
    const job = await finished(core, jobIds[0]!);
    expect(job.status).toBe('succeeded');
    expect(proxy.prompts.map((prompt) => prompt.prompt_id)).toEqual([job.promptId, job.promptId]);
    await comfy.waitForIdle();
    expect(promptPosts(comfy)).toBe(1);
  });

  test('a job still running when ComfyDesk restarts shows live progress again, by its node and step, without going back', async () => {
    const comfy = await comfyServer({ stepMs: 40 });
    const dataDir = dataFolder(60);
    const first = await startDesk(dataDir, comfy.url);
    const { jobIds } = await first.router.call('jobs.enqueue', { workflowId: workflowIdOf(first) });
    const jobId = jobIds[0]!;
    await waitFor(() => (first.jobs.get(jobId)?.progress?.step ?? 0) >= 3, { message: 'the job never ran' });
    await first.stop();

    const { core } = await startTestCore({
      dataDir,
      settings: settingsFor(comfy.url),
      core: { connections: FAST_CONNECTIONS, jobs: FAST_JOBS },
    });
    cleanups.push(() => core.stop());
    const progress: Array<EventMap['generation.progress']['progress']> = [];
    core.events.on('generation.progress', (event) => {
      if (event.jobId === jobId) progress.push(event.progress);
    });
    const job = await finished(core, jobId);
    expect(job.status).toBe('succeeded');
    const steps = progress.filter((item) => item.nodeTitle === 'Slow sampler' && item.step !== null);
    expect(steps.length).toBeGreaterThan(3);
    expect(steps[0]!.percent).toBeGreaterThan(0); // the nodes before the sampler count as done
    const percents = progress.map((item) => item.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(steps.at(-1)!.step).toBeGreaterThan(steps[0]!.step!);
  });

  test('pause survives a restart: the held jobs stay held, and run once the queue is resumed', async () => {
    const comfy = await comfyServer({ stepMs: 1 });
    const dataDir = dataFolder(2);
    const first = await startDesk(dataDir, comfy.url);
    await first.router.call('jobs.setPaused', { paused: true });
    const { jobIds } = await first.router.call('jobs.enqueue', { workflowId: workflowIdOf(first), count: 2 });
    await first.stop();
    const queueReads = () => comfy.requests.filter((request) => /\/queue$/.test(request.path)).length;
    const readsBefore = queueReads();

    const core = await startDesk(dataDir, comfy.url);
    expect(await core.router.call('jobs.list', {})).toMatchObject({
      paused: true,
      jobs: jobIds.map((id) => ({ id, status: 'held' })),
    });
    // The new session has read the server's queue (and would have released anything then).
    await waitFor(() => queueReads() > readsBefore, { message: 'the new session never read the queue' });
    expect(jobIds.map((id) => core.jobs.get(id)?.status)).toEqual(['held', 'held']);
    expect(promptPosts(comfy)).toBe(0);
    await core.router.call('jobs.setPaused', { paused: false });
    for (const id of jobIds) expect((await finished(core, id)).status).toBe('succeeded');
  });

  test('a held job keeps the file dropped for it across a restart, and uploads it when it is released', async () => {
    const comfy = await comfyServer();
    const dataDir = dataFolder(0, {
      '1': { class_type: 'LoadImage', inputs: { image: 'example.png' }, _meta: { title: 'Photo' } },
      '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'dropped' } },
    });
    const first = await startDesk(dataDir, comfy.url);
    const workflowId = workflowIdOf(first);
    const form = await first.router.call('generation.form', { workflowId });
    const photo = form.parameters.find((parameter) => parameter.targets.some((target) => target.nodeId === '1'))!;
    const photoFile = join(dataDir, 'my photo.png');
    writeFileSync(photoFile, solidPng(8, 8, 0x336699));
    const staged = await first.router.call('generation.stageFile', { path: photoFile });
    await first.router.call('jobs.setPaused', { paused: true });
    const { jobIds } = await first.router.call('jobs.enqueue', {
      workflowId,
      values: { [photo.id]: { staged: staged.id } },
    });
    await first.stop();

    const core = await startDesk(dataDir, comfy.url);
    await core.router.call('jobs.setPaused', { paused: false });
    const job = await finished(core, jobIds[0]!);
    expect(job.status).toBe('succeeded');
    const sent = (
      comfy.history()[job.promptId!] as { prompt: [number, string, Record<string, { inputs: { image?: string } }>] }
    ).prompt[2];
    expect(sent['1']!.inputs.image).toBe('my photo.png');
  });
});
