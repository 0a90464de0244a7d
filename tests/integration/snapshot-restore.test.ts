import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseSnapshot, snapshotText, type RestoreReport } from '@shared/domain/snapshot';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import { silentLogger } from '../../src/main/core/lib/logger';
import { runCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { tempDir } from '../support/core';
import { sha256, TestFileServer } from '../support/file-server';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function comfyServer(models: Record<string, string[]>): Promise<ComfyTestServer> {
  const comfy = await startComfyServer({ models });
  cleanup.push(() => comfy.stop());
  return comfy;
}

function sshArgs(sshd: TestSshd, comfy: ComfyTestServer): string[] {
  return [
    '--ssh',
    `${sshd.user}@127.0.0.1:${sshd.port}`,
    '--key',
    sshd.clientKeyPath,
    '--remote',
    `127.0.0.1:${comfy.port}`,
    '--accept-host-key',
    sshd.hostKeyFingerprint(),
  ];
}

async function nodeTypes(comfy: ComfyTestServer): Promise<string[]> {
  const client = new ComfyClient({ baseUrl: comfy.url, log: silentLogger });
  cleanup.push(() => client.close());
  return Object.keys((await client.getObjectInfo({ refresh: true })).objectInfo).sort();
}

function resultOf(stdout: string): RestoreReport & { ok: boolean } {
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string });
  const result = lines.find((line) => line.type === 'result');
  if (!result) throw new Error(`no result line in ${stdout}`);
  return result as unknown as RestoreReport & { ok: boolean };
}

describe.skipIf(!SSHD_PATH)('snapshot restore onto a second server through a real sshd', () => {
  test('models are downloaded on the new server with the same bytes, a model without a source is listed, and the final check finds every node type', async () => {
    const MODELS = {
      checkpoints: ['base.safetensors', 'mine/portrait.safetensors'],
      loras: ['style.safetensors'],
    };
    const source = await comfyServer(MODELS);
    const target = await comfyServer({});
    // Real bytes in the source server's files, and the same files served over HTTP.
    const files = new TestFileServer();
    const bytes = new Map<string, Buffer>();
    for (const [folder, names] of Object.entries(MODELS))
      for (const name of names) {
        const content = randomBytes(64 * 1024 + name.length);
        writeFileSync(join(source.dataDir, 'models', folder, name), content);
        bytes.set(`${folder}/${name}`, content);
        files.serve(`/files/${folder}/${name}`, content);
      }
    await files.start();
    cleanup.push(() => files.stop());
    const sshd = await startSshd();
    cleanup.push(() => sshd.stop());
    const dir = tempDir('comfydesk-restore-');
    cleanup.push(() => dir.remove());
    const env = { COMFYDESK_KNOWN_HOSTS: join(dir.path, 'known_hosts'), SSH_AUTH_SOCK: '' };
    writeFileSync(env.COMFYDESK_KNOWN_HOSTS, '');
    const out = join(dir.path, 'pod.json');

    const saved = await runCli(
      ['snapshot', 'save', ...sshArgs(sshd, source), '--out', out, '--json', '--data-dir', dir.path],
      { env, timeoutMs: 60_000 },
    );
    expect(saved).toMatchObject({ code: 0 });
    // The user fills in where the models come from (the file is plain JSON), all but one.
    const snapshot = parseSnapshot(JSON.parse(readFileSync(out, 'utf8')));
    expect(snapshot.models.every((model) => model.sha256 !== null)).toBe(true);
    const withUrls = (skip: string | undefined) => ({
      ...snapshot,
      models: snapshot.models.map((model) => {
        const key = `${model.folder}/${model.name}`;
        return key === skip ? model : { ...model, url: files.url(`/files/${key}`), urlSource: 'user' as const };
      }),
    });
    writeFileSync(out, snapshotText(withUrls('loras/style.safetensors')));

    const restoreArgs = ['snapshot', 'restore', out, ...sshArgs(sshd, target), '--json', '--data-dir', dir.path];
    const first = await runCli(restoreArgs, { env, timeoutMs: 120_000 });
    expect(first.code).toBe(1);
    const report = resultOf(first.stdout);
    expect(report).toMatchObject({
      ok: false,
      complete: false,
      missingNodeTypes: [],
      missingModels: ['loras/style.safetensors'],
      withoutSource: ['loras/style.safetensors'],
    });
    expect(Object.fromEntries(report.items.map((item) => [item.name, item.state]))).toEqual({
      comfydesk_peer_nodes: 'present',
      'checkpoints/base.safetensors': 'done',
      'checkpoints/mine/portrait.safetensors': 'done',
      'loras/style.safetensors': 'no-source',
    });
    // Progress came per item: each downloaded model went through queued, then done.
    const itemLines = first.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; name?: string; state?: string })
      .filter((line) => line.type === 'item' && line.name === 'checkpoints/base.safetensors')
      .map((line) => line.state);
    expect(itemLines[0]).toBe('queued');
    expect(itemLines.at(-1)).toBe('done');
    for (const key of ['checkpoints/base.safetensors', 'checkpoints/mine/portrait.safetensors'])
      expect(sha256(readFileSync(join(target.dataDir, 'models', ...key.split('/'))))).toBe(sha256(bytes.get(key)!));
    // The files were fetched on the server (by curl over SSH), not through ComfyDesk.
    expect(files.requests.every((request) => request.userAgent?.startsWith('curl/') || request.method === 'HEAD')).toBe(
      true,
    );

    // With the last address filled in, a second run fetches only that one and the server is complete.
    writeFileSync(out, snapshotText(withUrls(undefined)));
    const second = await runCli(restoreArgs, { env, timeoutMs: 120_000 });
    expect(second.code).toBe(0);
    const complete = resultOf(second.stdout);
    expect(complete).toMatchObject({ ok: true, complete: true, missingModels: [], missingNodeTypes: [] });
    expect(complete.items.find((item) => item.name === 'checkpoints/base.safetensors')?.state).toBe('present');
    expect(complete.items.find((item) => item.name === 'loras/style.safetensors')?.state).toBe('done');
    for (const [key, content] of bytes)
      expect(sha256(readFileSync(join(target.dataDir, 'models', ...key.split('/'))))).toBe(sha256(content));
    expect(await nodeTypes(target)).toEqual(snapshot.nodeTypes);
  });

  test('a model whose bytes do not match the SHA-256 in the snapshot fails and is not left on the server', async () => {
    const source = await comfyServer({ checkpoints: ['base.safetensors'] });
    const target = await comfyServer({});
    const content = randomBytes(32 * 1024);
    writeFileSync(join(source.dataDir, 'models', 'checkpoints', 'base.safetensors'), content);
    const files = new TestFileServer().serve('/base.safetensors', randomBytes(32 * 1024)); // other bytes
    await files.start();
    cleanup.push(() => files.stop());
    const sshd = await startSshd();
    cleanup.push(() => sshd.stop());
    const dir = tempDir('comfydesk-restore-');
    cleanup.push(() => dir.remove());
    const env = { COMFYDESK_KNOWN_HOSTS: join(dir.path, 'known_hosts'), SSH_AUTH_SOCK: '' };
    writeFileSync(env.COMFYDESK_KNOWN_HOSTS, '');
    const out = join(dir.path, 'pod.json');
    expect(
      await runCli(['snapshot', 'save', ...sshArgs(sshd, source), '--out', out, '--data-dir', dir.path], {
        env,
        timeoutMs: 60_000,
      }),
    ).toMatchObject({ code: 0 });
    const snapshot = parseSnapshot(JSON.parse(readFileSync(out, 'utf8')));
    writeFileSync(
      out,
      snapshotText({
        ...snapshot,
        models: snapshot.models.map((model) => ({ ...model, url: files.url('/base.safetensors') })),
      }),
    );
    const result = await runCli(
      ['snapshot', 'restore', out, ...sshArgs(sshd, target), '--json', '--data-dir', dir.path],
      { env, timeoutMs: 120_000 },
    );
    expect(result.code).toBe(1);
    const report = resultOf(result.stdout);
    expect(report.items.find((item) => item.name === 'checkpoints/base.safetensors')).toMatchObject({
      state: 'failed',
      note: expect.stringMatching(/checksum|SHA-256/i),
    });
    expect(report.missingModels).toEqual(['checkpoints/base.safetensors']);
    expect(existsSync(join(target.dataDir, 'models', 'checkpoints', 'base.safetensors'))).toBe(false);
  });
});
