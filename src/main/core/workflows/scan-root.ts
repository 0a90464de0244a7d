import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { errorRecord, readWorkflowFile, recordFromBytes, type FileFacts, type FileRead } from './scan-file';
import { thumbnailFor, walkRoot, type WalkProblem } from './walk';

/** How a workflow file is read; tests pass a counting or failing one. */
export type ReadWorkflow = (absPath: string) => Promise<FileRead>;

/** How `scanRoot` reads a folder. */
export interface ScanRootOptions {
  /** Records of an earlier scan by relative path: files whose size and time are unchanged are not read again. */
  previous?: ReadonlyMap<string, WorkflowRecord>;
  /** Files read at once. @default 32 */
  concurrency?: number;
  signal?: AbortSignal;
  read?: ReadWorkflow;
}

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
  const result = await read(join(root, path));
  const file: FileFacts = { root, path, sizeBytes: result.sizeBytes, modifiedMs: result.modifiedMs, thumbnail };
  if ('bytes' in result) return recordFromBytes(file, result.bytes);
  if (result.isGone) return undefined;
  return errorRecord(file, result.problem);
}

/**
 * Scans every workflow below a root into records. The scan always finishes: unreadable folders are
 * reported in `problems`, unusable files become error records.
 */
export async function scanRoot(root: string, options: ScanRootOptions = {}): Promise<ScanRootResult> {
  const problems: WalkProblem[] = [];
  const folders = await walkRoot(root, { signal: options.signal, onProblem: (problem) => problems.push(problem) });
  const files: Array<{ path: string; thumbnail: string | null }> = [];
  const imagesByFolder = new Map<string, Set<string>>();
  for (const folder of folders) {
    const images = new Set(folder.images);
    if (images.size > 0) imagesByFolder.set(folder.folder, images);
    for (const path of folder.workflows) files.push({ path, thumbnail: thumbnailFor(path, images) });
  }
  const read = options.read ?? readWorkflowFile;
  let readCount = 0;
  const records = await mapLimit(
    files,
    options.concurrency ?? 32,
    async ({ path, thumbnail }) => {
      const earlier = options.previous?.get(path);
      if (earlier) {
        const stats = await stat(join(root, path)).catch(() => undefined);
        if (!stats) return undefined;
        if (stats.size === earlier.fileSizeBytes && stats.mtimeMs === earlier.modifiedMs) {
          return earlier.thumbnail === thumbnail ? earlier : { ...earlier, thumbnail };
        }
      }
      readCount += 1;
      return scanFile(root, path, thumbnail, read);
    },
    options.signal,
  );
  return {
    records: records.filter((record): record is WorkflowRecord => record !== undefined),
    problems,
    readCount,
    images: imagesByFolder,
  };
}
