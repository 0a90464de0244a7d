import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ApiClient } from '../../src/renderer/src/api/client';
import { createWsTransport } from '../../src/renderer/src/api/ws-transport';
import { runCli, startCli } from '../support/cli';
import { startComfyServer, type ComfyServerOptions, type ComfyTestServer } from '../support/comfy-server';
import { tempDir, waitFor } from '../support/core';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function comfy(options: ComfyServerOptions = {}): Promise<ComfyTestServer> {
  const server = await startComfyServer(options);
  cleanups.push(() => server.stop());
  return server;
}

/** A workflow file in a fresh folder, and an output folder beside it. */
function workflowFile(prompt: Record<string, unknown>): { file: string; out: string; home: string } {
  const dir = tempDir('comfydesk-cli-farm-');
  cleanups.push(() => dir.remove());
  const file = join(dir.path, 'workflow.json');
  writeFileSync(file, JSON.stringify(prompt));
  return { file, out: join(dir.path, 'out'), home: join(dir.path, 'home') };
}

const plain = {
  '1': { class_type: 'EmptyImage', inputs: { width: 16, height: 16, batch_size: 1, color: 7 } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'farm' } },
};
const peer = {
  '1': { class_type: 'EmptyImage', inputs: { width: 16, height: 16, batch_size: 1, color: 9 } },
  '2': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: 2, step_ms: 10, preview: false } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'peer' } },
};

type Line = Record<string, unknown>;
const linesOf = (stdout: string): Line[] =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);

const posts = (server: ComfyTestServer) => server.requests.filter((r) => r.method === 'POST' && r.path === '/prompt');

describe('comfydesk with several servers', () => {
  test('run --runs 4 spreads the runs over every --server, and each JSON line names its server', async () => {
    const [a, b] = [await comfy({ nodeMs: 150 }), await comfy({ nodeMs: 150 })];
    const { file, out, home } = workflowFile(plain);
    const args = ['run', file, '--server', a.url, '--server', b.url, '--runs', '4', '--out', out, '--json'];
    const result = await runCli(args, { env: { COMFYDESK_HOME: home }, timeoutMs: 40_000 });
    expect(result.code, result.stderr).toBe(0);
    const complete = linesOf(result.stdout).filter((line) => line.event === 'generation_complete');
    expect(complete).toHaveLength(4);
    expect(new Set(complete.map((line) => line.server))).toEqual(new Set([a.url, b.url]));
    for (const line of linesOf(result.stdout).filter((item) => item.event !== 'queue_updated'))
      expect([a.url, b.url]).toContain(line.server);
    expect(Object.keys(a.history()).length + Object.keys(b.history()).length).toBe(4);
  });

  test('runs that need a node type only one server has never reach the other', async () => {
    const [a, b] = [await comfy({ withoutNodes: ['PeerSlowSteps'] }), await comfy()];
    const { file, out, home } = workflowFile(peer);
    const args = ['run', file, '--server', a.url, '--server', b.url, '--runs', '3', '--out', out, '--json'];
    const result = await runCli(args, { env: { COMFYDESK_HOME: home }, timeoutMs: 40_000 });
    expect(result.code, result.stderr).toBe(0);
    const complete = linesOf(result.stdout).filter((line) => line.event === 'generation_complete');
    expect(complete.map((line) => line.server)).toEqual([b.url, b.url, b.url]);
    expect(posts(a)).toHaveLength(0);
  });

  test('status with several servers prints one line each; queue lists every named server', async () => {
    const [a, b, gone] = [await comfy({ stepMs: 200 }), await comfy({ stepMs: 200 }), await comfy()];
    await gone.crash();
    const { home } = workflowFile(plain);
    const env = { COMFYDESK_HOME: home };
    const status = await runCli(['status', '--server', a.url, '--server', b.url, '--server', gone.url], { env });
    const lines = status.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${a.url}  online — ComfyUI 0\\.3\\.64`));
    expect(lines[1]).toMatch(new RegExp(`^${b.url}  online`));
    expect(lines[2]).toMatch(new RegExp(`^${gone.url}  offline`));
    expect(status.code).toBe(1);

    // Another client's long job on each server.
    for (const server of [a, b]) {
      const response = await fetch(`${server.url}/prompt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          prompt: { ...peer, '2': { ...peer['2'], inputs: { ...peer['2'].inputs, steps: 100 } } },
        }),
      });
      expect(response.ok).toBe(true);
    }
    const queue = await runCli(['queue', '--server', a.url, '--server', b.url, '--json'], { env });
    expect(queue.code, queue.stderr).toBe(0);
    const listed = JSON.parse(queue.stdout) as { running: Array<{ server: string; origin: string }> };
    expect(listed.running.map((job) => [job.server, job.origin]).sort()).toEqual(
      [
        [a.url, 'another client'],
        [b.url, 'another client'],
      ].sort(),
    );
  });
});

describe('comfydesk serve with several servers', () => {
  test('serve with two --server: both come online and take jobs for this run, and neither is saved in settings', async () => {
    const [a, b] = [await comfy({ nodeMs: 150 }), await comfy({ nodeMs: 150 })];
    const { home } = workflowFile(plain);
    mkdirSync(join(home, 'workflows'), { recursive: true });
    writeFileSync(join(home, 'workflows', 'plain.json'), JSON.stringify(plain));
    const serve = startCli(['serve', '--port', '0', '--data-dir', home, '--server', a.url, '--server', b.url]);
    cleanups.push(async () => {
      serve.child.kill('SIGTERM');
      await serve.exited;
    });
    await serve.waitForLine(new RegExp(`^Jobs go to ${a.url}, ${b.url} \\(for this run only\\)\\.$`));
    const link = new URL(/(http:\S+)/.exec(await serve.waitForLine(/token=/))![1]!);
    const api = new ApiClient(
      createWsTransport({
        url: `ws://127.0.0.1:${link.port}/ws?token=${link.searchParams.get('token')}`,
        initialDelayMs: 20,
        maxDelayMs: 100,
      }),
      { timeoutMs: 5000 },
    );
    cleanups.push(() => api.close());

    const snapshot = await waitFor(async () => {
      const found = await api.call('connections.list', {});
      return found.health.filter((health) => health.state === 'online').length === 2 ? found : undefined;
    });
    const urlOf = (id: string) => snapshot.profiles.find((profile) => profile.id === id);
    expect((snapshot.generation ?? []).map((id) => urlOf(id))).toEqual([
      expect.objectContaining({ url: a.url }),
      expect.objectContaining({ url: b.url }),
    ]);
    expect(urlOf(snapshot.activeId!)).toMatchObject({ url: a.url });
    expect(new Set(snapshot.sessionOnly)).toEqual(new Set(snapshot.generation));

    // The workflow runs on 2 of 2 servers (both read), and a batch of four goes over both.
    const card = await waitFor(async () => {
      const { items } = await api.call('workflows.list', {});
      const found = items.find((item) => item.path === 'plain.json');
      const fit = await api.call('workflows.servers', {});
      return found && fit.total === 2 && fit.ready[found.id] === 2 ? found : undefined;
    });
    const { jobIds } = await api.call('jobs.enqueue', { workflowId: card.id, count: 4 });
    await waitFor(async () => {
      const { jobs } = await api.call('history.list', {});
      return jobIds.every((id) => jobs.some((job) => job.id === id && job.status === 'succeeded'));
    });
    const ran = [Object.keys(a.history()).length, Object.keys(b.history()).length];
    expect(ran[0]).toBeGreaterThan(0);
    expect(ran[1]).toBeGreaterThan(0);
    expect(ran[0]! + ran[1]!).toBe(4);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const settings = existsSync(join(home, 'settings.json')) ? readFileSync(join(home, 'settings.json'), 'utf8') : '';
    expect(settings).not.toContain(a.url);
    expect(settings).not.toContain(b.url);
  });
});
