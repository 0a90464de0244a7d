import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';
import type { DownloadProgress } from '@shared/domain/llm';
import { AppError, fileError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { DownloadFileStore } from './file-store';

// The pieces FileDownloader is built from (besides PartSink): the partial file's record and hash, the
// stall watch, the progress meter, and the small readers of HTTP answers.

const basename = (path: string) => posix.basename(path.replaceAll('\\', '/'));
const SPEED_WINDOW_MS = 5000;

/** Kept beside the partial file so a resume only continues the same file from the same place. */
export interface PartInfo {
  url: string;
  etag?: string;
  lastModified?: string;
  /**
   * The length the last sync made durable: after a crash, bytes past it may be zeros or missing, so a
   * resume cuts the partial file back to it. Absent in records written before it existed (the file is
   * then taken as it is).
   */
  durableBytes?: number;
}

/** An interruption worth retrying with a Range request. */
export class Interrupted extends Error {}

/**
 * Aborts when nothing arrived for `timeoutMs`. `touch` only notes the time: one timer checks it when
 * it fires and waits again for the rest, so a fast download does not re-arm a timer per chunk.
 */
export class StallWatch {
  readonly #controller = new AbortController();
  readonly #timeoutMs: number;
  #lastTouch = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#arm(timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  touch(): void {
    this.#lastTouch = performance.now();
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => {
      const idleMs = performance.now() - this.#lastTouch;
      if (idleMs >= this.#timeoutMs) this.#controller.abort(new Error('stalled'));
      else this.#arm(this.#timeoutMs - idleMs);
    }, delayMs);
    this.#timer.unref();
  }
}

/** The SHA-256 of the bytes written so far, and how many there are; always in step with the `.part` file. */
export class HashedFile {
  #hash: Hash = createHash('sha256');
  bytes = 0;

  /** Hashes what an earlier run left in `path` (nothing when there is no such file). */
  static async read(store: DownloadFileStore, path: string): Promise<HashedFile> {
    const file = new HashedFile();
    if ((await store.size(path)) === 0) return file;
    try {
      for await (const chunk of store.read(path)) file.update(chunk);
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') throw fileError(error, 'read', path);
    }
    return file;
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  /** Starts over from an empty file. */
  reset(): void {
    this.#hash = createHash('sha256');
    this.bytes = 0;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** What a {@link ProgressMeter} can be told besides its interval. */
export interface ProgressMeterOptions {
  /**
   * When nothing was reported for this long, the last report is sent again (and again), so the speed
   * shown falls toward 0 and the time left grows while no bytes arrive. Off when not given.
   */
  idleReportMs?: number;
}

/**
 * Reports received bytes, speed over the last few seconds and the time left, at most one report per
 * interval. A report held back by the interval is sent when the interval ends, so the last bytes before
 * a pause in the data (a stalled server) are shown too, not only the next chunk. Speed is taken from the
 * reports sent, so calling `report` for every network chunk costs little.
 */
export class ProgressMeter {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #idleReportMs: number | undefined;
  readonly #listener: ((progress: DownloadProgress) => void) | undefined;
  readonly #samples: Array<{ time: number; bytes: number }> = [];
  #lastReport = Number.NEGATIVE_INFINITY;
  #latest: { receivedBytes: number; totalBytes: number | null } | undefined;
  #heldTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    now: () => number,
    intervalMs: number,
    listener: ((progress: DownloadProgress) => void) | undefined,
    options: ProgressMeterOptions = {},
  ) {
    this.#now = now;
    this.#intervalMs = intervalMs;
    this.#listener = listener;
    this.#idleReportMs = options.idleReportMs;
  }

  report(receivedBytes: number, totalBytes: number | null, force: boolean): void {
    if (!this.#listener) return;
    this.#latest = { receivedBytes, totalBytes };
    const time = this.#now();
    if (!force && time - this.#lastReport < this.#intervalMs) {
      if (this.#heldTimer === undefined) {
        this.#heldTimer = setTimeout(() => this.#sendLatest(), this.#intervalMs - (time - this.#lastReport));
        this.#heldTimer.unref?.();
      }
      return;
    }
    this.#send(time, receivedBytes, totalBytes);
  }

  /** No report comes after this (the download ended or failed). */
  dispose(): void {
    clearTimeout(this.#heldTimer);
    clearTimeout(this.#idleTimer);
    this.#heldTimer = undefined;
    this.#idleTimer = undefined;
    this.#latest = undefined;
  }

  #sendLatest(): void {
    this.#heldTimer = undefined;
    const latest = this.#latest;
    if (latest) this.#send(this.#now(), latest.receivedBytes, latest.totalBytes);
  }

  #send(time: number, receivedBytes: number, totalBytes: number | null): void {
    clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
    this.#lastReport = time;
    const samples = this.#samples;
    // Bytes that were already there (a resumed file) are not speed: the window starts afresh.
    if (receivedBytes < (samples.at(-1)?.bytes ?? 0)) samples.length = 0;
    samples.push({ time, bytes: receivedBytes });
    while (samples.length > 2 && time - samples[0]!.time > SPEED_WINDOW_MS) samples.shift();
    const first = samples[0]!;
    const elapsedSeconds = (time - first.time) / 1000;
    const bytesPerSecond = elapsedSeconds > 0 ? Math.max(0, (receivedBytes - first.bytes) / elapsedSeconds) : 0;
    const remaining = totalBytes === null ? null : Math.max(0, totalBytes - receivedBytes);
    const etaSeconds =
      remaining === null ? null : remaining === 0 ? 0 : bytesPerSecond > 0 ? remaining / bytesPerSecond : null;
    if (this.#idleReportMs !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#sendLatest(), this.#idleReportMs);
      this.#idleTimer.unref?.();
    }
    this.#listener?.({ receivedBytes, totalBytes, bytesPerSecond, etaSeconds });
  }
}

export async function readPartInfo(store: DownloadFileStore, path: string): Promise<PartInfo | undefined> {
  try {
    const text = await store.readText(path);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { url, durableBytes } = parsed as PartInfo;
    const isLength = durableBytes === undefined || (Number.isSafeInteger(durableBytes) && durableBytes >= 0);
    if (typeof url === 'string' && isLength) return parsed as PartInfo;
  } catch {
    // No record (or a damaged one): the partial file, if any, is discarded and the download starts over.
  }
  return undefined;
}

/** Bytes past the last recorded sync may not have survived a crash (zeros, or data never written): cut them off. */
export async function cutToDurable(
  store: DownloadFileStore,
  part: string,
  durableBytes: number | undefined,
  log: Logger,
): Promise<void> {
  if (durableBytes === undefined) return;
  const bytes = await store.size(part);
  if (bytes <= durableBytes) return;
  try {
    await store.truncate(part, durableBytes);
  } catch (error) {
    throw fileError(error, 'resume from', part);
  }
  log.info('partial file cut back to what was last made durable', { path: part, bytes, durableBytes });
}

export async function writePartInfo(store: DownloadFileStore, path: string, info: PartInfo): Promise<void> {
  try {
    await store.writeText(path, JSON.stringify(info));
  } catch (error) {
    throw fileError(error, 'write', path);
  }
}

/** Weak ETags (`W/"…"`) cannot be used with If-Range. */
export function strongEtag(etag: string | null): string | undefined {
  return etag && !etag.startsWith('W/') ? etag : undefined;
}

export function parseContentRange(value: string | null): { start: number; total: number | null } | undefined {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? null : Number(match[3]) };
}

export function networkReason(error: unknown): string {
  const code = systemErrorCode(error instanceof Error && error.cause !== undefined ? error.cause : error);
  if (code) return `network error ${code}`;
  return error instanceof Error ? error.message : String(error);
}

export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

export function cancelled(destination: string): AppError {
  return new AppError('cancelled', `The download of ${basename(destination)} was stopped.`, {
    details: { path: destination },
  });
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new AppError('cancelled', 'The download was stopped.'));
      },
      { once: true },
    );
  });
}
