import { randomBytes } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AppMode } from '@shared/domain/app';
import { AppError, systemErrorCode } from '../lib/errors';

/** The lock file in the data folder: who owns it, and where its contract endpoint listens. */
export const LOCK_FILE_NAME = 'comfydesk.lock';

/** A lock file that stays unreadable this long was left half-written by a process that died. */
const UNREADABLE_STALE_MS = 5000;
/** A takeover in progress that is older than this was abandoned by a process that died. */
const TAKEOVER_STALE_MS = 10_000;
/** Pause between attempts while another process writes or takes over the lock. */
const RETRY_MS = 40;
/** How long a second process waits for an owner that is still starting to say where it can be reached. */
const STARTING_WAIT_MS = 15_000;
/** Attempts before giving up on a lock file that keeps changing under us (about 20 s of retries). */
const MAX_ATTEMPTS = 500;

/** What the lock file says about the process that owns the data folder. */
export const OwnerRecord = z.object({
  version: z.literal(1),
  pid: z.number().int().positive(),
  hostname: z.string(),
  /** When the process started, as the OS counts it (Linux: /proc/PID/stat), to tell a reused pid apart. */
  processStart: z.string().nullable(),
  /** ms since epoch, when the lock was taken. */
  startedAt: z.number(),
  mode: AppMode,
  /** The CLI subcommand that owns it (`run`, `history`…), or null for the desktop app and serve mode. */
  command: z.string().nullable(),
  /** Unique per lock, so a process only ever removes the lock it wrote. */
  nonce: z.string(),
  /** Where people reach it: serve mode's address, or the local endpoint's (no token). Null while starting. */
  url: z.string().nullable(),
  /** The contract over a WebSocket (`ws://127.0.0.1:PORT/ws`) and its token. Null while starting. */
  endpoint: z.object({ url: z.string(), token: z.string() }).nullable(),
});
export type OwnerRecord = z.infer<typeof OwnerRecord>;

/** Who is taking the lock. */
export interface OwnerIdentity {
  mode: AppMode;
  command?: string;
}

/** What the owner publishes once it can be reached. */
export interface OwnerEndpoint {
  url: string;
  endpoint: { url: string; token: string };
}

/** Test seams: another process's view of the system. */
export interface OwnerLockOptions {
  /** @default process.pid */
  pid?: number;
  /** @default os.hostname() */
  hostname?: string;
  /** @default Date.now */
  now?: () => number;
  /** Whether a pid (on this host) is a live process started at `processStart`. @default the real OS check */
  isProcessAlive?: (pid: number, processStart: string | null) => boolean;
}

/**
 * The one-owner rule for a data folder: a lock file created atomically (a hard link of a finished
 * file, or `wx` where links do not work), holding the owner's pid, start time and local endpoint.
 * A lock whose process is gone (or whose pid now belongs to a different process) is stale and is
 * taken over, one taker at a time. The lock is released on stop and on every exit of the process
 * (`exit` runs after an uncaught error and after `process.exit`); only SIGKILL or a power cut leave
 * it behind, and the next start sees the dead pid.
 */
export class OwnerLock {
  readonly path: string;
  #record: OwnerRecord;
  #released = false;
  readonly #onExit = () => this.release();

  private constructor(path: string, record: OwnerRecord) {
    this.path = path;
    this.#record = record;
    process.on('exit', this.#onExit);
  }

  get record(): OwnerRecord {
    return this.#record;
  }

  /**
   * Takes the data folder for this process, or throws `already_running` naming the live owner
   * (its pid, mode and address in `details`; `readOwner` has the whole record).
   */
  static async acquire(dataDir: string, identity: OwnerIdentity, options: OwnerLockOptions = {}): Promise<OwnerLock> {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, LOCK_FILE_NAME);
    const pid = options.pid ?? process.pid;
    const record: OwnerRecord = {
      version: 1,
      pid,
      hostname: options.hostname ?? hostname(),
      processStart: processStartTime(pid),
      startedAt: (options.now ?? Date.now)(),
      mode: identity.mode,
      command: identity.command ?? null,
      nonce: randomBytes(12).toString('hex'),
      url: null,
      endpoint: null,
    };
    const text = serialize(record);
    const began = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > MAX_ATTEMPTS)
        throw new AppError(
          'io_error',
          `ComfyDesk could not take its lock file ${path}; another process keeps changing it.`,
        );
      if (createExclusive(path, text)) return new OwnerLock(path, record);
      const seen = readLock(path, options);
      if (seen.kind === 'none') continue; // released between our attempt and the read
      if (seen.kind === 'owner' && seen.isAlive) {
        // An owner that is still starting publishes its address in a moment: name it with that.
        if (seen.record.url === null && Date.now() - began < STARTING_WAIT_MS) {
          await pause(RETRY_MS * 5);
          continue;
        }
        throw alreadyRunning(seen.record);
      }
      if (seen.kind === 'unreadable' && seen.ageMs < UNREADABLE_STALE_MS) {
        await pause(RETRY_MS); // another process is writing it right now
        continue;
      }
      if (!removeStale(path, seen.raw)) await pause(RETRY_MS);
    }
  }

  /** Tells other processes where to reach this owner (rewrites the lock file atomically). */
  publish(endpoint: OwnerEndpoint): void {
    if (this.#released) return;
    this.#record = { ...this.#record, url: endpoint.url, endpoint: endpoint.endpoint };
    const temporary = `${this.path}.${this.#record.nonce}.tmp`;
    writeFileSync(temporary, serialize(this.#record), { mode: 0o600 });
    renameSync(temporary, this.path);
  }

  /** Removes the lock if it is still ours. Synchronous, so it also works from an `exit` handler. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    process.off('exit', this.#onExit);
    try {
      const current = OwnerRecord.safeParse(JSON.parse(readFileSync(this.path, 'utf8')));
      if (current.success && current.data.nonce === this.#record.nonce) unlinkSync(this.path);
    } catch {
      // Gone already, or unreadable: either way it is not ours to remove.
    }
  }
}

/** The live owner of a data folder, or undefined when nobody holds it (a stale lock counts as nobody). */
export function readOwner(dataDir: string, options: OwnerLockOptions = {}): OwnerRecord | undefined {
  const seen = readLock(join(dataDir, LOCK_FILE_NAME), options);
  return seen.kind === 'owner' && seen.isAlive ? seen.record : undefined;
}

/** "ComfyDesk is already running (pid 4242, http://127.0.0.1:8082)". */
export function describeOwner(record: OwnerRecord): string {
  const where = record.hostname === hostname() ? '' : ` on ${record.hostname}`;
  return `ComfyDesk is already running (pid ${record.pid}${where}, ${record.url ?? 'still starting'})`;
}

/** What the owner is, in words: "the desktop app", "comfydesk serve", "comfydesk run". */
export function ownerKind(record: OwnerRecord): string {
  if (record.mode === 'desktop') return 'the desktop app';
  if (record.mode === 'serve') return 'comfydesk serve';
  return `comfydesk ${record.command ?? 'in a terminal'}`;
}

function alreadyRunning(record: OwnerRecord): AppError {
  const advice =
    record.mode === 'desktop'
      ? 'It is the desktop app: use its window, or quit it first.'
      : record.mode === 'serve'
        ? `It is comfydesk serve: open ${record.endpoint ? `${record.url}/?token=${record.endpoint.token}` : 'the link it printed'} in a browser, or stop it first.`
        : `It is ${ownerKind(record)} in a terminal: let it finish, or stop it first.`;
  // The details leave the token out: errors end up in logs and JSON output.
  return new AppError('already_running', `${describeOwner(record)}. ${advice}`, {
    details: { pid: record.pid, mode: record.mode, command: record.command, url: record.url },
  });
}

type LockState =
  | { kind: 'none' }
  | { kind: 'unreadable'; raw: string; ageMs: number }
  | { kind: 'owner'; raw: string; record: OwnerRecord; isAlive: boolean };

function readLock(path: string, options: OwnerLockOptions): LockState {
  let raw: string;
  let modifiedMs: number;
  try {
    raw = readFileSync(path, 'utf8');
    modifiedMs = statSync(path).mtimeMs;
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return { kind: 'none' };
    throw new AppError('io_error', `ComfyDesk could not read its lock file ${path}.`, { cause: error });
  }
  let parsed: ReturnType<typeof OwnerRecord.safeParse> | undefined;
  try {
    parsed = OwnerRecord.safeParse(JSON.parse(raw));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) return { kind: 'unreadable', raw, ageMs: (options.now ?? Date.now)() - modifiedMs };
  const record = parsed.data;
  const isAlive =
    record.hostname !== (options.hostname ?? hostname())
      ? true // another machine sharing the folder: its pid means nothing here, so it counts as running
      : (options.isProcessAlive ?? isProcessAlive)(record.pid, record.processStart);
  return { kind: 'owner', raw, record, isAlive };
}

/** Creates the lock file with its whole content in one step; false when it exists already. */
function createExclusive(path: string, text: string): boolean {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if (systemErrorCode(error) === 'EEXIST') return false;
    // File systems without hard links (FAT, some network shares): exclusive create, then write.
    return createWithOpen(path, text);
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // already gone
    }
  }
}

function createWithOpen(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if (systemErrorCode(error) === 'EEXIST') return false;
    throw new AppError('io_error', `ComfyDesk could not create its lock file ${path}.`, { cause: error });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock, but only the exact file that was judged stale (`raw`), and only one process
 * at a time (a takeover folder, created atomically). Returns false when another process is busy.
 */
function removeStale(path: string, raw: string): boolean {
  const takeover = `${path}.takeover`;
  try {
    mkdirSync(takeover);
  } catch (error) {
    if (systemErrorCode(error) !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS) rmdirSync(takeover);
    } catch {
      // someone else finished it meanwhile
    }
    return false;
  }
  try {
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === raw) unlinkSync(path);
    return true;
  } finally {
    rmdirSync(takeover);
  }
}

/** Whether `pid` is a running process that started at `processStart` (when that is known). */
export function isProcessAlive(pid: number, processStart: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: there is no such process.
    if (systemErrorCode(error) !== 'EPERM') return false;
  }
  if (processStart === null) return true;
  const now = processStartTime(pid);
  return now === null || now === processStart;
}

/**
 * When a process started, in clock ticks since boot (Linux, `/proc/PID/stat` field 22): a pid the
 * OS handed to a new process after the owner died has a different start time. Null elsewhere.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function serialize(record: OwnerRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
