import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type {
  RestoreFinished,
  RestoreProgressEvent,
  SnapshotFinished,
  SnapshotProgressEvent,
} from '@shared/contract/snapshots';
import type { ConnectionProfile } from '@shared/domain/connection';
import { parseSnapshot, snapshotText, summarize, type ServerSnapshot } from '@shared/domain/snapshot';
import type { ConnectionTarget } from '../connections/server-connection';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, fileError, serializeError } from '../lib/errors';
import { safeFileName } from '../lib/file-names';
import type { Logger } from '../lib/logger';
import type { TransferTarget } from '../transfers/ports';
import { restoreSnapshot, type RestoreDeps } from './restore-snapshot';
import { takeSnapshot, type ModelSources, type SnapshotTarget } from './take-snapshot';

export interface SnapshotServiceEvents {
  progress: SnapshotProgressEvent;
  finished: SnapshotFinished;
  restoreProgress: RestoreProgressEvent;
  restoreFinished: RestoreFinished;
}

/** What the snapshot service uses of the connections (the ConnectionManager). */
export interface SnapshotConnections {
  readonly activeId: string | null;
  profile(serverId: string): ConnectionProfile | undefined;
  client(serverId: string): SnapshotTarget['client'] | undefined;
  /** The live connection: its SSH shell, for SSH connections while the tunnel is open. */
  connection(serverId: string): { readonly shell: SnapshotTarget['shell'] } | undefined;
  target(serverId: string): ConnectionTarget | undefined;
}

export interface SnapshotServiceDeps {
  connections: SnapshotConnections;
  sources: ModelSources;
  /** The Missing-to-Ready machinery restores go through. */
  transfers: RestoreDeps['transfers'];
  /** A connected server as the transfers see it. */
  transferTarget: (serverId: string) => TransferTarget | undefined;
  /** Where snapshots go when no path is given. */
  snapshotsDir: string;
  /** "ComfyDesk 0.1.0". */
  createdBy: string;
  log: Logger;
  now?: () => Date;
}

/** Where a connection target is, for the snapshot's `server.address`. */
export function targetAddress(target: ConnectionTarget | undefined, fallback: string): string {
  if (!target) return fallback;
  return target.kind === 'ssh' ? `ssh://${target.username}@${target.host}:${target.port}` : target.url;
}

/** Writes a snapshot file all at once (a temporary file renamed into place), creating its folder. */
export async function writeSnapshotFile(path: string, snapshot: ServerSnapshot): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temporary, snapshotText(snapshot), 'utf8');
    await rename(temporary, path);
  } catch (error) {
    throw fileError(error, 'write the snapshot to', path);
  }
}

/** Reads and checks a snapshot file; the error says what is wrong with it. */
export async function readSnapshotFile(path: string): Promise<ServerSnapshot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(error, 'read the snapshot', path);
  }
  try {
    return parseSnapshot(JSON.parse(text));
  } catch (error) {
    throw new AppError('invalid_input', `${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Saves snapshots of the app's servers and restores them onto others: runs in the background (hashing large models takes a
 * while), reports progress, writes the JSON file, and can be cancelled.
 */
export class SnapshotService {
  readonly #deps: SnapshotServiceDeps;
  readonly #emitter: Emitter<SnapshotServiceEvents>;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  constructor(deps: SnapshotServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  on<K extends keyof SnapshotServiceEvents>(
    name: K,
    listener: (payload: SnapshotServiceEvents[K]) => void,
  ): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** Nothing to start: snapshots run when asked. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  /** Cancels snapshots under way and waits for them to end. */
  async stop(): Promise<void> {
    for (const { controller } of this.#running.values()) controller.abort();
    await Promise.allSettled([...this.#running.values()].map((entry) => entry.done));
  }

  /** Starts a snapshot of a connected server; resolves at once with its id and the file it will write. */
  save(input: { serverId?: string; path?: string; hash: boolean }): { snapshotId: string; path: string } {
    const serverId = input.serverId ?? this.#deps.connections.activeId;
    const profile = serverId ? this.#deps.connections.profile(serverId) : undefined;
    if (!serverId || !profile)
      throw new AppError('connection_not_found', 'There is no such connection. Pick one in Settings › Connections.');
    const client = this.#deps.connections.client(serverId);
    if (!client)
      throw new AppError('comfy_offline', `${profile.name} is not connected. Bring it online to take its snapshot.`);
    if (input.path !== undefined && !isAbsolute(input.path))
      throw new AppError('invalid_input', 'Give the snapshot file as a full path on the machine running ComfyDesk.');
    const stamp = (this.#deps.now?.() ?? new Date()).toISOString().slice(0, 16).replace(/[T:]/g, '-');
    const path = input.path ?? join(this.#deps.snapshotsDir, `${safeFileName(profile.name)}-${stamp}.json`);
    const snapshotId = randomUUID();
    const controller = new AbortController();
    const target: SnapshotTarget = {
      client,
      shell: this.#deps.connections.connection(serverId)?.shell,
      address: targetAddress(this.#deps.connections.target(serverId), profile.name),
    };
    const done = this.#run(snapshotId, serverId, target, path, input.hash, controller.signal).finally(() =>
      this.#running.delete(snapshotId),
    );
    this.#running.set(snapshotId, { controller, done });
    return { snapshotId, path };
  }

  /** Starts restoring a snapshot file onto a connected server; resolves once the file is read, with the restore's id. */
  async restore(input: { path: string; serverId?: string }): Promise<{ restoreId: string }> {
    const serverId = input.serverId ?? this.#deps.connections.activeId;
    const profile = serverId ? this.#deps.connections.profile(serverId) : undefined;
    if (!serverId || !profile)
      throw new AppError('connection_not_found', 'There is no such connection. Pick one in Settings › Connections.');
    if (!isAbsolute(input.path))
      throw new AppError('invalid_input', 'Give the snapshot file as a full path on the machine running ComfyDesk.');
    const snapshot = await readSnapshotFile(input.path);
    const target = this.#deps.transferTarget(serverId);
    if (!target)
      throw new AppError('comfy_offline', `${profile.name} is not connected. Bring it online to restore onto it.`);
    const restoreId = randomUUID();
    const controller = new AbortController();
    const done = this.#restore(restoreId, serverId, snapshot, target, controller.signal).finally(() =>
      this.#running.delete(restoreId),
    );
    this.#running.set(restoreId, { controller, done });
    return { restoreId };
  }

  async #restore(
    restoreId: string,
    serverId: string,
    snapshot: ServerSnapshot,
    target: TransferTarget,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const report = await restoreSnapshot(snapshot, {
        transfers: this.#deps.transfers,
        target,
        log: this.#deps.log.child('restore'),
        signal,
        onProgress: (items) => this.#emitter.emit('restoreProgress', { restoreId, serverId, items }),
      });
      this.#emitter.emit('restoreFinished', { restoreId, serverId, ok: true, report });
    } catch (error) {
      this.#emitter.emit('restoreFinished', {
        restoreId,
        serverId,
        ok: false,
        error: signal.aborted
          ? { code: 'cancelled', userMessage: 'The restore was cancelled; what already landed stays on the server.' }
          : serializeError(error, this.#deps.log),
      });
    }
  }

  /** Cancels a snapshot save or a restore. */
  cancel(snapshotId: string): void {
    this.#running.get(snapshotId)?.controller.abort();
  }

  async #run(
    snapshotId: string,
    serverId: string,
    target: SnapshotTarget,
    path: string,
    hash: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const snapshot = await takeSnapshot(target, {
        sources: this.#deps.sources,
        hash,
        createdBy: this.#deps.createdBy,
        signal,
        now: this.#deps.now,
        onProgress: (progress) => this.#emitter.emit('progress', { snapshotId, serverId, ...progress }),
      });
      this.#emitter.emit('progress', { snapshotId, serverId, phase: 'writing', done: 0, total: 1 });
      await writeSnapshotFile(path, snapshot);
      this.#emitter.emit('finished', { snapshotId, serverId, ok: true, path, summary: summarize(snapshot) });
    } catch (error) {
      const cancelled = signal.aborted;
      this.#emitter.emit('finished', {
        snapshotId,
        serverId,
        ok: false,
        error: cancelled
          ? { code: 'cancelled', userMessage: 'The snapshot was cancelled; no file was written.' }
          : serializeError(error, this.#deps.log),
      });
    }
  }
}
