import { mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Job, type JobStatus } from '@shared/domain/job';
import type { NoticeCenter } from '../app/notice-center';
import { AppError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** A job plus what only the history keeps: the exact API prompt sent and the workflow it came from. */
export interface JobRecord {
  job: Job;
  /** The API prompt as queued (for re-runs and for the record). */
  apiPrompt: unknown;
  /** The source workflow (UI or API JSON) with the user's values written in, for extra_pnginfo. */
  sourceWorkflow: unknown;
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
 * Schema migrations, applied in order and recorded in `PRAGMA user_version`. Never edit one that
 * has shipped: add the next. A database from a newer ComfyDesk is refused rather than damaged.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     prompt_id TEXT,
     origin TEXT NOT NULL,
     server_id TEXT NOT NULL,
     workflow_id TEXT,
     workflow_name TEXT NOT NULL,
     status TEXT NOT NULL,
     prompt_text TEXT NOT NULL DEFAULT '',
     parameters TEXT NOT NULL DEFAULT '{}',
     api_prompt TEXT,
     source_workflow TEXT,
     created_at INTEGER NOT NULL,
     queued_at INTEGER,
     started_at INTEGER,
     finished_at INTEGER,
     position REAL NOT NULL DEFAULT 0,
     error TEXT,
     outputs TEXT NOT NULL DEFAULT '[]',
     batch TEXT
   );
   CREATE INDEX jobs_created ON jobs (created_at DESC);
   CREATE INDEX jobs_workflow_server ON jobs (workflow_id, server_id, status);
   CREATE INDEX jobs_prompt_id ON jobs (prompt_id);
   CREATE VIRTUAL TABLE jobs_fts USING fts5 (prompt_text, workflow_name, content = 'jobs', content_rowid = 'rowid');
   CREATE TRIGGER jobs_fts_insert AFTER INSERT ON jobs BEGIN
     INSERT INTO jobs_fts (rowid, prompt_text, workflow_name) VALUES (new.rowid, new.prompt_text, new.workflow_name);
   END;
   CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN
     INSERT INTO jobs_fts (jobs_fts, rowid, prompt_text, workflow_name) VALUES ('delete', old.rowid, old.prompt_text, old.workflow_name);
   END;
   CREATE TRIGGER jobs_fts_update AFTER UPDATE OF prompt_text, workflow_name ON jobs BEGIN
     INSERT INTO jobs_fts (jobs_fts, rowid, prompt_text, workflow_name) VALUES ('delete', old.rowid, old.prompt_text, old.workflow_name);
     INSERT INTO jobs_fts (rowid, prompt_text, workflow_name) VALUES (new.rowid, new.prompt_text, new.workflow_name);
   END;`,
  // Whether ComfyUI answered a run from its cache.
  `ALTER TABLE jobs ADD COLUMN is_cached INTEGER NOT NULL DEFAULT 0;`,
];

export const HISTORY_SCHEMA_VERSION = MIGRATIONS.length;

interface Row {
  id: string;
  prompt_id: string | null;
  origin: string;
  server_id: string;
  workflow_id: string | null;
  workflow_name: string;
  status: string;
  prompt_text: string;
  parameters: string;
  api_prompt: string | null;
  source_workflow: string | null;
  created_at: number;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  position: number;
  error: string | null;
  outputs: string;
  batch: string | null;
  is_cached: number;
}

/**
 * The generation history in SQLite through `node:sqlite` (built into Node 22 and Electron's Node,
 * so there is no native module to rebuild). Every job with its parameters, timings, status, error
 * and outputs; survives restarts; the schema is migrated, never recreated. A damaged database is
 * moved aside and the user is told; a fresh one takes its place.
 */
export class HistoryStore {
  readonly #file: string;
  readonly #log: Logger;
  readonly #notices: NoticeCenter | undefined;
  readonly #now: () => Date;
  #db: DatabaseSync | undefined;
  #statements = new Map<string, StatementSync>();

  constructor(deps: { file: string; log: Logger; notices?: NoticeCenter; now?: () => Date }) {
    this.#file = deps.file;
    this.#log = deps.log;
    this.#notices = deps.notices;
    this.#now = deps.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    if (this.#db) return;
    if (this.#file !== ':memory:') mkdirSync(dirname(this.#file), { recursive: true });
    try {
      this.#db = this.#open();
    } catch (error) {
      if (error instanceof AppError) throw error;
      this.#log.warn('history database unreadable', { file: this.#file, error });
      const movedTo = `${this.#file}.corrupt-${this.#now().toISOString().replace(/[:.]/g, '-')}`;
      try {
        renameSync(this.#file, movedTo);
      } catch (renameError) {
        throw new AppError(
          'io_error',
          `The history database ${this.#file} is damaged and could not be moved aside. Move or delete it, then start again.`,
          { cause: renameError },
        );
      }
      this.#notices?.raise(
        'warning',
        `The generation history could not be read, so a new one was started. The old file was kept as ${movedTo}.`,
      );
      this.#db = this.#open();
    }
  }

  async stop(): Promise<void> {
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  /** Inserts or replaces a job's record. */
  save(record: JobRecord): void {
    const { job } = record;
    this.#run(
      `INSERT INTO jobs (id, prompt_id, origin, server_id, workflow_id, workflow_name, status, prompt_text, parameters, api_prompt, source_workflow, created_at, queued_at, started_at, finished_at, position, error, outputs, batch, is_cached)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET prompt_id = excluded.prompt_id, origin = excluded.origin, server_id = excluded.server_id, workflow_id = excluded.workflow_id,
         workflow_name = excluded.workflow_name, status = excluded.status, prompt_text = excluded.prompt_text, parameters = excluded.parameters,
         api_prompt = excluded.api_prompt, source_workflow = excluded.source_workflow, created_at = excluded.created_at, queued_at = excluded.queued_at,
         started_at = excluded.started_at, finished_at = excluded.finished_at, position = excluded.position, error = excluded.error,
         outputs = excluded.outputs, batch = excluded.batch, is_cached = excluded.is_cached`,
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
      job.isCached ? 1 : 0,
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
    return (this.#db!.prepare(sql).all(...params) as unknown as Row[]).map((row) => toRecord(row).job);
  }

  /** Durations (ms) of the last successful runs of a workflow on a server, newest first. */
  durations(workflowId: string, serverId: string, limit = 20): number[] {
    const rows = this.#statement(
      `SELECT finished_at - started_at AS duration FROM jobs
       WHERE workflow_id = ? AND server_id = ? AND status = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT ?`,
    ).all(workflowId, serverId, limit) as Array<{ duration: number }>;
    return rows.map((row) => row.duration).filter((duration) => duration >= 0);
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
    if (record) this.#run('DELETE FROM jobs WHERE id = ?', id);
    return record;
  }

  count(): number {
    return (this.#statement('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  }

  #open(): DatabaseSync {
    const db = new DatabaseSync(this.#file);
    try {
      // Any query on a file that is not a database fails here, before we rely on it.
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > MIGRATIONS.length) {
        db.close();
        throw new AppError(
          'io_error',
          `The history database was written by a newer ComfyDesk (schema ${version}). Update ComfyDesk to read it; nothing was changed.`,
        );
      }
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      for (let index = version; index < MIGRATIONS.length; index += 1) {
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
    } catch (error) {
      if (db.isOpen) db.close();
      throw error;
    }
  }

  #statement(sql: string): StatementSync {
    if (!this.#db) throw new AppError('internal', 'The generation history is not open.');
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #run(sql: string, ...params: Array<string | number | null>): void {
    try {
      this.#statement(sql).run(...params);
    } catch (error) {
      throw translateWriteError(error, this.#file);
    }
  }
}

function translateWriteError(error: unknown, file: string): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/SQLITE_FULL|database or disk is full/i.test(message) || systemErrorCode(error) === 'ENOSPC') {
    return new AppError(
      'disk_full',
      'The disk is full, so this generation could not be added to the history. Free some space; the result files are kept.',
      { cause: error, details: { file } },
    );
  }
  return new AppError('io_error', 'The generation history could not be updated. The log has details.', {
    cause: error,
    details: { file },
  });
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

function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toRecord(row: Row): JobRecord {
  const job = Job.parse({
    id: row.id,
    promptId: row.prompt_id,
    origin: row.origin,
    serverId: row.server_id,
    workflowId: row.workflow_id,
    workflowName: row.workflow_name,
    status: row.status,
    parameters: parseJson(row.parameters, {}),
    promptText: row.prompt_text,
    createdAt: row.created_at,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progress: null,
    error: parseJson(row.error, null),
    outputs: parseJson(row.outputs, []),
    position: row.position,
    batch: parseJson(row.batch, null),
    ...(row.is_cached ? { isCached: true } : {}),
  });
  return { job, apiPrompt: parseJson(row.api_prompt, null), sourceWorkflow: parseJson(row.source_workflow, null) };
}
