import { randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StagedInput } from '@shared/domain/job';
import { AppError, fileError, systemErrorCode } from '../lib/errors';
import { safeFileName } from '../lib/file-names';
import { mediaTypeOf } from '../lib/media-types';

/** Largest file a user may hand over for a run. @default 64 MiB */
export const MAX_STAGED_BYTES = 64 * 1024 * 1024;

const ALLOWED_MIME = /^(image|video|audio)\//;

/** A staged file on disk: `<uuid>-<name>`. */
const STAGED_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(.+)$/;

/** How much of a file may be staged. */
export interface StageLimits {
  /** @default MAX_STAGED_BYTES */
  maxBytes?: number;
}

/**
 * Files a person dropped or picked for a run, kept in the data folder until a run uploads them
 * to its server (which may be hours later, after a pause or a restart of ComfyDesk). Retries reuse
 * what the server stored.
 *
 * Files arrive as a stream (serve mode's upload) or by their path on this machine (the desktop
 * app, the CLI); either way they go to disk in pieces and are never held in memory whole.
 */
export class StagedInputs {
  readonly #dir: string;
  readonly #items = new Map<string, StagedInput & { file: string }>();

  constructor(deps: { dir: string }) {
    this.#dir = deps.dir;
  }

  /** The folder staged files are written to (for tests and for clean-up checks). */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Streams `source` to disk and returns its handle. Stops reading as soon as the file grows past
   * the limit, and then leaves nothing behind. `declaredBytes` (a Content-Length) is refused before
   * anything is read when it is already too much.
   */
  async stageStream(
    name: string,
    mime: string,
    source: Readable,
    options: StageLimits & { declaredBytes?: number } = {},
  ): Promise<StagedInput> {
    const maxBytes = options.maxBytes ?? MAX_STAGED_BYTES;
    if (options.declaredBytes !== undefined) checkSize(name, options.declaredBytes, maxBytes);
    const { id, safeName, file, type } = this.#prepare(name, mime);
    let sizeBytes = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.byteLength;
        if (sizeBytes > maxBytes) done(tooLarge(name, sizeBytes, maxBytes));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(source, limiter, createWriteStream(file, { flags: 'wx' }));
    } catch (error) {
      await rm(file, { force: true });
      if (error instanceof AppError) throw error;
      if (systemErrorCode(error) === 'ERR_STREAM_PREMATURE_CLOSE' || systemErrorCode(error) === 'ECONNRESET')
        throw new AppError('cancelled', `The upload of ${name} stopped before it was complete; add the file again.`, {
          cause: error,
        });
      throw fileError(error, 'save', file);
    }
    return this.#keep(id, safeName, type, sizeBytes, file);
  }

  /**
   * Copies a media file named by its absolute path on this machine (the desktop app hands over the
   * path of a dropped or picked file). Only regular image, video and audio files are taken, by
   * their extension, so a path can never stage a key file or a folder.
   */
  async stageFile(path: string, options: StageLimits = {}): Promise<StagedInput> {
    const name = basename(path);
    const media = mediaTypeOf(name);
    if (!isAbsolute(path) || !(media.kind === 'image' || media.kind === 'video' || media.kind === 'audio')) {
      throw new AppError('invalid_input', `${name || path} is not an image, video or audio file ComfyDesk knows.`, {
        details: { path },
      });
    }
    let sizeBytes: number;
    try {
      const stats = await stat(path);
      if (!stats.isFile()) throw new AppError('invalid_input', `${name} is not a file.`, { details: { path } });
      sizeBytes = stats.size;
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw fileError(error, 'read', path);
    }
    checkSize(name, sizeBytes, options.maxBytes ?? MAX_STAGED_BYTES);
    let source: Readable;
    try {
      source = createReadStream(path);
    } catch (error) {
      throw fileError(error, 'read', path);
    }
    return this.stageStream(name, media.mime ?? `${media.kind}/${name.split('.').pop() ?? ''}`, source, options);
  }

  get(id: string): (StagedInput & { file: string }) | undefined {
    return this.#items.get(id);
  }

  /** Whether a staged file is still there to upload (known, and still on disk). */
  has(id: string): boolean {
    const item = this.#items.get(id);
    return item !== undefined && existsSync(item.file);
  }

  /** The bytes of a staged file, for upload. */
  read(id: string): { name: string; data: Buffer } {
    const item = this.#items.get(id);
    if (!item) throw new AppError('not_found', 'That input file is no longer available; add it again.');
    try {
      return { name: item.name, data: readFileSync(item.file) };
    } catch (error) {
      throw fileError(error, 'read', item.file);
    }
  }

  /** Takes back the files staged before a restart (held jobs still refer to them by id). */
  reload(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return; // nothing staged yet
    }
    for (const name of names) {
      const match = STAGED_FILE.exec(name);
      if (!match || this.#items.has(match[1]!)) continue;
      const file = join(this.#dir, name);
      try {
        const sizeBytes = statSync(file).size;
        const mime = mediaTypeOf(match[2]!).mime ?? 'application/octet-stream';
        this.#items.set(match[1]!, { id: match[1]!, name: match[2]!, mime, sizeBytes, file });
      } catch {
        // gone meanwhile
      }
    }
  }

  /** Removes every staged file except those still to be uploaded (`keep`: held jobs' staged ids). */
  prune(keep: ReadonlySet<string>): void {
    for (const [id, item] of this.#items) {
      if (keep.has(id)) continue;
      rmSync(item.file, { force: true });
      this.#items.delete(id);
    }
  }

  /** Removes every staged file. */
  clear(): void {
    rmSync(this.#dir, { recursive: true, force: true });
    this.#items.clear();
  }

  #prepare(name: string, mime: string): { id: string; safeName: string; file: string; type: string } {
    const type = mime || mediaTypeOf(name).mime || '';
    if (type && !ALLOWED_MIME.test(type)) {
      throw new AppError('invalid_input', `${name} is not an image, video or audio file (${type}).`, {
        details: { mime: type },
      });
    }
    const id = randomUUID();
    const safeName = safeFileName(name).slice(-120) || 'input';
    const file = join(this.#dir, `${id}-${safeName}`);
    try {
      mkdirSync(this.#dir, { recursive: true });
    } catch (error) {
      throw fileError(error, 'save', file);
    }
    return { id, safeName, file, type: type || 'application/octet-stream' };
  }

  #keep(id: string, name: string, mime: string, sizeBytes: number, file: string): StagedInput {
    const item = { id, name, mime, sizeBytes, file };
    this.#items.set(id, item);
    return { id, name, mime, sizeBytes };
  }
}

function tooLarge(name: string, sizeBytes: number, maxBytes: number): AppError {
  const limit = Math.round(maxBytes / 1048576);
  return new AppError(
    'input_too_large',
    `${name} is larger than ${limit} MB; ComfyDesk takes files up to ${limit} MB. Scale it down or copy it into ComfyUI's input folder and pick it by name.`,
    { details: { sizeBytes, maxBytes } },
  );
}

function checkSize(name: string, sizeBytes: number, maxBytes: number): void {
  if (sizeBytes <= maxBytes) return;
  const limit = Math.round(maxBytes / 1048576);
  throw new AppError(
    'input_too_large',
    `${name} is ${Math.round(sizeBytes / 1048576)} MB; ComfyDesk takes files up to ${limit} MB. Scale it down or copy it into ComfyUI's input folder and pick it by name.`,
    { details: { sizeBytes, maxBytes } },
  );
}
