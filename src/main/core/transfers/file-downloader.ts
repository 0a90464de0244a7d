import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { DownloadProgress } from '@shared/domain/llm';
import { backoffDelayMs } from '@shared/backoff';
import { formatBytes } from '@shared/format';
import { AppError, fileError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** What to download and how to check it. */
export interface DownloadRequest {
  url: string;
  /** The final path; the file appears there only once complete and verified. */
  destination: string;
  /** Published SHA-256 (hex); checked after the last byte when given. */
  sha256?: string;
  /** Published size; used for the disk-space check before starting and checked at the end. */
  sizeBytes?: number;
  /** Aborting keeps what was written (`<destination>.part`) so the next download resumes from it. */
  signal: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

/** A finished, verified download. */
export interface DownloadResult {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** What the downloader needs from the world; tests pass a local fetch, a fake free-space probe, no retry delay. */
export interface FileDownloaderDeps {
  log: Logger;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Free bytes in a folder, or null when unknown. @default fs.statfs */
  freeBytes?: (dir: string) => Promise<number | null>;
  /** @default Date.now */
  now?: () => number;
  /** Attempts in a row that may fail without progress before giving up. @default 5 */
  maxAttempts?: number;
  /** Pause before retry number `attempt` (1-based), in ms. @default 500 ms doubling, at most 8 s */
  retryDelayMs?: (attempt: number) => number;
  /** Least time between two progress reports, in ms. @default 250 */
  progressIntervalMs?: number;
  /** Opens the partial file for appending. @default fs.promises.open(path, 'a') */
  openForAppend?: (path: string) => Promise<FileHandle>;
}

/** Kept beside the partial file so a resume only continues the same file from the same place. */
interface PartInfo {
  url: string;
  etag?: string;
  lastModified?: string;
}

/** Room kept free beyond the file itself, so a download never fills the disk to the last byte. */
const DISK_MARGIN_BYTES = 64 * 1024 * 1024;
const SPEED_WINDOW_MS = 5000;

/**
 * Downloads one large file: HTTP Range resume (after a dropped connection, a cancelled run or a
 * restart), a disk-space check before starting, SHA-256 and size verification, and a temporary
 * name (`.part`) that becomes the real name only when the file is complete and verified — so a
 * broken download never looks installed.
 */
export class FileDownloader {
  readonly #deps: FileDownloaderDeps;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;

  constructor(deps: FileDownloaderDeps) {
    this.#deps = deps;
    this.#fetch = deps.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = deps.now ?? Date.now;
  }

  /** The partial file a download of `destination` writes to. */
  static partPath(destination: string): string {
    return `${destination}.part`;
  }

  /** Deletes a partial download and its resume record. */
  static async discardPartial(destination: string): Promise<void> {
    const part = FileDownloader.partPath(destination);
    await rm(part, { force: true });
    await rm(`${part}.json`, { force: true });
  }

  async download(request: DownloadRequest): Promise<DownloadResult> {
    const { destination, signal } = request;
    const part = FileDownloader.partPath(destination);
    const infoPath = `${part}.json`;
    const dir = dirname(destination);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fileError(error, 'create the models folder', dir);
    }

    const recorded = await readPartInfo(infoPath);
    if (recorded?.url !== request.url) {
      // A partial file from another address (or without a record) cannot be trusted to continue.
      await FileDownloader.discardPartial(destination);
    }
    const session: Session = {
      info: recorded?.url === request.url ? recorded : { url: request.url },
      totalBytes: request.sizeBytes ?? null,
    };
    let file = await HashedFile.read(part);
    if (request.sizeBytes !== undefined) await this.#checkSpace(dir, request.sizeBytes - file.bytes, destination);

    const progress = new ProgressMeter(this.#now, this.#deps.progressIntervalMs ?? 250, request.onProgress);
    let failures = 0;
    const maxAttempts = this.#deps.maxAttempts ?? 5;

    for (;;) {
      if (signal.aborted) throw cancelled(destination);
      const before = file.bytes;
      try {
        await this.#attempt({ request, part, infoPath, session, file, progress, dir });
        if (session.totalBytes === null || file.bytes >= session.totalBytes) break;
        throw new Interrupted('the server closed the connection before the end of the file');
      } catch (error) {
        if (signal.aborted) throw cancelled(destination);
        if (!(error instanceof Interrupted)) throw error;
        // The hash must cover exactly the bytes on disk; a write cut short leaves them apart.
        if ((await sizeOf(part)) !== file.bytes) file = await HashedFile.read(part);
        failures = file.bytes > before ? 1 : failures + 1;
        if (failures >= maxAttempts) {
          throw new AppError(
            'llm_download_failed',
            `The download of ${basename(destination)} kept failing (${error.message}). What was downloaded is kept; press Download again to resume.`,
            {
              cause: error,
              details: { url: request.url, receivedBytes: file.bytes },
            },
          );
        }
        this.#deps.log.warn('download interrupted; resuming', {
          url: request.url,
          receivedBytes: file.bytes,
          attempt: failures,
          reason: error.message,
        });
        await sleep(
          this.#deps.retryDelayMs?.(failures) ?? backoffDelayMs(failures - 1, { maxDelayMs: 8000 }),
          signal,
        ).catch(() => undefined);
      }
    }

    progress.report(file.bytes, session.totalBytes, true);
    const digest = file.digest();
    const received = file.bytes;
    if (
      (request.sizeBytes !== undefined && received !== request.sizeBytes) ||
      (request.sha256 !== undefined && digest !== request.sha256.toLowerCase())
    ) {
      await FileDownloader.discardPartial(destination);
      throw new AppError(
        'llm_checksum_mismatch',
        `The downloaded ${basename(destination)} does not match its published checksum, so it was deleted. Try again; if it keeps happening, the file on the server has changed.`,
        {
          details: {
            url: request.url,
            expectedSha256: request.sha256,
            actualSha256: digest,
            expectedBytes: request.sizeBytes,
            receivedBytes: received,
          },
        },
      );
    }
    try {
      await rename(part, destination);
      await rm(infoPath, { force: true });
    } catch (error) {
      throw fileError(error, 'save the downloaded model as', destination);
    }
    return { path: destination, sizeBytes: received, sha256: digest };
  }

  async #checkSpace(dir: string, neededBytes: number, destination: string): Promise<void> {
    const free = await (this.#deps.freeBytes ?? freeBytesOf)(dir);
    if (free === null || neededBytes <= 0) return;
    if (free < neededBytes + DISK_MARGIN_BYTES) {
      throw new AppError(
        'disk_full',
        `Not enough disk space for ${basename(destination)}: it needs ${formatBytes(neededBytes)} and ${dir} has ${formatBytes(free)} free. Free some space or choose another models folder in Settings.`,
        { details: { dir, neededBytes, freeBytes: free } },
      );
    }
  }

  async #attempt(state: {
    request: DownloadRequest;
    part: string;
    infoPath: string;
    /** Updated as the server answers, even when the attempt is then interrupted. */
    session: Session;
    file: HashedFile;
    progress: ProgressMeter;
    dir: string;
  }): Promise<void> {
    const { request, part, infoPath, session, file, progress } = state;
    const received = file.bytes;
    const headers: Record<string, string> = {};
    if (received > 0) {
      headers.range = `bytes=${received}-`;
      // If-Range: the server sends the whole file instead of a range when it has changed meanwhile.
      const validator = session.info.etag ?? session.info.lastModified;
      if (validator) headers['if-range'] = validator;
    }
    let response: Response;
    try {
      response = await this.#fetch(request.url, { headers, signal: request.signal, redirect: 'follow' });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw new Interrupted(networkReason(error));
    }

    if (response.status === 416 && received > 0) {
      await response.body?.cancel();
      // Everything was already there (the end was reached just before an interruption).
      if (request.sizeBytes !== undefined && received === request.sizeBytes) {
        session.totalBytes = received;
        return;
      }
      await FileDownloader.discardPartial(request.destination);
      file.reset();
      throw new Interrupted('the server refused to resume; starting over');
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status >= 500 || response.status === 429)
        throw new Interrupted(`the server answered ${response.status}`);
      throw new AppError('llm_download_failed', downloadRefused(response.status, request.url), {
        details: { url: request.url, status: response.status },
      });
    }
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || range.start !== received) {
        await response.body?.cancel();
        await FileDownloader.discardPartial(request.destination);
        file.reset();
        throw new Interrupted('the server resumed from the wrong place; starting over');
      }
      session.totalBytes = range.total ?? session.totalBytes;
    } else {
      // 200: the whole file, from the first byte (a server without Range support, or a changed file).
      if (received > 0) {
        await FileDownloader.discardPartial(request.destination);
        file.reset();
      }
      const length = Number(response.headers.get('content-length'));
      session.totalBytes = Number.isFinite(length) && length > 0 ? length : session.totalBytes;
      session.info = {
        url: request.url,
        etag: strongEtag(response.headers.get('etag')),
        lastModified: response.headers.get('last-modified') ?? undefined,
      };
      await writePartInfo(infoPath, session.info);
      if (session.totalBytes !== null && request.sizeBytes === undefined)
        await this.#checkSpace(state.dir, session.totalBytes, request.destination);
    }
    if (!response.body) throw new Interrupted('the server sent no data');

    let handle: FileHandle;
    try {
      handle = await (this.#deps.openForAppend ?? ((path: string) => open(path, 'a')))(part);
    } catch (error) {
      await response.body.cancel();
      throw fileError(error, 'write', part);
    }
    try {
      const reader = response.body.getReader();
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (request.signal.aborted) throw error;
          throw new Interrupted(networkReason(error));
        }
        if (chunk.done) break;
        try {
          await handle.write(chunk.value);
        } catch (error) {
          await reader.cancel().catch(() => undefined);
          if (systemErrorCode(error) === 'ENOSPC') {
            await handle.close().catch(() => undefined);
            await FileDownloader.discardPartial(request.destination);
            throw new AppError(
              'disk_full',
              `The disk filled up while downloading ${basename(request.destination)}, so the partial file was deleted. Free some space and press Download again.`,
              {
                cause: error,
                details: { path: part },
              },
            );
          }
          throw fileError(error, 'write', part);
        }
        file.update(chunk.value);
        progress.report(file.bytes, session.totalBytes, false);
      }
      await handle.sync();
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}

/** What the server told us about the file so far. */
interface Session {
  info: PartInfo;
  /** Unknown until the catalog or the server says. */
  totalBytes: number | null;
}

/** An interruption worth retrying with a Range request. */
class Interrupted extends Error {}

/** The SHA-256 of the bytes written so far, and how many there are; always in step with the `.part` file. */
class HashedFile {
  #hash: Hash = createHash('sha256');
  bytes = 0;

  /** Hashes what an earlier run left in `path` (nothing when there is no such file). */
  static async read(path: string): Promise<HashedFile> {
    const file = new HashedFile();
    try {
      for await (const chunk of createReadStream(path)) file.update(chunk as Buffer);
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

/** Reports received bytes, speed over the last few seconds and the time left, at most every `intervalMs`. */
class ProgressMeter {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #listener: ((progress: DownloadProgress) => void) | undefined;
  readonly #samples: Array<{ time: number; bytes: number }> = [];
  #lastReport = Number.NEGATIVE_INFINITY;

  constructor(now: () => number, intervalMs: number, listener: ((progress: DownloadProgress) => void) | undefined) {
    this.#now = now;
    this.#intervalMs = intervalMs;
    this.#listener = listener;
  }

  report(receivedBytes: number, totalBytes: number | null, force: boolean): void {
    const time = this.#now();
    this.#samples.push({ time, bytes: receivedBytes });
    while (this.#samples.length > 2 && time - this.#samples[0]!.time > SPEED_WINDOW_MS) this.#samples.shift();
    if (!this.#listener || (!force && time - this.#lastReport < this.#intervalMs)) return;
    this.#lastReport = time;
    const first = this.#samples[0]!;
    const elapsedSeconds = (time - first.time) / 1000;
    const bytesPerSecond = elapsedSeconds > 0 ? Math.max(0, (receivedBytes - first.bytes) / elapsedSeconds) : 0;
    const remaining = totalBytes === null ? null : Math.max(0, totalBytes - receivedBytes);
    const etaSeconds =
      remaining === null ? null : remaining === 0 ? 0 : bytesPerSecond > 0 ? remaining / bytesPerSecond : null;
    this.#listener({ receivedBytes, totalBytes, bytesPerSecond, etaSeconds });
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readPartInfo(path: string): Promise<PartInfo | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as PartInfo).url === 'string')
      return parsed as PartInfo;
  } catch {
    // No record (or a damaged one): the partial file, if any, is discarded and the download starts over.
  }
  return undefined;
}

async function writePartInfo(path: string, info: PartInfo): Promise<void> {
  try {
    await writeFile(path, JSON.stringify(info));
  } catch (error) {
    throw fileError(error, 'write', path);
  }
}

/** Free bytes for files written into `dir` (asked of the nearest folder that exists); null when unknown. */
export async function freeBytesOf(dir: string): Promise<number | null> {
  for (let current = dir; ; current = dirname(current)) {
    try {
      const stats = await statfs(current);
      return stats.bavail * stats.bsize;
    } catch {
      if (dirname(current) === current) return null;
    }
  }
}

/** Weak ETags (`W/"…"`) cannot be used with If-Range. */
function strongEtag(etag: string | null): string | undefined {
  return etag && !etag.startsWith('W/') ? etag : undefined;
}

function parseContentRange(value: string | null): { start: number; total: number | null } | undefined {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? null : Number(match[3]) };
}

function networkReason(error: unknown): string {
  const code = systemErrorCode(error instanceof Error && error.cause !== undefined ? error.cause : error);
  if (code) return `network error ${code}`;
  return error instanceof Error ? error.message : String(error);
}

function downloadRefused(status: number, url: string): string {
  const host = new URL(url).host;
  if (status === 404)
    return `${host} no longer has this file (404). The catalog may be out of date; choose another model or use a GGUF file from disk.`;
  if (status === 401 || status === 403)
    return `${host} refused the download (${status}). The model may need an account there; download it in a browser and choose the file from disk.`;
  return `${host} refused the download (${status}). Try again later.`;
}

function cancelled(destination: string): AppError {
  return new AppError('cancelled', `The download of ${basename(destination)} was stopped.`, {
    details: { path: destination },
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
