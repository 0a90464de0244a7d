import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type Job, type JobStatus } from '@shared/domain/job';
import type { NoticeCenter } from '../app/notice-center';
import type { StagedUpload } from '../generation/generation-service';
import { AppError, fileError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { assertWritable, fileProblem, quickCheck, sqliteText, translateWriteError, userVersion } from './history-file';
import { HISTORY_MIGRATIONS, JOB_COLUMNS, toRecord, type Row } from './history-schema';

export { HISTORY_MIGRATIONS, HISTORY_SCHEMA_VERSION } from './history-schema';

const MIGRATIONS = HISTORY_MIGRATIONS;

/** A job plus what only the history keeps: the exact API prompt sent and the workflow it came from. */
export interface JobRecord {
  job: Job;
  /** The API prompt as queued (for re-runs and for the record). */
  apiPrompt: unknown;
  /** The source workflow (UI or API JSON) with the user's values written in, for extra_pnginfo. */
  sourceWorkflow: unknown;
  /**
   * When `POST /prompt` was sent under `job.promptId` (ms), written *before* the request goes out.
   * A held job with it set may already be on the server: it is reconciled, never sent under a new id.
   * @default null
   */
  sentAt?: number | null;
  /** Staged files a held job still has to upload before it is sent. @default [] */
  uploads?: StagedUpload[];
  /**
   * Staged files already uploaded to the server the job was sent to: a job that moves to another
   * server uploads them there again. @default []
   */
  uploaded?: StagedUpload[];
  /** Sampler steps the run will take (its steps as chosen), to scale time estimates. @default null */
  samplingSteps?: number | null;
}

/** A past successful run, for time estimates. */
export interface PastRun {
  durationMs: number;
  /** Sampler steps it took; null for runs recorded before ComfyDesk kept them. */
  samplingSteps: number | null;
}

export interface HistoryQuery {
  /** Words to find in the prompt text or workflow name (full-text). */
  text?: string;
  statuses?: JobStatus[];
  workflowId?: string;
  /** @default 50 */
  limit?: number;
  offset?: number;
}

/**
 * The generation history in SQLite through `node:sqlite` (built into Node 22 and Electron's Node,
 * so there is no native module to rebuild). Every job with its parameters, timings, status, error
 * and outputs; survives restarts; the schema is migrated, never recreated.
 *
 * The file is never silently lost or replaced:
 * - at start `PRAGMA quick_check` runs; a damaged file (or one that is not a database) is moved
 *   aside with its journal files as `history.db.corrupt-<date>`, the user is told, and a new one starts;
 * - a file ComfyDesk may not write (read-only file, folder or drive) is left exactly as it is and
 *   reported as read-only: its past jobs are read into memory, and this session's jobs are kept
 *   there too, so the app works but nothing new reaches the file;
 * - a save that fails is reported at once (once per problem, not once per job); damage found by a
 *   save is handled like damage found at start, so the records after it are not lost too.
 */
export class HistoryStore {
  readonly #file: string;
  readonly #log: Logger;
  readonly #notices: NoticeCenter | undefined;
  readonly #now: () => Date;
  #db: DatabaseSync | undefined;
  #statements = new Map<string, StatementSync>();
  /** Set when the file cannot be written: the history lives in memory for this session. */
  #inMemoryBecause: string | undefined;
  /** The save problem the user was last told about, so a failing save does not raise one notice per job. */
  #toldProblem: string | undefined;

  constructor(deps: { file: string; log: Logger; notices?: NoticeCenter; now?: () => Date }) {
    this.#file = deps.file;
    this.#log = deps.log;
    this.#notices = deps.notices;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Whether new jobs reach the file (false after it was found read-only: they are kept in memory). */
  get isPersistent(): boolean {
    return this.#db !== undefined && this.#inMemoryBecause === undefined;
  }

  async start(): Promise<void> {
    if (this.#db) return;
    if (this.#file === ':memory:') {
      this.#db = this.#migrate(new DatabaseSync(':memory:'));
      return;
    }
    try {
      mkdirSync(dirname(this.#file), { recursive: true });
    } catch (error) {
      throw fileError(error, 'create the folder of', this.#file);
    }
    try {
      this.#db = this.#openFile();
      return;
    } catch (error) {
      if (error instanceof AppError) throw error;
      const problem = fileProblem(error);
      this.#log.warn('history database could not be opened', { file: this.#file, problem, error });
      switch (problem) {
        case 'damaged':
          this.#db = this.#replaceDamaged('could not be read');
          return;
        case 'read_only':
        case 'full':
          this.#db = this.#keepInMemory(problem);
          return;
        case 'busy':
          throw new AppError(
            'io_error',
            `The generation history ${this.#file} is in use by another program, so ComfyDesk cannot open it. Close the other program (or another ComfyDesk on the same data folder) and start again; nothing was changed.`,
            { cause: error },
          );
        default:
          throw new AppError(
            'io_error',
            `The generation history ${this.#file} could not be opened (${sqliteText(error)}). It was left as it is; the log has details.`,
            { cause: error },
          );
      }
    }
  }

  async stop(): Promise<void> {
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
    this.#inMemoryBecause = undefined;
    this.#toldProblem = undefined;
  }

  /**
   * Inserts or replaces a job's record. When the write fails the user is told at once; damage is
   * moved aside and a read-only file is swapped for memory, and the record is then saved there.
   * Throws an AppError (`disk_full`, `io_error`) when the record could not be kept anywhere.
   */
  save(record: JobRecord): void {
    const { job } = record;
    const params = [
      job.id,
      job.promptId,
      job.origin,
      job.serverId,
      job.workflowId,
      job.workflowName,
      job.status,
      job.promptText,
      JSON.stringify(job.parameters),
      record.apiPrompt === undefined ? null : JSON.stringify(record.apiPrompt),
      record.sourceWorkflow === undefined ? null : JSON.stringify(record.sourceWorkflow),
      job.createdAt,
      job.queuedAt,
      job.startedAt,
      job.finishedAt,
      job.position,
      job.error ? JSON.stringify(job.error) : null,
      JSON.stringify(job.outputs),
      job.batch ? JSON.stringify(job.batch) : null,
      record.sentAt ?? null,
      record.uploads && record.uploads.length > 0 ? JSON.stringify(record.uploads) : null,
      record.samplingSteps ?? null,
      job.isCached ? 1 : 0,
      record.uploaded && record.uploaded.length > 0 ? JSON.stringify(record.uploaded) : null,
    ];
    this.#write(
      `INSERT INTO jobs (${JOB_COLUMNS.join(', ')})
       VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${JOB_COLUMNS.filter((column) => column !== 'id')
         .map((column) => `${column} = excluded.${column}`)
         .join(', ')}`,
      params,
    );
  }

  get(id: string): JobRecord | undefined {
    const row = this.#statement('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Most recent first. */
  list(query: HistoryQuery = {}): Job[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (query.text?.trim()) {
      where.push('rowid IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ?)');
      params.push(toFtsQuery(query.text));
    }
    if (query.statuses && query.statuses.length > 0) {
      where.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
      params.push(...query.statuses);
    }
    if (query.workflowId) {
      where.push('workflow_id = ?');
      params.push(query.workflowId);
    }
    const sql = `SELECT * FROM jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`;
    params.push(query.limit ?? 50, query.offset ?? 0);
    return (
      this.#database()
        .prepare(sql)
        .all(...params) as unknown as Row[]
    ).map((row) => toRecord(row).job);
  }

  /** Durations (ms) of the last successful runs of a workflow on a server, newest first. */
  durations(workflowId: string, serverId: string, limit = 20): number[] {
    return this.pastRuns(workflowId, serverId, limit).map((run) => run.durationMs);
  }

  /** The last successful runs of a workflow on a server, newest first, with the steps they took. */
  pastRuns(workflowId: string, serverId: string, limit = 20): PastRun[] {
    const rows = this.#statement(
      `SELECT finished_at - started_at AS duration, sampling_steps FROM jobs
       WHERE workflow_id = ? AND server_id = ? AND status = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT ?`,
    ).all(workflowId, serverId, limit) as Array<{ duration: number; sampling_steps: number | null }>;
    return rows
      .filter((row) => row.duration >= 0)
      .map((row) => ({ durationMs: row.duration, samplingSteps: row.sampling_steps }));
  }

  /** A small piece of the queue's own state (e.g. whether it is paused), or undefined when never written. */
  readState(key: string): string | undefined {
    return (this.#statement('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  writeState(key: string, value: string): void {
    this.#write('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
      key,
      value,
    ]);
  }

  /** Jobs that were not finished when ComfyDesk last stopped. */
  unfinished(): JobRecord[] {
    return (
      this.#statement(
        `SELECT * FROM jobs WHERE status IN ('held', 'queued', 'running') ORDER BY position, created_at`,
      ).all() as unknown as Row[]
    ).map(toRecord);
  }

  /** Removes a job; returns what was removed so the caller can delete its files too. */
  delete(id: string): JobRecord | undefined {
    const record = this.get(id);
    if (record) this.#write('DELETE FROM jobs WHERE id = ?', [id]);
    return record;
  }

  count(): number {
    return (this.#statement('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  }

  /** Opens the file, checks it (`quick_check`) and migrates it. Throws on anything wrong. */
  #openFile(): DatabaseSync {
    const db = new DatabaseSync(this.#file);
    try {
      // Any query on a file that is not a database fails here, before we rely on it.
      const version = userVersion(db);
      if (version > MIGRATIONS.length) {
        throw new AppError(
          'io_error',
          `The history database was written by a newer ComfyDesk (schema ${version}). Update ComfyDesk to read it; nothing was changed.`,
        );
      }
      quickCheck(db);
      assertWritable(db, this.#file);
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      return this.#migrate(db);
    } catch (error) {
      if (db.isOpen) db.close();
      throw error;
    }
  }

  #migrate(db: DatabaseSync): DatabaseSync {
    for (let index = userVersion(db); index < MIGRATIONS.length; index += 1) {
      db.exec('BEGIN');
      try {
        db.exec(MIGRATIONS[index]!);
        db.exec(`PRAGMA user_version = ${index + 1}`);
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    }
    return db;
  }

  /** Moves a damaged file (and its journal files) aside, tells the user, and opens a new one. */
  #replaceDamaged(how: string): DatabaseSync {
    const movedTo = `${this.#file}.corrupt-${this.#now().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.#file, movedTo);
      // A journal left beside a new file would be replayed into it: it goes with the damaged file.
      for (const suffix of ['-wal', '-shm', '-journal']) {
        if (existsSync(`${this.#file}${suffix}`)) renameSync(`${this.#file}${suffix}`, `${movedTo}${suffix}`);
      }
    } catch (renameError) {
      throw new AppError(
        'io_error',
        `The history database ${this.#file} is damaged and could not be moved aside. Move or delete it, then start again.`,
        { cause: renameError },
      );
    }
    this.#notices?.raise(
      'warning',
      `The generation history ${how} because the file is damaged, so a new one was started. The old file was kept as ${movedTo}.`,
    );
    return this.#openFile();
  }

  /**
   * The file cannot be written: keep it untouched, read what it holds into memory, and go on there.
   * `source` is the database already open (a save found the problem), else the file is opened read-only.
   */
  #keepInMemory(problem: 'read_only' | 'full', source?: DatabaseSync): DatabaseSync {
    const memory = this.#migrate(new DatabaseSync(':memory:'));
    let copied = false;
    try {
      const from = source ?? new DatabaseSync(this.#file, { readOnly: true });
      try {
        if (userVersion(from) === MIGRATIONS.length) {
          const insert = memory.prepare(
            `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`,
          );
          memory.exec('BEGIN');
          for (const row of from.prepare(`SELECT ${JOB_COLUMNS.join(', ')} FROM jobs`).iterate()) {
            insert.run(...JOB_COLUMNS.map((column) => (row as Record<string, string | number | null>)[column] ?? null));
          }
          // The queue's own state (the pause switch) comes along too.
          const keep = memory.prepare('INSERT INTO state (key, value) VALUES (?, ?)');
          for (const row of from.prepare('SELECT key, value FROM state').iterate()) {
            const { key, value } = row as { key: string; value: string };
            keep.run(key, value);
          }
          memory.exec('COMMIT');
          copied = true;
        }
      } finally {
        if (!source) from.close();
      }
    } catch (error) {
      if (memory.isTransaction) memory.exec('ROLLBACK');
      this.#log.warn('history file could not be read either', { file: this.#file, error });
    }
    const why =
      problem === 'full'
        ? 'the disk is full'
        : 'the file is read-only (or its folder or drive is), so ComfyDesk may not write to it';
    this.#inMemoryBecause = why;
    this.#notices?.raise(
      'warning',
      `The generation history ${this.#file} cannot be updated: ${why}. ${
        copied ? 'Past generations are shown, and' : 'Past generations could not be read, and'
      } this session's generations are kept only until ComfyDesk closes. Nothing in the file was changed; ${
        problem === 'full' ? 'free some space' : 'make the file and its folder writable'
      }, then restart ComfyDesk.`,
    );
    return memory;
  }

  #database(): DatabaseSync {
    if (!this.#db) throw new AppError('internal', 'The generation history is not open.');
    return this.#db;
  }

  #statement(sql: string): StatementSync {
    const db = this.#database();
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #write(sql: string, params: Array<string | number | null>): void {
    try {
      this.#statement(sql).run(...params);
      this.#toldProblem = undefined;
      return;
    } catch (error) {
      if (error instanceof AppError) throw error;
      const problem = fileProblem(error);
      this.#log.error('history write failed', { file: this.#file, problem, error });
      if (problem === 'damaged' || problem === 'read_only') {
        this.#recover(problem);
        this.#statement(sql).run(...params);
        return;
      }
      const failure = translateWriteError(error, this.#file);
      if (this.#toldProblem !== failure.userMessage) {
        this.#toldProblem = failure.userMessage;
        this.#notices?.raise('error', failure.userMessage);
      }
      throw failure;
    }
  }

  /** A save met damage or a read-only file while running: the same remedies as at start. */
  #recover(problem: 'damaged' | 'read_only'): void {
    const db = this.#database();
    this.#statements.clear();
    if (problem === 'read_only') {
      this.#db = this.#keepInMemory('read_only', db);
      db.close();
      return;
    }
    db.close();
    this.#db = undefined;
    this.#db = this.#replaceDamaged('was found damaged while saving a generation');
  }
}

/** Each word becomes a prefix match, quoted, so user text never breaks FTS syntax. */
function toFtsQuery(text: string): string {
  return text
    .split(/\s+/)
    .map((word) => word.replace(/[^\p{L}\p{N}_]/gu, ''))
    .filter((word) => word.length > 0)
    .map((word) => `"${word}"*`)
    .join(' ');
}
