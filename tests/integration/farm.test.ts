import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { isFinished, type Job } from '@shared/domain/job';
import type { Core } from '../../src/main/core/create-core';
import { startComfyServer, type ComfyServerOptions, type ComfyTestServer } from '../support/comfy-server';
import { solidPng } from '../support/comfy-server/images';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

const FAST_CONNECTIONS = {
  healthIntervalMs: 200,
  checkTimeoutMs: 1500,
  backoff: { initialDelayMs: 50, maxDelayMs: 200 },
};
const FAST_JOBS = { busyPollMs: 100, idlePollMs: 200, historyWaitMs: 2000, unconfirmedGraceMs: 0 };

/** EmptyImage → SaveImage: runs on any server. */
const PLAIN = {
  '1': { class_type: 'EmptyImage', inputs: { width: 16, height: 16, batch_size: 1, color: 0 } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'farm' } },
};

/** EmptyImage → PeerSlowSteps → SaveImage: runs only where the PeerSlowSteps pack is installed. */
function peer(steps: number) {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 16, height: 16, batch_size: 1, color: 0 } },
    '2': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps, step_ms: 10, preview: false } },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'peer' } },
  };
}

/** LoadImage → PeerSlowSteps → SaveImage: needs its input file on the server it runs on. */
const PHOTO = {
  '1': { class_type: 'LoadImage', inputs: { image: 'example.png' } },
  '2': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: 2, step_ms: 10, preview: false } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'photo' } },
};

/** A checkpoint no server has. */
const FLUX = {
  '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'flux1-dev.safetensors' } },
  '2': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
  '3': { class_type: 'VAEDecode', inputs: { samples: ['2', 0], vae: ['1', 2] } },
  '4': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'flux' } },
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let sshd: TestSshd | undefined;
beforeAll(async () => {
  if (SSHD_PATH) sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

async function comfy(options: ComfyServerOptions = {}): Promise<ComfyTestServer> {
  const server = await startComfyServer(options);
  cleanups.push(() => server.stop());
  return server;
}

/** A profile for each server: URL profiles, and the one named `ssh` through the real sshd. */
function profilesFor(servers: Record<string, ComfyTestServer>, sshId?: string) {
  return Object.entries(servers).map(([id, server]) =>
    id === sshId && sshd
      ? {
          id,
          kind: 'ssh',
          name: `Pod ${id}`,
          host: sshd.host,
          port: sshd.port,
          username: sshd.user,
          auth: 'key',
          keyPath: sshd.clientKeyPath,
          remotePort: server.port,
          pinnedHostKey: sshd.hostKeyFingerprint(),
        }
      : { id, kind: 'url', name: `Server ${id}`, url: server.url },
  );
}

/** A core whose farm is every server given (the first is the default), with the workflows written to its library. */
async function farm(
  servers: Record<string, ComfyTestServer>,
  options: {
    sshId?: string;
    maxInFlightPerServer?: number;
    retryLostElsewhere?: boolean;
    offline?: string[];
    /** The data folder of a core started before (a restart); a new one by default. */
    dataDir?: string;
  } = {},
): Promise<Core> {
  const data = options.dataDir ? { path: options.dataDir } : tempDir('comfydesk-farm-');
  if ('remove' in data) cleanups.push(() => data.remove());
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  const workflows = { plain: PLAIN, peer: peer(3), long: peer(60), flux: FLUX, photo: PHOTO };
  for (const [name, workflow] of Object.entries(workflows))
    writeFileSync(join(data.path, 'workflows', `${name}.json`), JSON.stringify(workflow));
  const known = join(data.path, 'known_hosts');
  writeFileSync(known, '');
  const ids = Object.keys(servers);
  const { core } = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: profilesFor(servers, options.sshId),
        activeId: ids[0],
        alsoOnline: [],
        generation: ids.slice(1),
      },
      generation: {
        maxInFlightPerServer: options.maxInFlightPerServer ?? 1,
        failoverGraceSeconds: 0.2,
        retryLostElsewhere: options.retryLostElsewhere ?? false,
      },
    },
    core: { connections: { ...FAST_CONNECTIONS, knownHostsPath: known }, jobs: FAST_JOBS },
  });
  cleanups.push(() => core.stop());
  const online = ids.filter((id) => !options.offline?.includes(id));
  await waitFor(() => online.every((id) => core.connections.inventory(id)) && core.library.records().length === 5, {
    timeoutMs: 15_000,
    message: 'the farm did not come online',
  });
  return core;
}

const workflowId = (core: Core, name: string) => core.library.records().find((r) => r.path === `${name}.json`)!.id;

async function enqueue(core: Core, name: string, count = 1, servers?: string[]): Promise<string[]> {
  const input = { workflowId: workflowId(core, name), count, ...(servers ? { servers } : {}) };
  return (await core.router.call('jobs.enqueue', input)).jobIds;
}

async function allFinished(core: Core, jobIds: string[], timeoutMs = 20_000): Promise<Job[]> {
  return waitFor(
    () => {
      const jobs = jobIds.map((id) => core.jobs.get(id));
      return jobs.every((job) => job && isFinished(job.status)) ? (jobs as Job[]) : undefined;
    },
    { timeoutMs, message: `jobs did not finish: ${jobIds.map((id) => core.jobs.get(id)?.status).join(', ')}` },
  );
}

/** Prompt ids a server ran (its history), and where each of ours ran: every succeeded job exactly once. */
function ranOnce(jobs: Job[], servers: Record<string, ComfyTestServer>): void {
  const histories = Object.fromEntries(Object.entries(servers).map(([id, s]) => [id, Object.keys(s.history())]));
  for (const job of jobs.filter((item) => item.status === 'succeeded')) {
    const holders = Object.entries(histories).filter(([, ids]) => ids.includes(job.promptId!));
    expect(holders.map(([id]) => id)).toEqual([job.serverId]);
  }
}

describe.skipIf(!SSHD_PATH)('several servers as one', () => {
  test('a batch of 8 spreads over three URL servers and one behind a real sshd, each run once', async () => {
    const servers = {
      a: await comfy({ nodeMs: 60 }),
      b: await comfy({ nodeMs: 60 }),
      c: await comfy({ nodeMs: 60 }),
      d: await comfy({ nodeMs: 60 }),
    };
    const core = await farm(servers, { sshId: 'd' });
    const jobs = await allFinished(core, await enqueue(core, 'plain', 8));
    expect(jobs.map((job) => job.status)).toEqual(Array(8).fill('succeeded'));
    expect(new Set(jobs.map((job) => job.serverId))).toEqual(new Set(['a', 'b', 'c', 'd']));
    ranOnce(jobs, servers);
    const ran = Object.values(servers).reduce((sum, server) => sum + Object.keys(server.history()).length, 0);
    expect(ran).toBe(8);
    // History records the server each job ran on.
    const { jobs: recorded } = await core.router.call('history.list', {});
    expect(new Set(recorded.map((job) => job.serverId))).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  test('a job whose node type only one server has goes only there; one no server can run waits with the reason', async () => {
    const servers = {
      a: await comfy({ withoutNodes: ['PeerSlowSteps'] }),
      b: await comfy(),
      c: await comfy({ withoutNodes: ['PeerSlowSteps'] }),
      d: await comfy({ withoutNodes: ['PeerSlowSteps'] }),
    };
    const core = await farm(servers, { sshId: 'd' });
    const form = await core.router.call('generation.form', { workflowId: workflowId(core, 'peer'), serverId: 'b' });
    expect(form.missingNodeTypes).toEqual([]);
    const jobs = await allFinished(core, await enqueue(core, 'peer', 4));
    expect(jobs.map((job) => [job.status, job.serverId])).toEqual(Array(4).fill(['succeeded', 'b']));
    for (const id of ['a', 'c', 'd'] as const)
      expect(servers[id].requests.some((r) => r.path === '/prompt')).toBe(false);
    ranOnce(jobs, servers);

    const [flux] = await enqueue(core, 'flux');
    const held = await waitFor(() => core.jobs.get(flux!)?.heldReason && core.jobs.get(flux!));
    expect(held).toMatchObject({ status: 'held', heldReason: 'No connected server has flux1-dev.safetensors.' });
    await core.router.call('jobs.cancel', { jobId: flux! });
  });

  test('a job pinned to one server runs there even when others are idle', async () => {
    const servers = { a: await comfy(), b: await comfy(), c: await comfy() };
    const core = await farm(servers);
    const jobs = await allFinished(core, await enqueue(core, 'plain', 3, ['c']));
    expect(jobs.map((job) => [job.status, job.serverId])).toEqual(Array(3).fill(['succeeded', 'c']));
    expect(servers.a.requests.some((r) => r.path === '/prompt')).toBe(false);
  });

  test('a server killed mid-batch: its running job is lost and retried elsewhere, and every run completes once', async () => {
    const servers = {
      a: await comfy({ stepMs: 40 }),
      b: await comfy({ stepMs: 40 }),
      c: await comfy({ stepMs: 40 }),
      d: await comfy({ stepMs: 40 }),
    };
    const core = await farm(servers, { sshId: 'd', retryLostElsewhere: true });
    const batch = await enqueue(core, 'peer', 8);
    await waitFor(() => servers.b.queue().running.length === 1, { message: 'b never ran a job' });
    await servers.b.crash();
    const jobs = await allFinished(core, batch);
    const lost = jobs.filter((job) => job.status === 'lost');
    expect(lost.map((job) => job.serverId)).toEqual(['b']);
    expect(lost[0]!.error?.message).toMatch(/went offline while this job was running/);
    // The retry is a new job for the same run; it finishes on another server.
    const retried = await waitFor(() => {
      const found = core.history.list({}).filter((job) => job.batch === null);
      return found.length > 0 ? found : undefined;
    });
    const retries = await allFinished(
      core,
      retried.map((job) => job.id),
    );
    expect(retries.map((job) => job.status)).toEqual(['succeeded']);
    expect(retries[0]!.serverId).not.toBe('b');
    const succeeded = [...jobs.filter((job) => job.status === 'succeeded'), ...retries];
    expect(succeeded).toHaveLength(8);
    const survivors = { a: servers.a, c: servers.c, d: servers.d };
    ranOnce(
      succeeded.filter((job) => job.serverId !== 'b'),
      survivors,
    );
  });

  test('a server unreachable with a job still pending: the job moves under a new prompt id, and the old copy is deleted when the server is back', async () => {
    const b = await comfy({ stepMs: 100 });
    const c = await comfy();
    await c.crash(); // offline at first: the short job can only go to b
    const core = await farm({ b, c }, { maxInFlightPerServer: 2, offline: ['c'] });
    const [long] = await enqueue(core, 'long', 1, ['b']);
    await waitFor(() => core.jobs.get(long!)?.status === 'running', { message: 'the long job never ran on b' });
    // The waiting job has an input file: it is uploaded to b, and again to c when the job moves.
    const inputs = tempDir('comfydesk-farm-input-');
    cleanups.push(() => inputs.remove());
    const image = join(inputs.path, 'photo.png');
    writeFileSync(image, solidPng(8, 8, 0xc81e1e));
    const staged = await core.router.call('generation.stageFile', { path: image });
    const form = await core.router.call('generation.form', { workflowId: workflowId(core, 'photo'), serverId: 'b' });
    const imageParameter = form.parameters.find((parameter) => parameter.kind === 'image')!;
    const {
      jobIds: [short],
    } = await core.router.call('jobs.enqueue', {
      workflowId: workflowId(core, 'photo'),
      values: { [imageParameter.id]: { staged: staged.id } },
    });
    const queued = await waitFor(() =>
      core.jobs.get(short!)?.status === 'queued' ? core.jobs.get(short!) : undefined,
    );
    expect(queued.serverId).toBe('b');
    const oldPromptId = queued.promptId!;
    expect(b.queue().pending.map((item) => item[1])).toEqual([oldPromptId]);

    await c.start();
    await b.disconnect();
    const [moved] = await allFinished(core, [short!]);
    expect(moved).toMatchObject({ status: 'succeeded', serverId: 'c' });
    expect(moved!.promptId).not.toBe(oldPromptId);
    for (const server of [b, c])
      expect(server.requests.some((request) => request.path.endsWith('/upload/image'))).toBe(true);
    expect(core.jobs.get(long!)?.status).toBe('lost');

    await b.reconnect();
    // Back with the old copy still queued behind the long job: it is deleted there by its old prompt id.
    await waitFor(() => !b.queue().pending.some((item) => item[1] === oldPromptId), {
      timeoutMs: 8000,
      message: 'the stale copy stayed in the queue',
    });
    await b.waitForIdle(20_000);
    expect(Object.keys(b.history())).not.toContain(oldPromptId);
    expect(Object.keys(c.history())).toEqual([moved!.promptId]);
  });
});

/** Stages `photo.png` (a red 8×8 PNG) and queues the `photo` workflow with it. */
async function enqueuePhoto(core: Core, dataDir: string): Promise<{ jobId: string; bytes: Buffer }> {
  const image = join(dataDir, 'photo.png');
  const bytes = solidPng(8, 8, 0xc81e1e);
  writeFileSync(image, bytes);
  const staged = await core.router.call('generation.stageFile', { path: image });
  const form = await core.router.call('generation.form', { workflowId: workflowId(core, 'photo') });
  const imageParameter = form.parameters.find((parameter) => parameter.kind === 'image')!;
  const {
    jobIds: [jobId],
  } = await core.router.call('jobs.enqueue', {
    workflowId: workflowId(core, 'photo'),
    values: { [imageParameter.id]: { staged: staged.id } },
  });
  return { jobId: jobId!, bytes };
}

/** What a server was asked to run for a prompt: its LoadImage's file name. */
function sentImage(server: ComfyTestServer, promptId: string): string | undefined {
  const entry = server.history()[promptId] as
    { prompt: [number, string, Record<string, { inputs: { image?: string } }>] } | undefined;
  return entry?.prompt[2]['1']?.inputs.image;
}

describe('a moved job takes its input files along', () => {
  /**
   * A queues the photo job behind a long one, with B offline; ComfyDesk restarts; B comes online and
   * A goes away for good. Answers the restarted core and the photo job's id.
   */
  async function queuedOnAThenRestarted(options: { beforeRestart?: (dataDir: string) => void } = {}) {
    const a = await comfy({ stepMs: 150 });
    const b = await comfy();
    await b.crash(); // offline at first: everything goes to a
    const data = tempDir('comfydesk-farm-restart-');
    cleanups.push(() => data.remove());
    const first = await farm({ a, b }, { dataDir: data.path, maxInFlightPerServer: 2, offline: ['b'] });
    const [long] = await enqueue(first, 'long', 1, ['a']);
    await waitFor(() => first.jobs.get(long!)?.status === 'running', { message: 'the long job never ran on a' });
    const { jobId, bytes } = await enqueuePhoto(first, data.path);
    const queued = await waitFor(() =>
      first.jobs.get(jobId)?.status === 'queued' ? first.jobs.get(jobId) : undefined,
    );
    expect(queued.serverId).toBe('a');
    expect(a.requests.filter((request) => request.path.endsWith('/upload/image'))).toHaveLength(1);
    await first.stop();
    options.beforeRestart?.(data.path);

    const core = await farm({ a, b }, { dataDir: data.path, maxInFlightPerServer: 2, offline: ['b'] });
    await waitFor(() => core.jobs.get(jobId)?.status === 'queued', { message: 'the photo job was not restored' });
    await b.start();
    await a.crash();
    return { a, b, core, jobId, oldPromptId: queued.promptId!, bytes, dataDir: data.path };
  }

  test('after ComfyDesk restarted, a job moved off a dead server uploads its input file to the new one and runs there with it', async () => {
    const { a, b, core, jobId, oldPromptId, bytes } = await queuedOnAThenRestarted();
    const [moved] = await allFinished(core, [jobId]);
    expect(moved).toMatchObject({ status: 'succeeded', serverId: 'b' });
    expect(moved!.promptId).not.toBe(oldPromptId);
    expect(b.requests.filter((request) => request.path.endsWith('/upload/image'))).toHaveLength(1);
    const name = sentImage(b, moved!.promptId!);
    expect(name).toBe('photo.png');
    expect(readFileSync(join(b.dataDir, 'input', name!))).toEqual(bytes);
    expect(Object.keys(a.history())).not.toContain(moved!.promptId);
  });

  test('a job lost with its server is retried elsewhere with its input file', async () => {
    const a = await comfy({ stepMs: 400 });
    const b = await comfy();
    await b.crash(); // offline at first: the photo job runs on a
    const data = tempDir('comfydesk-farm-lost-');
    cleanups.push(() => data.remove());
    const core = await farm({ a, b }, { dataDir: data.path, offline: ['b'], retryLostElsewhere: true });
    const { jobId, bytes } = await enqueuePhoto(core, data.path);
    await waitFor(() => core.jobs.get(jobId)?.status === 'running', { message: 'the photo job never ran on a' });
    await b.start();
    await a.crash();
    const [lost] = await allFinished(core, [jobId]);
    expect(lost!.status).toBe('lost');
    const retry = await waitFor(() => core.history.list({}).find((job) => job.id !== jobId));
    const [ran] = await allFinished(core, [retry.id]);
    expect(ran).toMatchObject({ status: 'succeeded', serverId: 'b' });
    const name = sentImage(b, ran!.promptId!);
    expect(readFileSync(join(b.dataDir, 'input', name!))).toEqual(bytes);
  });

  test('after a restart, a job whose staged file is gone fails and names the file instead of moving without it', async () => {
    const { b, core, jobId } = await queuedOnAThenRestarted({
      beforeRestart: (dataDir) => rmSync(join(dataDir, 'cache', 'staged'), { recursive: true, force: true }),
    });
    const [failed] = await allFinished(core, [jobId]);
    expect(failed).toMatchObject({ status: 'failed', serverId: 'a' });
    expect(failed!.error?.message).toBe(
      'Server a went offline and this job could not move to another server: its input file photo.png is no longer kept by ComfyDesk, so it was not sent without it. Add the file again and generate it anew.',
    );
    expect(b.requests.some((request) => request.path === '/prompt' && request.method === 'POST')).toBe(false);
    expect(b.requests.some((request) => request.path.endsWith('/upload/image'))).toBe(false);
  });
});
