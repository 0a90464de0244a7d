import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Job } from '@shared/domain/job';
import { LOCK_FILE_NAME, type OwnerRecord } from '../../src/main/core/app/owner-lock';
import { runCli, startCli, type RunningCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';

let comfy: ComfyTestServer;
const running: RunningCli[] = [];
const dirs: Array<{ remove: () => void }> = [];

beforeAll(async () => {
  comfy = await startComfyServer();
});
afterAll(() => comfy.stop());
afterEach(async () => {
  for (const cli of running.splice(0)) {
    cli.child.kill('SIGKILL');
    await cli.exited;
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

/** EmptyImage → PeerSlowSteps → SaveImage, with a colour so runs differ. */
function peer(steps: number, stepMs = 20): Record<string, unknown> {
  return {
    '1': {
      class_type: 'EmptyImage',
      inputs: { width: 32, height: 32, batch_size: 1, color: Math.floor(Math.random() * 0xffffff) },
    },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps, step_ms: stepMs, preview: false },
      _meta: { title: 'Slow sampler' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'owner' } },
  };
}

const SETTINGS = () => ({
  connections: {
    profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
    activeId: 'test',
    alsoOnline: [],
  },
});

/** A data folder whose default connection is the test server, with a workflow file beside it. */
function dataFolder(): { dataDir: string; file: (steps: number, stepMs?: number) => string; out: string } {
  const dir = tempDir('comfydesk-owner-');
  dirs.push(dir);
  const dataDir = join(dir.path, 'data');
  mkdirSync(join(dataDir, 'workflows'), { recursive: true });
  writeFileSync(join(dataDir, 'settings.json'), JSON.stringify(SETTINGS()));
  let count = 0;
  return {
    dataDir,
    out: join(dir.path, 'out'),
    file: (steps, stepMs) => {
      count += 1;
      const path = join(dir.path, `peer-${count}.json`);
      writeFileSync(path, JSON.stringify(peer(steps, stepMs)));
      return path;
    },
  };
}

function lockOf(dataDir: string): OwnerRecord | undefined {
  const path = join(dataDir, LOCK_FILE_NAME);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as OwnerRecord) : undefined;
}

function submissions(): number {
  return comfy.requests.filter((request) => request.method === 'POST' && /^\/(api\/)?prompt$/.test(request.path))
    .length;
}

function start(args: string[]): RunningCli {
  const cli = startCli(args);
  running.push(cli);
  return cli;
}

describe('one owner per data folder', () => {
  test('two serve processes started at once on a folder with held jobs: one owns it, the other names it and exits 1, and each held job reaches ComfyUI once', async () => {
    const { dataDir } = dataFolder();
    writeFileSync(join(dataDir, 'workflows', 'peer.json'), JSON.stringify(peer(3)));
    // An earlier session queued two jobs while the queue was paused, then quit: they wait, held.
    const earlier = await startTestCore({
      dataDir,
      settings: SETTINGS(),
      core: {
        isQueueHeld: true,
        connections: { healthIntervalMs: 300, backoff: { initialDelayMs: 50, maxDelayMs: 300 } },
      },
    });
    await waitFor(() => earlier.core.library.records().some((record) => record.path === 'peer.json'), {
      timeoutMs: 10_000,
    });
    await waitFor(() => earlier.core.connections.health('test').state === 'online', { timeoutMs: 10_000 });
    const workflowId = earlier.core.library.records().find((record) => record.path === 'peer.json')!.id;
    const { jobIds } = await earlier.core.router.call('jobs.enqueue', { workflowId, count: 2, seedMode: 'fixed' });
    await earlier.core.stop();
    const before = submissions();

    const first = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    const second = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    const winner = await Promise.any([
      first.waitForLine(/^\{/, 30_000).then(() => first),
      second.waitForLine(/^\{/, 30_000).then(() => second),
    ]);
    const loser = winner === first ? second : first;
    expect(await loser.exited).toBe(1);
    expect(JSON.parse(loser.stderr())).toMatchObject({ error: { code: 'already_running' } });
    expect((JSON.parse(loser.stderr()) as { error: { message: string } }).error.message).toContain(
      `ComfyDesk is already running (pid ${winner.child.pid}, http://127.0.0.1:`,
    );
    expect(lockOf(dataDir)?.pid).toBe(winner.child.pid);

    const finished = await waitFor(
      async () => {
        const result = await runCli(['history', '--json', '--data-dir', dataDir]);
        const jobs = JSON.parse(result.stdout) as Job[];
        return jobIds.every((id) => jobs.find((job) => job.id === id)?.status === 'succeeded') && jobs;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the held jobs did not finish' },
    );
    expect(finished.filter((job) => jobIds.includes(job.id))).toHaveLength(2);
    expect(submissions() - before).toBe(2);
  });

  test('a serve stopped by SIGTERM frees the folder; one killed outright leaves a stale lock the next start takes over', async () => {
    const { dataDir } = dataFolder();
    const a = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    await a.waitForLine(/^\{/, 30_000);
    expect(lockOf(dataDir)).toMatchObject({ pid: a.child.pid, mode: 'serve' });
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(lockOf(dataDir)).toBeUndefined();

    const b = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    await b.waitForLine(/^\{/, 30_000);
    b.child.kill('SIGKILL');
    await b.exited;
    expect(lockOf(dataDir)?.pid).toBe(b.child.pid);

    const c = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    await c.waitForLine(/^\{/, 30_000);
    expect(lockOf(dataDir)?.pid).toBe(c.child.pid);
  });

  test('CLI commands attach to the running owner: run goes through its queue into its history, and history reads it there', async () => {
    const { dataDir, file, out } = dataFolder();
    const serve = start(['serve', '--port', '0', '--json', '--data-dir', dataDir]);
    await serve.waitForLine(/^\{/, 30_000);
    const result = await runCli(['run', file(2), '--data-dir', dataDir, '--out', out, '--json'], { timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const complete = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      outputs: Array<{ path: string }>;
    };
    expect(complete.event).toBe('generation_complete');
    expect(existsSync(complete.outputs[0]!.path)).toBe(true);
    expect(complete.outputs[0]!.path.startsWith(out)).toBe(true);
    const history = JSON.parse((await runCli(['history', '--json', '--data-dir', dataDir])).stdout) as Array<
      Job & { outputs: Array<{ path?: string }> }
    >;
    expect(history[0]).toMatchObject({ workflowName: 'peer-1', status: 'succeeded', serverId: 'test' });
    expect(history[0]!.outputs[0]!.path).toContain(join(dataDir, 'outputs'));
    // Still the serve process: the commands never started a core of their own on the folder.
    expect(lockOf(dataDir)?.pid).toBe(serve.child.pid);
  });

  test(
    'a CLI command that owns the folder stays until a command attached to it is done, and a serve started meanwhile names it',
    { timeout: 120_000 },
    async () => {
      const { dataDir, file, out } = dataFolder();
      comfy.setTiming({ stepMs: 1000 }); // the owner's job runs until the test lets it go
      try {
        const owner = start(['run', file(30), '--data-dir', dataDir, '--out', out]);
        const lock = await waitFor(() => lockOf(dataDir)?.endpoint && lockOf(dataDir), { timeoutMs: 30_000 });
        expect(lock).toMatchObject({ pid: owner.child.pid, mode: 'cli', command: 'run' });
        const attached = start(['run', file(3), '--data-dir', dataDir, '--out', out]);
        await waitFor(() => attached.stderr().includes("Waiting for 1 job ahead in ComfyDesk's queue"), {
          timeoutMs: 30_000,
          message: `the second run did not queue behind the first: ${attached.stderr()}`,
        });
        const serve = await runCli(['serve', '--port', '0', '--data-dir', dataDir]);
        expect(serve.code).toBe(1);
        expect(serve.stderr).toContain(`ComfyDesk is already running (pid ${owner.child.pid}, http://127.0.0.1:`);
        expect(serve.stderr).toContain('comfydesk run');
        comfy.setTiming({ stepMs: undefined });
        await waitFor(() => owner.stderr().includes('Waiting for 1 other comfydesk command'), { timeoutMs: 30_000 });
        expect(await attached.exited).toBe(0);
        expect(await owner.exited).toBe(0);
        expect(attached.stdout().trim()).toMatch(/owner_\d+_\.png$/);
        expect(lockOf(dataDir)).toBeUndefined();
      } finally {
        comfy.setTiming({ stepMs: undefined });
      }
    },
  );
});
