import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedInput } from '@shared/domain/job';
import { AppError, fileError } from '../lib/errors';
import { safeFileName } from '../lib/file-names';
import { mediaTypeOf } from '../lib/media-types';

/** Largest file a user may hand over for a run. @default 64 MiB */
export const MAX_STAGED_BYTES = 64 * 1024 * 1024;

const ALLOWED_MIME = /^(image|video|audio)\//;

/** A staged file on disk: `<uuid>-<name>`. */
const STAGED_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(.+)$/;

/**
 * Files a person dropped or picked for a run, kept in the data folder until a run uploads them
 * to its server (which may be hours later, after a pause or a restart of ComfyDesk). Retries reuse
 * what the server stored.
 */
export class StagedInputs {
  readonly #dir: string;
  readonly #items = new Map<string, StagedInput & { file: string }>();

  constructor(deps: { dir: string }) {
    this.#dir = deps.dir;
  }

  /** Keeps `data` and returns its handle; refuses files that are too big or not media. */
  stage(name: string, mime: string, data: Buffer): StagedInput {
    if (data.byteLength > MAX_STAGED_BYTES) {
      throw new AppError(
        'input_too_large',
        `${name} is ${Math.round(data.byteLength / 1048576)} MB; ComfyDesk takes files up to 64 MB. Scale it down or copy it into ComfyUI's input folder and pick it by name.`,
        { details: { sizeBytes: data.byteLength } },
      );
    }
    if (mime && !ALLOWED_MIME.test(mime)) {
      throw new AppError('invalid_input', `${name} is not an image, video or audio file (${mime}).`, {
        details: { mime },
      });
    }
    const id = randomUUID();
    const safeName = safeFileName(name).slice(-120) || 'input';
    const file = join(this.#dir, `${id}-${safeName}`);
    try {
      mkdirSync(this.#dir, { recursive: true });
      writeFileSync(file, data);
    } catch (error) {
      throw fileError(error, 'save', file);
    }
    const item = { id, name: safeName, mime: mime || 'application/octet-stream', sizeBytes: data.byteLength, file };
    this.#items.set(id, item);
    return { id, name: item.name, mime: item.mime, sizeBytes: item.sizeBytes };
  }

  get(id: string): (StagedInput & { file: string }) | undefined {
    return this.#items.get(id);
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
}
