import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/**
 * Bump when the scanner's output changes (new fields, different rules), so records saved by an
 * older version are read again instead of trusted.
 */
export const INDEX_FORMAT = 2;

interface IndexFile {
  format: number;
  roots: Record<string, WorkflowRecord[]>;
}

/** Records saved by the last run, per root, by relative path. */
export type PersistedRoots = Map<string, Map<string, WorkflowRecord>>;

function looksLikeRecord(value: unknown): value is WorkflowRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<WorkflowRecord>;
  return (
    typeof record.id === 'string' &&
    typeof record.path === 'string' &&
    typeof record.modifiedMs === 'number' &&
    typeof record.fileSizeBytes === 'number' &&
    Array.isArray(record.models)
  );
}

/**
 * Loads the index saved by the last run, for a warm start. Anything unexpected (no file, another
 * format, damage) yields an empty map: the cache is only a head start, the scan that follows is
 * the truth.
 */
export async function loadPersistedIndex(path: string, log: Logger): Promise<PersistedRoots> {
  const roots: PersistedRoots = new Map();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (systemErrorCode(error) !== 'ENOENT')
      log.warn('library cache unreadable; scanning from scratch', { path, error });
    return roots;
  }
  try {
    const file = JSON.parse(text) as Partial<IndexFile>;
    if (file.format !== INDEX_FORMAT || typeof file.roots !== 'object' || file.roots === null) return roots;
    for (const [root, records] of Object.entries(file.roots)) {
      if (!Array.isArray(records)) continue;
      roots.set(
        root,
        new Map(
          records
            .filter(looksLikeRecord)
            .filter((record) => record.root === root)
            .map((record) => [record.path, record]),
        ),
      );
    }
  } catch (error) {
    log.warn('library cache damaged; scanning from scratch', { path, error });
    roots.clear();
  }
  return roots;
}

/** Saves the index atomically (a temporary file renamed over the old one), so a crash never leaves half a file. */
export async function savePersistedIndex(
  path: string,
  roots: ReadonlyMap<string, Iterable<WorkflowRecord>>,
): Promise<void> {
  const file: IndexFile = { format: INDEX_FORMAT, roots: {} };
  for (const [root, records] of roots) file.roots[root] = [...records];
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(file));
  await rename(temporary, path);
}
