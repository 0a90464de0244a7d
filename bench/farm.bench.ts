import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { isFinished } from '@shared/domain/job';
import type { Core } from '../src/main/core/create-core';
import { FarmDispatcher } from '../src/main/core/jobs/farm-dispatcher';
import { startComfyServer, type ComfyTestServer } from '../tests/support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../tests/support/core';
import { ms, percentile, printTable } from './table';

// The farm under load: 16 ComfyUI protocol test servers used for generation, 2,000 jobs queued at
// once (20 batches of 100). Every dispatch decision is timed (the farm dispatcher's `place`, wrapped
// here), every job must finish, none may wait far behind the jobs queued after it, and the work
// must spread over all servers. Memory is the process's heap and RSS before and after.

const SERVERS = 16;
const JOBS = 2000;
const BATCH = 100;
/** Jobs each server runs at once (Settings › jobs a server runs at once). */
const IN_FLIGHT = 2;

/** EmptyImage → GetImageSize → PreviewAny: a real run with a text output (no file to download). */
const WORKFLOW = {
  '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 3 } },
  '2': { class_type: 'GetImageSize', inputs: { image: ['1', 0] } },
  '3': { class_type: 'PreviewAny', inputs: { source: ['2', 0] } },
};

const decisions: number[] = [];
// Unbound on purpose: it is called back with each dispatcher as `this`.
// eslint-disable-next-line @typescript-eslint/unbound-method
const place = FarmDispatcher.prototype.place;
let servers: ComfyTestServer[] = [];
let core: Core;
let stop: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  FarmDispatcher.prototype.place = function timed(this: FarmDispatcher, entry) {
    const startedAt = performance.now();
    const placement = place.call(this, entry);
    decisions.push(performance.now() - startedAt);
    return placement;
  };
  servers = await Promise.all(Array.from({ length: SERVERS }, () => startComfyServer()));
  const data = tempDir('comfydesk-bench-farm-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(join(data.path, 'workflows', 'Size.json'), JSON.stringify(WORKFLOW));
  const ids = servers.map((_, index) => `s${index}`);
  const started = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: servers.map((server, index) => ({
          id: ids[index],
          kind: 'url',
          name: `Server ${index}`,
          url: server.url,
        })),
        activeId: ids[0],
        alsoOnline: [],
        generation: ids.slice(1),
      },
      generation: { maxInFlightPerServer: IN_FLIGHT },
    },
    core: { connections: { healthIntervalMs: 2000, checkTimeoutMs: 4000 } },
  });
  core = started.core;
  await waitFor(() => ids.every((id) => core.connections.inventory(id)) && core.library.records().length > 0, {
    timeoutMs: 30_000,
    message: 'the farm did not come online',
  });
  stop = async () => {
    FarmDispatcher.prototype.place = place;
    await started.stop();
    await Promise.all(servers.map((server) => server.stop()));
    data.remove();
  };
}, 60_000);

afterAll(() => stop());

test('2,000 queued jobs over 16 servers: dispatch decisions, starvation, spread and memory', async () => {
  global.gc?.();
  const before = process.memoryUsage();
  const workflowId = core.library.records()[0]!.id;
  const enqueueStarted = performance.now();
  const jobIds: string[] = [];
  for (let batch = 0; batch < JOBS / BATCH; batch += 1)
    jobIds.push(...(await core.router.call('jobs.enqueue', { workflowId, count: BATCH })).jobIds);
  const enqueueMs = performance.now() - enqueueStarted;
  const queued = process.memoryUsage();
  await waitFor(() => jobIds.every((id) => isFinished(core.jobs.get(id)!.status)), {
    timeoutMs: 600_000,
    intervalMs: 250,
    message: 'not every job finished',
  });
  const totalMs = performance.now() - enqueueStarted;
  const jobs = jobIds.map((id) => core.jobs.get(id)!);
  const succeeded = jobs.filter((job) => job.status === 'succeeded');
  // Starvation: a job that started after jobs queued far behind it (more than every server's share of a round).
  const starts = jobs.map((job) => job.startedAt ?? Number.POSITIVE_INFINITY);
  const window = SERVERS * IN_FLIGHT * 2;
  let overtaken = 0;
  for (let index = 0; index < starts.length; index += 1)
    if (starts.slice(index + window).some((start) => start < starts[index]!)) overtaken += 1;
  const waits = jobs.map((job) => (job.startedAt ?? job.finishedAt ?? 0) - job.createdAt);
  const perServer = new Map<string, number>();
  for (const job of succeeded) perServer.set(job.serverId, (perServer.get(job.serverId) ?? 0) + 1);
  const shares = [...perServer.values()];
  const after = process.memoryUsage();
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const p95 = percentile(decisions, 95);
  printTable(`Farm: ${JOBS} jobs over ${SERVERS} protocol test servers (${IN_FLIGHT} at once each)`, [
    { metric: 'dispatch decisions timed', value: String(decisions.length) },
    { metric: 'dispatch decision p50', value: ms(percentile(decisions, 50)) },
    { metric: 'dispatch decision p95', value: ms(p95), target: '≤ 1 ms', met: p95 <= 1 },
    { metric: 'dispatch decision max', value: ms(Math.max(...decisions)) },
    { metric: `enqueue ${JOBS} jobs (${JOBS / BATCH} batches)`, value: ms(enqueueMs) },
    { metric: 'all finished', value: `${(totalMs / 1000).toFixed(1)} s` },
    {
      metric: 'jobs succeeded',
      value: `${succeeded.length} / ${JOBS}`,
      target: `${JOBS}`,
      met: succeeded.length === JOBS,
    },
    {
      metric: `jobs started after one queued ${window}+ places behind (starved)`,
      value: String(overtaken),
      target: '0',
      met: overtaken === 0,
    },
    { metric: 'longest wait from queued to started', value: `${(Math.max(...waits) / 1000).toFixed(1)} s` },
    {
      metric: 'servers used · jobs per server (min–max)',
      value: `${perServer.size} · ${Math.min(...shares)}–${Math.max(...shares)}`,
      target: `${SERVERS}`,
      met: perServer.size === SERVERS,
    },
    {
      metric: 'heap used: before · queued · after',
      value: `${mb(before.heapUsed)} · ${mb(queued.heapUsed)} · ${mb(after.heapUsed)}`,
    },
    { metric: 'RSS: before · after', value: `${mb(before.rss)} · ${mb(after.rss)}` },
  ]);
}, 620_000);
