import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { AppError, systemErrorCode } from '../lib/errors';

/** What went wrong with the database file, as far as it matters for what to do next. */
export type FileProblem = 'damaged' | 'read_only' | 'full' | 'busy' | 'other';

/** `PRAGMA quick_check` found damage: the file opens but some of its pages are broken. */
export class DamagedDatabase extends Error {}

/** The file or its folder may not be written (permissions, a read-only drive). */
export class ReadOnlyFile extends Error {}

/**
 * Throws when nothing could be saved: the file or its folder (where SQLite keeps its journal) is
 * not writable, or SQLite refuses to write (a file format it may only read). Both are asked now,
 * because a database that is already in WAL mode opens and reads without a single write.
 */
export function assertWritable(db: DatabaseSync, file: string): void {
  for (const path of [file, dirname(file)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      const code = systemErrorCode(error);
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new ReadOnlyFile(`${path}: ${code}`);
      throw error;
    }
  }
  // A write that is rolled back: SQLite checks its own read-only state only when a write begins.
  db.exec('BEGIN');
  try {
    db.exec(`PRAGMA user_version = ${userVersion(db)}`);
  } finally {
    db.exec('ROLLBACK');
  }
}

export function userVersion(db: DatabaseSync): number {
  return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
}

/** Throws {@link DamagedDatabase} unless SQLite's quick integrity check passes. */
export function quickCheck(db: DatabaseSync): void {
  const rows = db.prepare('PRAGMA quick_check').all() as Array<{ quick_check: string }>;
  if (rows.length === 1 && rows[0]!.quick_check === 'ok') return;
  throw new DamagedDatabase(`quick_check: ${rows.map((row) => row.quick_check).join('; ')}`);
}

/** SQLite's primary result code from a `node:sqlite` error (extended codes carry it in the low byte). */
function sqliteCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('errcode' in error)) return undefined;
  return typeof error.errcode === 'number' ? error.errcode & 0xff : undefined;
}

export function sqliteText(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'errstr' in error && typeof error.errstr === 'string')
    return error.errstr;
  return error instanceof Error ? error.message : String(error);
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

export function fileProblem(error: unknown): FileProblem {
  if (error instanceof DamagedDatabase) return 'damaged';
  if (error instanceof ReadOnlyFile) return 'read_only';
  const code = sqliteCode(error);
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) return 'damaged';
  // A file that cannot even be opened for writing (permissions) is as good as read-only.
  if (code === SQLITE_READONLY || code === SQLITE_CANTOPEN) return 'read_only';
  if (code === SQLITE_FULL || systemErrorCode(error) === 'ENOSPC') return 'full';
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) return 'busy';
  return 'other';
}

export function translateWriteError(error: unknown, file: string): AppError {
  if (error instanceof AppError) return error;
  if (fileProblem(error) === 'full') {
    return new AppError(
      'disk_full',
      'The disk is full, so this generation could not be added to the history. Free some space; the result files are kept.',
      { cause: error, details: { file } },
    );
  }
  return new AppError(
    'io_error',
    `The generation history could not be updated (${sqliteText(error)}), so new generations are not being recorded. The log has details.`,
    { cause: error, details: { file } },
  );
}
