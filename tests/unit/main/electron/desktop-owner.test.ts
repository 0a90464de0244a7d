import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { LOCK_FILE_NAME, processStartTime, type OwnerRecord } from '../../../../src/main/core/app/owner-lock';
import { waitFor } from '../../../support/core';

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { startDesktop } = await import('../../../../src/main/electron/desktop');

const folders: string[] = [];
function userData(): string {
  const dir = mkdtempSync(join(tmpdir(), 'comfydesk-desktop-owner-'));
  folders.push(dir);
  process.env.STAND_IN_USER_DATA = dir;
  return dir;
}

afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** Opens a WebSocket and reports the HTTP status of a refusal, or 101 when it was accepted. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', () => undefined);
  });
}

/** One request over the contract socket, answered by the desktop app's core. */
function ask(url: string, command: string): Promise<{ ok: boolean; output?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on('open', () => socket.send(JSON.stringify({ kind: 'request', id: 'q1', command, input: {} })));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { kind: string; id?: string; ok: boolean };
      if (message.kind !== 'response' || message.id !== 'q1') return;
      socket.close();
      resolve(message as { ok: boolean; output?: Record<string, unknown> });
    });
    socket.on('error', reject);
  });
}

describe('the desktop app and the one owner of its data folder', () => {
  test('when serve mode owns the data folder, the desktop app says who runs, opens no window and exits 1', async () => {
    const dir = userData();
    const serve: OwnerRecord = {
      version: 1,
      pid: process.pid,
      hostname: hostname(),
      processStart: processStartTime(process.pid),
      startedAt: Date.now(),
      mode: 'serve',
      command: null,
      nonce: 'serve-owner',
      url: 'http://127.0.0.1:8082',
      endpoint: { url: 'ws://127.0.0.1:8082/ws', token: 'their-token' },
    };
    writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify(serve));
    await startDesktop({ outDir: '/app/out' });
    expect(standIn.recorded.calls.exit).toEqual([1]);
    expect(standIn.recorded.windows).toHaveLength(0);
    expect(standIn.recorded.errorBoxes.at(-1)).toMatchObject({
      title: 'ComfyDesk is already running',
      content: expect.stringContaining(`ComfyDesk is already running (pid ${process.pid}, http://127.0.0.1:8082)`),
    });
    expect((JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as OwnerRecord).nonce).toBe('serve-owner');
  });

  test('the desktop app serves its contract to local programs on a token-guarded endpoint named in the lock, and frees the folder on quit', async () => {
    const dir = userData();
    await startDesktop({ outDir: '/app/out' });
    const lock = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as OwnerRecord;
    expect(lock).toMatchObject({
      pid: process.pid,
      mode: 'desktop',
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
    const { url, token } = lock.endpoint!;
    expect(await ask(`${url}?token=${token}`, 'app.info')).toMatchObject({ ok: true, output: { mode: 'desktop' } });
    expect(await upgrade(`${url}?token=wrong`)).toBe(401);
    expect(await upgrade(`${url}?token=${token}`, { Origin: 'http://evil.example' })).toBe(403);
    standIn.module.app.emit('will-quit', { preventDefault: () => undefined });
    await waitFor(() => !existsSync(join(dir, LOCK_FILE_NAME)), { message: 'the lock was not released on quit' });
  });
});
