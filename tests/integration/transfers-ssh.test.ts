import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Core } from '../../src/main/core/create-core';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { TestFileServer, sha256, type ServedFile } from '../support/file-server';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';
import { loaderNode, toolsDir, transferIn, workflowOf } from '../support/transfers';

const FAST = { healthIntervalMs: 300, checkTimeoutMs: 3000, backoff: { initialDelayMs: 50, maxDelayMs: 300 } };
const CONTENT = randomBytes(3 * 1024 * 1024 + 11);

let sshd: TestSshd;
const stops: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  if (SSHD_PATH) sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  // A test may have killed it to drop the tunnel.
  await sshd?.start();
});

interface SshSetup {
  core: Core;
  comfy: ComfyTestServer;
  files: TestFileServer;
  workflowId: string;
  destination: string;
  start(extra?: Record<string, unknown>): Promise<{ ids: string[] }>;
}

/**
 * A core whose default connection is an SSH tunnel to a real sshd on this machine, forwarding to
 * the protocol test server. The "remote" machine is this one: curl or wget run there, started over
 * the SSH connection, and download from the test file server.
 */
async function setup(
  file: ServedFile | Buffer,
  options: { pathPrefix?: string; hash?: string; env?: (files: TestFileServer) => NodeJS.ProcessEnv } = {},
): Promise<SshSetup> {
  const files = new TestFileServer().serve('/m/model.safetensors', file);
  await files.start();
  stops.push(() => files.stop());
  const comfy = await startComfyServer();
  stops.push(() => comfy.stop());
  const folder = tempDir('comfydesk-wf-');
  stops.push(() => folder.remove());
  const known = tempDir('comfydesk-known-');
  stops.push(() => known.remove());
  const knownHostsPath = join(known.path, 'known_hosts');
  writeFileSync(knownHostsPath, `${sshd.knownHostsLine()}\n`);
  const url = files.url('/m/model.safetensors');
  writeFileSync(
    join(folder.path, 'pod.json'),
    JSON.stringify(
      workflowOf('On the pod', [
        loaderNode(1, 'CheckpointLoaderSimple', 'model.safetensors', {
          url,
          directory: 'checkpoints',
          hash: options.hash,
        }),
      ]),
    ),
  );
  const started = await startTestCore({
    settings: {
      connections: {
        profiles: [
          {
            id: 'pod',
            kind: 'ssh',
            name: 'Pod',
            host: sshd.host,
            port: sshd.port,
            username: sshd.user,
            auth: 'key',
            keyPath: sshd.clientKeyPath,
            remoteHost: '127.0.0.1',
            remotePort: comfy.port,
          },
        ],
        activeId: 'pod',
        alsoOnline: [],
      },
      library: { includeAppFolder: false, folders: [folder.path] },
      transfers: { modelListUrl: 'http://127.0.0.1:1/list.json', nodeMapUrl: 'http://127.0.0.1:1/map.json' },
    },
    core: {
      connections: { ...FAST, knownHostsPath },
      transfers: {
        retryDelayMs: () => 1,
        pollIntervalMs: 30,
        stallTimeoutMs: 2000,
        env: options.env?.(files) ?? {},
        ...(options.pathPrefix ? { remotePathPrefix: options.pathPrefix } : {}),
      },
    },
  });
  stops.push(() => started.stop());
  const core = started.core;
  const card = await waitFor(
    () => core.library.snapshot().items.find((item) => item.name === 'On the pod' && item.compat.serverId === 'pod'),
    { timeoutMs: 15_000, message: 'the SSH connection did not come online' },
  );
  const destination = join(comfy.folderPaths().checkpoints![0]!, 'model.safetensors');
  return {
    core,
    comfy,
    files,
    workflowId: card.id,
    destination,
    start: (extra = {}) =>
      core.router.call('transfers.start', {
        workflowId: card.id,
        models: [
          {
            name: 'model.safetensors',
            folder: 'checkpoints',
            url,
            ...(options.hash ? { sha256: options.hash } : {}),
            ...extra,
          },
        ],
      }),
  };
}

const gets = (files: TestFileServer) => files.requests.filter((request) => request.method === 'GET');

describe.skipIf(!SSHD_PATH)('putting a file on an SSH server', () => {
  test('the download runs on the server itself with curl, is checked there, and the card turns Ready', async () => {
    const s = await setup(CONTENT, { hash: sha256(CONTENT) });
    const report = await s.core.router.call('transfers.missing', { workflowId: s.workflowId });
    expect(report).toMatchObject({ method: 'ssh', connectionKind: 'ssh' });
    expect(report.methodNote).toMatch(/with curl, over the SSH connection: the files never pass through this computer/);
    expect(report.models[0]).toMatchObject({ destinationDir: s.comfy.folderPaths().checkpoints![0], method: 'ssh' });
    const { ids } = await s.start();
    const done = await transferIn(s.core, ids[0]!, ['done', 'failed']);
    expect(done).toMatchObject({ state: 'done', method: 'ssh', error: null, receivedBytes: CONTENT.length });
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual(['model.safetensors']);
    // The bytes were fetched by curl on the "pod", not by ComfyDesk.
    expect(gets(s.files).every((request) => request.userAgent?.startsWith('curl/'))).toBe(true);
    await waitFor(
      () => s.core.library.snapshot().items.find((item) => item.id === s.workflowId)!.compat.status === 'ready',
      { message: 'the card did not turn Ready' },
    );
    expect(s.core.notices.list().map((notice) => notice.message)).toContain('On the pod is Ready on Pod.');
  });

  test('a server with wget but no curl downloads with wget', async () => {
    const tools = toolsDir(['wget']);
    stops.push(() => tools.remove());
    const s = await setup(CONTENT, { pathPrefix: tools.path, hash: sha256(CONTENT) });
    expect((await s.core.router.call('transfers.missing', { workflowId: s.workflowId })).methodNote).toMatch(
      /with wget/,
    );
    const { ids } = await s.start();
    await transferIn(s.core, ids[0]!, ['done']);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(gets(s.files).every((request) => request.userAgent?.startsWith('Wget/'))).toBe(true);
  });

  test('without curl and wget on the server the file is streamed through this machine over SFTP, and it says so', async () => {
    const tools = toolsDir();
    stops.push(() => tools.remove());
    const s = await setup(CONTENT, { pathPrefix: tools.path, hash: sha256(CONTENT) });
    const report = await s.core.router.call('transfers.missing', { workflowId: s.workflowId });
    expect(report.method).toBe('sftp');
    expect(report.methodNote).toMatch(/has neither curl nor wget, so ComfyDesk downloads each file on this computer/);
    const { ids } = await s.start();
    const done = await transferIn(s.core, ids[0]!, ['done', 'failed']);
    expect(done).toMatchObject({ state: 'done', method: 'sftp' });
    expect(done.note).toMatch(/streams it to the server over SFTP/);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(existsSync(`${s.destination}.part`)).toBe(false);
    expect(gets(s.files).every((request) => request.userAgent === 'node')).toBe(true);
  });

  test('when the SSH connection drops mid-transfer it waits, and resumes from the partial file when the tunnel is back', async () => {
    const s = await setup({ content: CONTENT, chunkDelayMs: 10 }, { hash: sha256(CONTENT) });
    const { ids } = await s.start();
    const id = ids[0]!;
    await waitFor(() => s.core.transfers.list().items.find((item) => item.id === id)!.receivedBytes > 300_000, {
      timeoutMs: 15_000,
    });
    await sshd.kill();
    // The pod's own download dies with its connection too (a pod that lost its network).
    s.files.dropConnections();
    const waiting = await transferIn(s.core, id, ['waiting'], 15_000);
    expect(waiting.error?.userMessage).toMatch(/resumes by itself/);
    expect(existsSync(s.destination)).toBe(false);
    s.files.files.get('/m/model.safetensors')!.chunkDelayMs = 0;
    await sshd.start();
    await transferIn(s.core, id, ['done'], 30_000);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(existsSync(`${s.destination}.part.pid`)).toBe(false);
    expect(gets(s.files).some((request) => request.range !== undefined)).toBe(true);
  });

  test('a pod without room for the file says so before anything is downloaded', async () => {
    const s = await setup(CONTENT);
    const { ids } = await s.start({ sizeBytes: 10 ** 15 });
    const failed = await transferIn(s.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'disk_full' });
    expect(failed.error!.userMessage).toMatch(/Not enough disk space on .+ for model\.safetensors/);
    expect(gets(s.files)).toEqual([]);
  });

  test('a 404, an HTML page and a wrong checksum fail in words and leave no file on the server', async () => {
    const s = await setup(CONTENT, { hash: sha256(Buffer.from('not it')) });
    const missing = await s.start({ url: s.files.url('/m/gone.safetensors'), sha256: undefined });
    const notFound = await transferIn(s.core, missing.ids[0]!, ['failed', 'done']);
    expect(notFound.error).toMatchObject({ code: 'download_not_found' });
    await s.core.router.call('transfers.clear', {});

    s.files.serve('/m/login.safetensors', { content: CONTENT, isLoginPage: true });
    const login = await s.start({ url: s.files.url('/m/login.safetensors'), sha256: undefined });
    const page = await transferIn(s.core, login.ids[0]!, ['failed', 'done']);
    expect(page.error).toMatchObject({ code: 'download_login_page' });
    await s.core.router.call('transfers.clear', {});

    const wrong = await s.start();
    const mismatch = await transferIn(s.core, wrong.ids[0]!, ['failed', 'done']);
    expect(mismatch.error).toMatchObject({ code: 'checksum_mismatch' });
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual([]);
  });

  test('a gated file gets the token on the server, without it ever being on a command line', async () => {
    const s = await setup(
      { content: CONTENT, token: 'hf_pod_token' },
      { env: (files) => ({ HF_ENDPOINT: new URL(files.url('/')).origin, HF_TOKEN: 'hf_pod_token' }) },
    );
    const { ids } = await s.start();
    await transferIn(s.core, ids[0]!, ['done']);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(gets(s.files).at(-1)).toMatchObject({ authorization: 'Bearer hf_pod_token' });
  });

  test('pause stops the download on the server and keeps its partial file; cancel deletes it', async () => {
    const s = await setup({ content: CONTENT, chunkDelayMs: 10 });
    const { ids } = await s.start();
    const id = ids[0]!;
    await waitFor(() => s.core.transfers.list().items.find((item) => item.id === id)!.receivedBytes > 200_000, {
      timeoutMs: 15_000,
    });
    await s.core.router.call('transfers.pause', { id });
    await transferIn(s.core, id, ['paused']);
    expect(existsSync(`${s.destination}.part`)).toBe(true);
    expect(existsSync(s.destination)).toBe(false);
    // The process on the server was stopped: the partial file no longer grows.
    const size = readFileSync(`${s.destination}.part`).length;
    const requestsBefore = s.files.requests.length;
    await s.core.router.call('transfers.resume', { id });
    await waitFor(() => s.files.requests.length > requestsBefore);
    expect(gets(s.files).at(-1)!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/^bytes=(\d+)-$/.exec(gets(s.files).at(-1)!.range!)![1])).toBeGreaterThanOrEqual(size);
    await s.core.router.call('transfers.cancel', { id });
    await transferIn(s.core, id, ['cancelled']);
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual([]);
  });
});
