import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowRecord } from '@shared/domain/workflow';
import {
  createReadScratch,
  errorRecord,
  readWorkflowFile,
  readWorkflowFileSync,
  recordFromBytes,
  type FileFacts,
  type FileRead,
} from './scan-file';
import { thumbnailFor, walkRoot, type WalkProblem } from './walk';

/** How a workflow file is read; tests pass a counting or failing one. */
export type ReadWorkflow = (absPath: string) => Promise<FileRead>;

/** How `scanRoot` reads a folder. */
export interface ScanRootOptions {
  /** Records of an earlier scan by relative path: files whose size and time are unchanged are not read again. */
  previous?: ReadonlyMap<string, WorkflowRecord>;
  /**
   * Files read at once when reading goes through the thread pool: with a `read` of the caller's,
   * or on a folder whose files are slow to open (a network share). @default 32
   */
  concurrency?: number;
  signal?: AbortSignal;
  /** Reads each file through this instead of the built-in reader (tests count or fail reads). */
  read?: ReadWorkflow;
  /** Direct reads slower than this per file on average switch to overlapped reads. @default 2 */
  slowFileMs?: number;
}

/** How long one slice of direct reads may keep the event loop, in ms. */
const SLICE_MS = 8;
/**
 * Direct reads that average more than this per file (after {@link PROBE_FILES} files) mean a
 * latency-bound file system, such as a network share; the rest of the scan then overlaps its reads
 * through the thread pool instead. Local disks and the page cache take a few microseconds.
 */
const SLOW_FILE_MS = 2;
const PROBE_FILES = 16;

/** What a scan of one root found. */
export interface ScanRootResult {
  records: WorkflowRecord[];
  /** Folders that could not be read (permissions); their files are missing from `records`. */
  problems: WalkProblem[];
  /** How many files were read and parsed (the rest came unchanged from `previous`). */
  readCount: number;
  /** Image names per folder ('' = the root), for thumbnails of files that change later. */
  images: Map<string, Set<string>>;
}

/** Runs `task` over `items` with at most `limit` running at once, keeping the input order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const index = next;
      next += 1;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Reads one workflow file into a record (never throws; problems become the record's error). */
export async function scanFile(
  root: string,
  path: string,
  thumbnail: string | null,
  read: ReadWorkflow = readWorkflowFile,
): Promise<WorkflowRecord | undefined> {
  return toRecord(root, path, thumbnail, await read(join(root, path)));
}

/**
 * The record of a file from what reading it gave: its bytes, or why it could not be read (undefined
 * for a file that is gone). Whoever did the reading, this thread or another, the record is the same.
 */
export function recordFromRead(root: string, file: PendingFile, read: FileRead): WorkflowRecord | undefined {
  return toRecord(root, file.path, file.thumbnail, read);
}

function toRecord(root: string, path: string, thumbnail: string | null, result: FileRead): WorkflowRecord | undefined {
  const file: FileFacts = { root, path, sizeBytes: result.sizeBytes, modifiedMs: result.modifiedMs, thumbnail };
  if ('bytes' in result) return recordFromBytes(file, result.bytes, result.measure);
  if (result.isGone) return undefined;
  return errorRecord(file, result.problem);
}

/** A workflow file found by a walk, not read yet. */
export interface PendingFile {
  /** Relative to the root, `/` separators. */
  path: string;
  thumbnail: string | null;
}

/** What a walk of one root found: its workflow files with their thumbnails, and images per folder. */
export interface ListedRoot {
  files: PendingFile[];
  problems: WalkProblem[];
  /** Image names per folder ('' = the root), for thumbnails of files that change later. */
  images: Map<string, Set<string>>;
}

/** Walks a root and pairs every workflow file with its thumbnail; nothing is read yet. */
export async function listWorkflowFiles(root: string, signal?: AbortSignal): Promise<ListedRoot> {
  const problems: WalkProblem[] = [];
  const folders = await walkRoot(root, { signal, onProblem: (problem) => problems.push(problem) });
  const files: PendingFile[] = [];
  const images = new Map<string, Set<string>>();
  for (const folder of folders) {
    const names = new Set(folder.images);
    if (names.size > 0) images.set(folder.folder, names);
    for (const path of folder.workflows) files.push({ path, thumbnail: thumbnailFor(path, names) });
  }
  return { files, problems, images };
}

/**
 * Reads and analyses files one after the other on this thread, with direct system calls (see
 * {@link readWorkflowFileSync}). For worker threads and one-shot commands; a long-lived process
 * uses {@link scanRoot}, which yields between slices.
 */
export function scanFilesSync(root: string, files: readonly PendingFile[]): WorkflowRecord[] {
  const records: WorkflowRecord[] = [];
  const scratch = createReadScratch();
  for (const { path, thumbnail } of files) {
    const record = toRecord(root, path, thumbnail, readWorkflowFileSync(join(root, path), undefined, scratch));
    if (record) records.push(record);
  }
  return records;
}

/** The file's size and time; undefined when it is gone or cannot be looked at (it is then read, or dropped). */
function statOrUndefined(path: string): { size: number; mtimeMs: number } | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The earlier record when the file's size and time are unchanged (null: read it again; undefined: it is gone). */
function reuse(
  earlier: WorkflowRecord,
  stats: { size: number; mtimeMs: number } | undefined,
  thumbnail: string | null,
): WorkflowRecord | null | undefined {
  if (!stats) return undefined;
  if (stats.size !== earlier.fileSizeBytes || stats.mtimeMs !== earlier.modifiedMs) return null;
  return earlier.thumbnail === thumbnail ? earlier : { ...earlier, thumbnail };
}

/**
 * Scans every workflow below a root into records. The scan always finishes: unreadable folders are
 * reported in `problems`, unusable files become error records.
 *
 * Files are read with direct system calls in slices of at most {@link SLICE_MS} ms, yielding to the
 * event loop between slices, so the thread pool's per-step round trips never dominate and the process
 * stays responsive. A folder that turns out slow to read switches to overlapped asynchronous reads.
 */
export async function scanRoot(root: string, options: ScanRootOptions = {}): Promise<ScanRootResult> {
  const { signal } = options;
  const { files, problems, images } = await listWorkflowFiles(root, signal);
  let readCount = 0;
  const readAsync = async ({ path, thumbnail }: PendingFile): Promise<WorkflowRecord | undefined> => {
    const earlier = options.previous?.get(path);
    if (earlier) {
      const kept = reuse(earlier, await stat(join(root, path)).catch(() => undefined), thumbnail);
      if (kept !== null) return kept;
    }
    readCount += 1;
    return scanFile(root, path, thumbnail, options.read);
  };
  const scratch = createReadScratch();
  /** Time spent in direct system calls (not parsing), to tell a slow file system from a big folder. */
  let ioMs = 0;
  const readDirect = ({ path, thumbnail }: PendingFile): WorkflowRecord | undefined => {
    const absolute = join(root, path);
    const earlier = options.previous?.get(path);
    const started = performance.now();
    if (earlier) {
      const kept = reuse(earlier, statOrUndefined(absolute), thumbnail);
      if (kept !== null) {
        ioMs += performance.now() - started;
        return kept;
      }
    }
    readCount += 1;
    const result = readWorkflowFileSync(absolute, undefined, scratch);
    ioMs += performance.now() - started;
    return toRecord(root, path, thumbnail, result);
  };

  const concurrency = options.concurrency ?? 32;
  let records: Array<WorkflowRecord | undefined>;
  if (options.read) {
    records = await mapLimit(files, concurrency, readAsync, signal);
  } else {
    records = new Array<WorkflowRecord | undefined>(files.length);
    let next = 0;
    while (next < files.length) {
      signal?.throwIfAborted();
      const sliceStart = performance.now();
      do {
        records[next] = readDirect(files[next]!);
        next += 1;
      } while (next < files.length && performance.now() - sliceStart < SLICE_MS);
      if (next >= PROBE_FILES && next < files.length && ioMs / next > (options.slowFileMs ?? SLOW_FILE_MS)) {
        const rest = await mapLimit(files.slice(next), concurrency, readAsync, signal);
        for (const [offset, record] of rest.entries()) records[next + offset] = record;
        break;
      }
      if (next < files.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return {
    records: records.filter((record): record is WorkflowRecord => record !== undefined),
    problems,
    readCount,
    images,
  };
}
