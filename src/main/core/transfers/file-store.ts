import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemErrorCode } from '../lib/errors';

/** An open file the downloader appends to. */
export interface AppendHandle {
  /** Appends the chunks in order: what arrived while the last write ran goes out in one call. */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** Makes what was written durable; may run while a write does. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where a download is written: this machine's disk, or a server's disk over SFTP. The downloader
 * does its HTTP work (Range resume, checks, verification) the same way for both.
 */
export interface DownloadFileStore {
  mkdirp(dir: string): Promise<void>;
  /** The file's size, 0 when it does not exist. */
  size(path: string): Promise<number>;
  /** The file's bytes, to hash what an earlier run left. */
  read(path: string): AsyncIterable<Uint8Array>;
  openAppend(path: string): Promise<AppendHandle>;
  /** Cuts a file back to `sizeBytes` (the part of a partial file a crash may not have kept). */
  truncate(path: string, sizeBytes: number): Promise<void>;
  /** A small text file, undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  writeText(path: string, text: string): Promise<void>;
  /** Replaces `to` with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file; a missing one is fine. */
  remove(path: string): Promise<void>;
  /** Free bytes for files written into `dir`; null when unknown. */
  freeBytes(dir: string): Promise<number | null>;
  dirname(path: string): string;
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

/** This machine's file system. */
export function localFileStore(): DownloadFileStore {
  return {
    mkdirp: async (dir) => {
      await mkdir(dir, { recursive: true });
    },
    size: async (path) => {
      try {
        return (await stat(path)).size;
      } catch {
        return 0;
      }
    },
    read: (path) => createReadStream(path, { highWaterMark: 1024 * 1024 }),
    openAppend: async (path) => {
      const handle = await open(path, 'a');
      return {
        // One writev: no copy into a fresh block, whose new pages would cost as much as the copy.
        write: async (chunks) => void (await handle.writev(chunks)),
        sync: () => handle.datasync(),
        close: () => handle.close(),
      };
    },
    truncate: (path, sizeBytes) => truncate(path, sizeBytes),
    readText: async (path) => {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        if (systemErrorCode(error) === 'ENOENT') return undefined;
        throw error;
      }
    },
    writeText: (path, text) => writeFile(path, text),
    rename: (from, to) => rename(from, to),
    remove: (path) => rm(path, { force: true }),
    freeBytes: freeBytesOf,
    dirname,
  };
}
