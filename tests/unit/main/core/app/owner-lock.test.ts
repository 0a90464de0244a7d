import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  LOCK_FILE_NAME,
  OwnerLock,
  describeOwner,
  processStartTime,
  readOwner,
  type OwnerIdentity,
  type OwnerRecord,
} from '../../../../../src/main/core/app/owner-lock';
import { isAppError } from '../../../../../src/main/core/lib/errors';
import { tempDir } from '../../../../support/core';

const dirs: Array<{ remove: () => void }> = [];
const locks: OwnerLock[] = [];
afterEach(() => {
  for (const lock of locks.splice(0)) lock.release();
  for (const dir of dirs.splice(0)) dir.remove();
});

function folder(): string {
  const dir = tempDir('comfydesk-lock-');
  dirs.push(dir);
  return dir.path;
}

async function take(
  dataDir: string,
  identity: OwnerIdentity,
  options?: Parameters<typeof OwnerLock.acquire>[2],
): Promise<OwnerLock> {
  const lock = await OwnerLock.acquire(dataDir, identity, options);
  locks.push(lock);
  return lock;
}

/** Another process's lock, as it would have written it. */
function foreignLock(dataDir: string, patch: Partial<OwnerRecord> = {}): OwnerRecord {
  const record: OwnerRecord = {
    version: 1,
    pid: 999_999,
    hostname: hostname(),
    processStart: null,
    startedAt: 1,
    mode: 'serve',
    command: null,
    nonce: 'theirs',
    url: 'http://127.0.0.1:8082',
    endpoint: { url: 'ws://127.0.0.1:8082/ws', token: 'their-token' },
    ...patch,
  };
  writeFileSync(join(dataDir, LOCK_FILE_NAME), JSON.stringify(record));
  return record;
}

describe('the data folder lock', () => {
  test('the first taker owns the folder; the lock names its pid and mode, readable by this user only, and goes on release', async () => {
    const dataDir = folder();
    const lock = await take(dataDir, { mode: 'cli', command: 'run' });
    const path = join(dataDir, LOCK_FILE_NAME);
    const record = JSON.parse(readFileSync(path, 'utf8')) as OwnerRecord;
    expect(record).toMatchObject({ pid: process.pid, mode: 'cli', command: 'run', url: null, endpoint: null });
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  test('a second taker while it is held is refused with who runs and where, until the owner lets go', async () => {
    const dataDir = folder();
    const first = await take(dataDir, { mode: 'serve' });
    first.publish({ url: 'http://127.0.0.1:8082', endpoint: { url: 'ws://127.0.0.1:8082/ws', token: 'secret-token' } });
    const refused = await OwnerLock.acquire(dataDir, { mode: 'desktop' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isAppError(refused) && refused.code).toBe('already_running');
    const message = isAppError(refused) ? refused.userMessage : '';
    expect(message).toContain(`ComfyDesk is already running (pid ${process.pid}, http://127.0.0.1:8082)`);
    expect(JSON.stringify(isAppError(refused) ? refused.details : {})).not.toContain('secret-token');
    expect(readOwner(dataDir)?.endpoint).toEqual({ url: 'ws://127.0.0.1:8082/ws', token: 'secret-token' });
    first.release();
    expect(readOwner(dataDir)).toBeUndefined();
    await take(dataDir, { mode: 'desktop' });
  });

  test('a lock left by a process that is gone is stale: it is taken over, and readers see no owner', async () => {
    const dataDir = folder();
    foreignLock(dataDir, { pid: 4242 });
    const isProcessAlive = (pid: number) => pid !== 4242;
    expect(readOwner(dataDir, { isProcessAlive })).toBeUndefined();
    const lock = await take(dataDir, { mode: 'serve' }, { isProcessAlive });
    expect(readOwner(dataDir, { isProcessAlive })?.nonce).toBe(lock.record.nonce);
  });

  test.skipIf(process.platform !== 'linux')(
    "a pid now used by a different process (another start time) does not keep a dead owner's lock alive",
    () => {
      const dataDir = folder();
      foreignLock(dataDir, { pid: process.pid, processStart: '1' });
      expect(processStartTime(process.pid)).not.toBe('1');
      expect(readOwner(dataDir)).toBeUndefined();
      foreignLock(dataDir, { pid: process.pid, processStart: processStartTime(process.pid) });
      expect(readOwner(dataDir)?.pid).toBe(process.pid);
    },
  );

  test('two processes that find the same stale lock never both own the folder: the slower one sees the winner', async () => {
    const dataDir = folder();
    foreignLock(dataDir, { pid: 4242 });
    let winner: OwnerRecord | undefined;
    // While this process is still judging the dead owner's lock, another process takes the folder:
    // it removes the stale lock and writes its own (as a real second process would, in between).
    const isProcessAlive = (pid: number) => {
      if (pid === 4242 && !winner) {
        rmSync(join(dataDir, LOCK_FILE_NAME));
        winner = foreignLock(dataDir, { pid: 777, nonce: 'winner' });
      }
      return pid !== 4242;
    };
    const refused = await OwnerLock.acquire(dataDir, { mode: 'cli' }, { isProcessAlive }).then(
      (lock) => {
        locks.push(lock);
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(isAppError(refused) && refused.code).toBe('already_running');
    expect(readOwner(dataDir, { isProcessAlive })?.nonce).toBe('winner');
  });

  test('a lock file left half-written long ago is taken over', async () => {
    const dataDir = folder();
    const path = join(dataDir, LOCK_FILE_NAME);
    writeFileSync(path, '{"version": 1, "pi');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = await take(dataDir, { mode: 'serve' });
    expect(readOwner(dataDir)?.nonce).toBe(lock.record.nonce);
  });

  test('releasing never removes a lock another process wrote meanwhile', async () => {
    const dataDir = folder();
    const lock = await take(dataDir, { mode: 'cli' });
    const theirs = foreignLock(dataDir, { pid: process.pid, nonce: 'someone-else' });
    lock.release();
    expect(readOwner(dataDir)?.nonce).toBe(theirs.nonce);
  });

  test('an owner on another machine sharing the folder counts as running: its pid cannot be checked from here', () => {
    const dataDir = folder();
    const record = foreignLock(dataDir, { hostname: 'gpu-pod-7', pid: 1 });
    expect(readOwner(dataDir, { isProcessAlive: () => false })?.nonce).toBe(record.nonce);
    expect(describeOwner(record)).toBe('ComfyDesk is already running (pid 1 on gpu-pod-7, http://127.0.0.1:8082)');
  });
});
