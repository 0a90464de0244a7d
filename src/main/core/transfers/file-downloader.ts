import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ErrorCode } from '@shared/contract/errors';
import type { DownloadProgress } from '@shared/domain/llm';
import type { TokenProvider } from '@shared/domain/transfer';
import { backoffDelayMs } from '@shared/backoff';
import { formatBytes } from '@shared/format';
import { AppError, fileError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { type AppendHandle, type DownloadFileStore, localFileStore } from './file-store';
import {
  cancelled,
  cutToDurable,
  HashedFile,
  hostOf,
  Interrupted,
  networkReason,
  parseContentRange,
  readPartInfo,
  sleep,
  StallWatch,
  strongEtag,
  writePartInfo,
  ProgressMeter,
  type PartInfo,
} from './download-parts';
import { describeRefusal, looksLikeHtml } from './http-answers';
import { fetchHttpGet, type HttpAnswer, type HttpGet, nodeHttpGet } from './http-get';
import { type CheckpointPolicy, PartSink } from './part-sink';

export { freeBytesOf } from './file-store';
export { ProgressMeter } from './download-parts';

const basename = (path: string) => posix.basename(path.replaceAll('\\', '/'));

/** What to download and how to check it. */
export interface DownloadRequest {
  url: string;
  /** The final path; the file appears there only once complete and verified. */
  destination: string;
  /** Published SHA-256 (hex); checked after the last byte when given. */
  sha256?: string;
  /** Exact size; used for the disk-space check before starting and checked at the end. */
  sizeBytes?: number;
  /** Extra request headers (an access token for a gated model). Never logged. */
  headers?: Record<string, string>;
  /** Whose token the address takes (for the words when it is refused). @default from its host */
  provider?: TokenProvider;
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

/** The error codes a downloader reports; prompt enhancement keeps its own (`llm_*`). */
export interface DownloadErrorCodes {
  failed: ErrorCode;
  checksum: ErrorCode;
  notFound: ErrorCode;
  needsToken: ErrorCode;
  loginPage: ErrorCode;
}

/** Codes for model transfers. */
export const TRANSFER_ERROR_CODES: DownloadErrorCodes = {
  failed: 'download_failed',
  checksum: 'checksum_mismatch',
  notFound: 'download_not_found',
  needsToken: 'download_needs_token',
  loginPage: 'download_login_page',
};

/** What the downloader needs from the world; tests pass a local fetch, a fake free-space probe, no retry delay. */
export interface FileDownloaderDeps {
  log: Logger;
  /** An HTTP client to use instead of node:http(s) (tests, a proxy). @default nodeHttpGet */
  fetch?: typeof fetch;
  /** Where files are written: this machine's disk, or a server's over SFTP. @default localFileStore() */
  store?: DownloadFileStore;
  /** Free bytes in a folder, or null when unknown. @default the store's */
  freeBytes?: (dir: string) => Promise<number | null>;
  /** @default Date.now */
  now?: () => number;
  /** Attempts in a row that may fail without progress before giving up. @default 5 */
  maxAttempts?: number;
  /** Pause before retry number `attempt` (1-based), in ms. @default 500 ms doubling with jitter, at most 8 s */
  retryDelayMs?: (attempt: number) => number;
  /** Least time between two progress reports, in ms. @default 250 */
  progressIntervalMs?: number;
  /** An attempt that receives nothing for this long is dropped and resumed. @default 30000 */
  stallTimeoutMs?: number;
  /** How often what was written is made durable during a download. @default every 256 MiB or 5 s */
  checkpoint?: CheckpointPolicy;
  /** @default TRANSFER_ERROR_CODES */
  codes?: DownloadErrorCodes;
  /** What the user can do after a failure, appended to messages ("press Download again to resume"). */
  retryHint?: string;
  /** Words for a refused download (404, 401…). @default describeRefusal (model transfers) */
  describeRefusal?: (status: number, url: string, hasToken: boolean, provider?: TokenProvider) => string;
}

/** Room kept free beyond the file itself, so a download never fills the disk to the last byte. */
export const DISK_MARGIN_BYTES = 64 * 1024 * 1024;
/** While no bytes arrive (a stalled server, a wait before retrying), progress is sent again this often, so the speed shown falls. */
const IDLE_REPORT_MS = 1000;

/**
 * Downloads one large file: HTTP Range resume (after a dropped or stalled connection, a pause or a
 * restart), a disk-space check before starting, SHA-256 and size verification, and a temporary name
 * (`.part`) that becomes the real name only when the file is complete and verified — so a broken
 * download never looks installed. A web page (a login wall) is refused instead of being saved as a model.
 */
export class FileDownloader {
  readonly #deps: FileDownloaderDeps;
  readonly #get: HttpGet;
  readonly #now: () => number;
  readonly #codes: DownloadErrorCodes;
  readonly #store: DownloadFileStore;

  constructor(deps: FileDownloaderDeps) {
    this.#deps = deps;
    this.#get = deps.fetch ? fetchHttpGet(deps.fetch) : nodeHttpGet;
    this.#now = deps.now ?? Date.now;
    this.#codes = deps.codes ?? TRANSFER_ERROR_CODES;
    this.#store = deps.store ?? localFileStore();
  }

  /** The partial file a download of `destination` writes to. */
  static partPath(destination: string): string {
    return `${destination}.part`;
  }

  /** Deletes a partial download and its resume record on this machine. */
  static async discardPartial(destination: string): Promise<void> {
    await discardIn(localFileStore(), destination);
  }

  /** Deletes a partial download and its resume record where this downloader writes. */
  async discard(destination: string): Promise<void> {
    await discardIn(this.#store, destination);
  }

  /** Bytes a partial download of `destination` holds (0 when there is none). */
  async partialBytes(destination: string): Promise<number> {
    return this.#store.size(FileDownloader.partPath(destination));
  }

  async download(request: DownloadRequest): Promise<DownloadResult> {
    const { destination, signal } = request;
    const part = FileDownloader.partPath(destination);
    const infoPath = `${part}.json`;
    const store = this.#store;
    const dir = store.dirname(destination);
    try {
      await store.mkdirp(dir);
    } catch (error) {
      throw fileError(error, 'create the folder', dir);
    }

    const recorded = await readPartInfo(store, infoPath);
    if (recorded?.url !== request.url) {
      // A partial file from another address (or without a record) cannot be trusted to continue.
      await this.discard(destination);
    } else {
      await cutToDurable(store, part, recorded.durableBytes, this.#deps.log);
    }
    const session: Session = {
      info: recorded?.url === request.url ? recorded : { url: request.url },
      totalBytes: request.sizeBytes ?? null,
    };
    let file = await HashedFile.read(store, part);
    if (request.sizeBytes !== undefined) await this.#checkSpace(dir, request.sizeBytes - file.bytes, destination);

    const progress = new ProgressMeter(this.#now, this.#deps.progressIntervalMs ?? 250, request.onProgress, {
      idleReportMs: IDLE_REPORT_MS,
    });
    progress.report(file.bytes, session.totalBytes, true);
    try {
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
          if ((await store.size(part)) !== file.bytes) file = await HashedFile.read(store, part);
          failures = file.bytes > before ? 1 : failures + 1;
          if (failures >= maxAttempts) {
            throw new AppError(
              this.#codes.failed,
              `The download of ${basename(destination)} kept failing (${error.message}). What was downloaded is kept${this.#hint()}`,
              { cause: error, details: { url: request.url, receivedBytes: file.bytes } },
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
    } finally {
      progress.dispose(); // nothing is reported after the end or a failure
    }

    const digest = file.digest();
    const received = file.bytes;
    if (
      (request.sizeBytes !== undefined && received !== request.sizeBytes) ||
      (request.sha256 !== undefined && digest !== request.sha256.toLowerCase())
    ) {
      await this.discard(destination);
      throw new AppError(
        this.#codes.checksum,
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
      await store.rename(part, destination);
      await store.remove(infoPath);
    } catch (error) {
      throw fileError(error, 'save the downloaded file as', destination);
    }
    return { path: destination, sizeBytes: received, sha256: digest };
  }

  /** Records the durable length beside the partial file; a record that fails only means a resume trusts less. */
  async #recordDurable(infoPath: string, session: Session, durableBytes: number): Promise<void> {
    await writePartInfo(this.#store, infoPath, { ...session.info, durableBytes }).catch((error: unknown) =>
      this.#deps.log.warn('resume record not written', { path: infoPath, error }),
    );
  }

  #hint(): string {
    return this.#deps.retryHint ? `; ${this.#deps.retryHint}` : '.';
  }

  async #checkSpace(dir: string, neededBytes: number, destination: string): Promise<void> {
    const free = await (this.#deps.freeBytes ?? ((path: string) => this.#store.freeBytes(path)))(dir);
    if (free === null || neededBytes <= 0) return;
    if (free < neededBytes + DISK_MARGIN_BYTES) {
      throw new AppError(
        'disk_full',
        `Not enough disk space for ${basename(destination)}: it needs ${formatBytes(neededBytes)} and ${dir} has ${formatBytes(free)} free. Free some space or choose another folder.`,
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
    const headers: Record<string, string> = { ...request.headers };
    if (received > 0) {
      headers.range = `bytes=${received}-`;
      // If-Range: the server sends the whole file instead of a range when it has changed meanwhile.
      const validator = session.info.etag ?? session.info.lastModified;
      if (validator) headers['if-range'] = validator;
    }
    // A stalled server sends nothing and never closes: this attempt is dropped and the next resumes.
    const stall = new StallWatch(this.#deps.stallTimeoutMs ?? 30_000);
    const signal = AbortSignal.any([request.signal, stall.signal]);
    try {
      let response: HttpAnswer;
      try {
        response = await this.#get(request.url, { headers, signal });
      } catch (error) {
        if (request.signal.aborted) throw error;
        throw new Interrupted(stall.signal.aborted ? 'the server stopped sending data' : networkReason(error));
      }

      if (response.status === 416 && received > 0) {
        response.discard();
        // Everything was already there (the end was reached just before an interruption).
        if (request.sizeBytes !== undefined && received === request.sizeBytes) {
          session.totalBytes = received;
          return;
        }
        await this.discard(request.destination);
        file.reset();
        throw new Interrupted('the server refused to resume; starting over');
      }
      if (response.status < 200 || response.status > 299) {
        response.discard();
        if (response.status >= 500 || response.status === 429)
          throw new Interrupted(`the server answered ${response.status}`);
        const code =
          response.status === 404 || response.status === 410
            ? this.#codes.notFound
            : response.status === 401 || response.status === 403
              ? this.#codes.needsToken
              : this.#codes.failed;
        const hasToken = Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'authorization');
        throw new AppError(
          code,
          (this.#deps.describeRefusal ?? describeRefusal)(response.status, request.url, hasToken, request.provider),
          {
            details: { url: request.url, status: response.status },
          },
        );
      }
      if (/text\/html/i.test(response.header('content-type') ?? '')) {
        response.discard();
        throw this.#loginPage(request.url, response.url);
      }
      if (response.status === 206) {
        const range = parseContentRange(response.header('content-range'));
        if (!range || range.start !== received) {
          response.discard();
          await this.discard(request.destination);
          file.reset();
          throw new Interrupted('the server resumed from the wrong place; starting over');
        }
        session.totalBytes = range.total ?? session.totalBytes;
      } else {
        // 200: the whole file, from the first byte (a server without Range support, or a changed file).
        if (received > 0) {
          await this.discard(request.destination);
          file.reset();
        }
        const length = Number(response.header('content-length'));
        session.totalBytes = Number.isFinite(length) && length > 0 ? length : session.totalBytes;
        session.info = {
          url: request.url,
          etag: strongEtag(response.header('etag')),
          lastModified: response.header('last-modified') ?? undefined,
        };
        await writePartInfo(this.#store, infoPath, { ...session.info, durableBytes: 0 });
        if (session.totalBytes !== null && request.sizeBytes === undefined)
          await this.#checkSpace(state.dir, session.totalBytes, request.destination);
      }
      await this.#receive(response.body, { request, part, infoPath, session, file, progress, stall });
    } finally {
      stall.dispose();
    }
  }

  async #receive(
    body: Readable,
    state: {
      request: DownloadRequest;
      part: string;
      infoPath: string;
      session: Session;
      file: HashedFile;
      progress: ProgressMeter;
      stall: StallWatch;
    },
  ): Promise<void> {
    const { request, part, infoPath, session, file, progress, stall } = state;
    let handle: AppendHandle;
    try {
      handle = await this.#store.openAppend(part);
    } catch (error) {
      body.destroy();
      throw fileError(error, 'write', part);
    }
    // Reading never waits for the disk: the sink gathers what arrives while a block is written. A full
    // sink pauses the body, its socket fills and the server waits.
    const sink = new PartSink(
      handle,
      file,
      (durableBytes) => this.#recordDurable(infoPath, session, durableBytes),
      this.#deps.checkpoint,
    );
    sink.on('error', (error) => body.destroy(error));
    let arrivedBytes = file.bytes;
    let isWaiting = false;
    const resume = () => {
      isWaiting = false;
      body.resume();
    };
    // 'data' events rather than an async iterator: no promise per chunk on the hot path.
    body.on('data', (chunk: Buffer) => {
      stall.touch();
      if (arrivedBytes === 0 && chunk.byteLength > 0 && looksLikeHtml(chunk)) {
        body.destroy(this.#loginPage(request.url, request.url));
        return;
      }
      arrivedBytes += chunk.byteLength;
      // What arrived counts for the display at once; the hash and the resume offset wait for the disk.
      progress.report(arrivedBytes, session.totalBytes, false);
      if (!sink.write(chunk) && !isWaiting) {
        isWaiting = true;
        body.pause();
        sink.once('drain', resume);
      }
    });
    try {
      try {
        await finished(body);
      } catch (error) {
        if (sink.failure !== undefined) throw error;
        // Paused, cancelled or cut off: what arrived (and was shown) is kept, made durable, for the resume.
        if (request.signal.aborted) {
          await sink.complete().catch(() => undefined);
          await sink.sync().catch(() => undefined);
          throw error;
        }
        if (error instanceof AppError) throw error; // a login page
        await sink.complete();
        await sink.sync();
        throw new Interrupted(stall.signal.aborted ? 'the server stopped sending data' : networkReason(error));
      }
      await sink.complete();
      await sink.sync();
    } catch (error) {
      if (sink.failure === undefined) throw error;
      if (systemErrorCode(sink.failure) === 'ENOSPC') {
        await sink.settled();
        await handle.close().catch(() => undefined);
        await this.discard(request.destination);
        throw new AppError(
          'disk_full',
          `The disk filled up while downloading ${basename(request.destination)}, so the partial file was deleted. Free some space and try again.`,
          { cause: sink.failure, details: { path: part } },
        );
      }
      throw fileError(sink.failure, 'write', part);
    } finally {
      sink.off('drain', resume);
      sink.destroy();
      // A checkpoint still running would record after the next attempt has started over.
      await sink.settled();
      await handle.close().catch(() => undefined);
    }
  }

  #loginPage(url: string, finalUrl: string): AppError {
    const host = hostOf(finalUrl) ?? hostOf(url) ?? 'The server';
    return new AppError(
      this.#codes.loginPage,
      `${host} sent a web page instead of the file — usually a login or licence page. Open ${url} in a browser, sign in or accept the licence, and set your access token in Downloads › Access tokens.`,
      { details: { url, finalUrl } },
    );
  }
}

/** What the server told us about the file so far. */
interface Session {
  info: PartInfo;
  /** Unknown until the caller or the server says. */
  totalBytes: number | null;
}

async function discardIn(store: DownloadFileStore, destination: string): Promise<void> {
  const part = FileDownloader.partPath(destination);
  await store.remove(part);
  await store.remove(`${part}.json`);
}
