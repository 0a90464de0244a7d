import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { HashedFile } from './download-parts';
import type { AppendHandle } from './file-store';

/**
 * Bytes a {@link PartSink} holds before `write` asks the reader to wait. A Writable says `drain` only
 * once it is empty, so the reader then waits for all of it while the socket stalls: with 4 MiB that
 * happened ~60 times per 256 MB on a busy 2-core machine, with 16 MiB once or a few times.
 */
const SINK_BUFFER_BYTES = 16 * 1024 * 1024;

/** When to make what was written durable while the download goes on. */
export interface CheckpointPolicy {
  /** Written bytes not yet synced that start a sync. @default 256 MiB */
  bytes?: number;
  /** Time after the last sync after which any new bytes start one. @default 5000 */
  intervalMs?: number;
  /** @default performance.now */
  now?: () => number;
}

const CHECKPOINT_BYTES = 256 * 1024 * 1024;
const CHECKPOINT_INTERVAL_MS = 5000;

/**
 * Appends to the partial file with one write in flight: what arrives meanwhile is written as one block
 * next, so a fast network gets big writes and a slow one still reaches the disk at once. The hash and the
 * byte count follow what was written, never what is still in memory.
 *
 * Durability: every few hundred MB or seconds a sync runs beside the writes (nobody waits for it) and then
 * `onDurable` records the length it covered; a resume after a crash trusts only that length, because
 * bytes past it may never have reached the disk (a file system may keep the size and lose the data). A
 * sync per 16 MiB instead cost a journal commit and a disk flush every 16 MiB to keep safe a resume that
 * a record of the synced length keeps safe as well.
 */
export class PartSink extends Writable {
  /** The write or sync that failed, if one did (the sink is then destroyed and drops what it held). */
  failure: unknown;
  readonly #handle: AppendHandle;
  readonly #file: HashedFile;
  readonly #onDurable: (durableBytes: number) => Promise<void>;
  readonly #checkpointBytes: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #durableBytes: number;
  #lastSync: number;
  #checkpoint: Promise<void> | undefined;

  /**
   * `file` holds what is already in the partial file, taken as durable: a resume starts from the recorded
   * durable length. `onDurable` is told each length a finished sync covers; it must not reject (a record
   * that could not be written only means a resume trusts less).
   */
  constructor(
    handle: AppendHandle,
    file: HashedFile,
    onDurable: (durableBytes: number) => Promise<void>,
    policy: CheckpointPolicy = {},
  ) {
    super({ highWaterMark: SINK_BUFFER_BYTES });
    this.#handle = handle;
    this.#file = file;
    this.#onDurable = onDurable;
    this.#checkpointBytes = policy.bytes ?? CHECKPOINT_BYTES;
    this.#intervalMs = policy.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#now = policy.now ?? (() => performance.now());
    this.#durableBytes = file.bytes;
    this.#lastSync = this.#now();
  }

  /** Writes what is left and ends; rejects with the failure of any write. */
  complete(): Promise<void> {
    this.end();
    return finished(this);
  }

  /**
   * Makes everything written durable and records its length (before the rename, and when a download
   * stops, so the next run resumes from all of it); its failure counts as a write's.
   */
  async sync(): Promise<void> {
    await this.settled();
    const failure = this.failure;
    if (failure !== undefined)
      throw failure instanceof Error ? failure : new Error('a write to the partial file failed');
    await this.#syncAndRecord();
  }

  /** Waits for a checkpoint in progress (before the file is closed or another attempt records). */
  async settled(): Promise<void> {
    await this.#checkpoint?.catch(() => undefined);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#append([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#append(
      chunks.map(({ chunk }) => chunk),
      callback,
    );
  }

  #append(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    this.#handle.write(chunks).then(
      () => {
        // The next block starts for the disk first, then this one is hashed meanwhile (in this same turn).
        callback();
        for (const chunk of chunks) this.#file.update(chunk);
        this.#maybeCheckpoint();
      },
      (error: unknown) => {
        this.failure ??= error;
        callback(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  #maybeCheckpoint(): void {
    if (this.#checkpoint !== undefined || this.failure !== undefined) return;
    const unsyncedBytes = this.#file.bytes - this.#durableBytes;
    if (unsyncedBytes <= 0) return;
    if (unsyncedBytes < this.#checkpointBytes && this.#now() - this.#lastSync < this.#intervalMs) return;
    this.#checkpoint = this.#syncAndRecord()
      .catch((error: unknown) => {
        // A failed write-back is a failed write: Linux reports it once per open file, so it is not retried.
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        this.#checkpoint = undefined;
      });
  }

  async #syncAndRecord(): Promise<void> {
    // Only writes that finished are counted in the file's bytes, so the sync covers all of them.
    const bytes = this.#file.bytes;
    this.#lastSync = this.#now();
    try {
      await this.#handle.sync();
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
    this.#durableBytes = bytes;
    await this.#onDurable(bytes);
  }
}
