import { Job } from '@shared/domain/job';
import type { StagedUpload } from '../generation/generation-service';
import type { JobRecord } from './history-store';

/**
 * Schema migrations, applied in order and recorded in `PRAGMA user_version`. Never edit one that
 * has shipped: add the next. A database from a newer ComfyDesk is refused rather than damaged.
 */
export const HISTORY_MIGRATIONS: readonly string[] = [
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
  // 2: nothing lost, nothing run twice — the prompt id is recorded as sent before /prompt goes out,
  // held jobs keep their pending uploads, runs keep their step count, and the queue keeps its state.
  `ALTER TABLE jobs ADD COLUMN sent_at INTEGER;
   ALTER TABLE jobs ADD COLUMN uploads TEXT;
   ALTER TABLE jobs ADD COLUMN sampling_steps INTEGER;
   CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // Whether ComfyUI answered a run from its cache.
  `ALTER TABLE jobs ADD COLUMN is_cached INTEGER NOT NULL DEFAULT 0;`,
  // 4: the staged files a job already uploaded to the server it was sent to, so that a job that
  // moves to another server after ComfyDesk restarted still takes its inputs along.
  `ALTER TABLE jobs ADD COLUMN uploaded TEXT;`,
];

export const HISTORY_SCHEMA_VERSION = HISTORY_MIGRATIONS.length;

/** A row of `jobs` as SQLite returns it. */
export interface Row {
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
  sent_at: number | null;
  uploads: string | null;
  sampling_steps: number | null;
  is_cached: number;
  uploaded: string | null;
}

/** The columns of `jobs`, in order, for copying rows between databases. */
export const JOB_COLUMNS = [
  'id',
  'prompt_id',
  'origin',
  'server_id',
  'workflow_id',
  'workflow_name',
  'status',
  'prompt_text',
  'parameters',
  'api_prompt',
  'source_workflow',
  'created_at',
  'queued_at',
  'started_at',
  'finished_at',
  'position',
  'error',
  'outputs',
  'batch',
  'sent_at',
  'uploads',
  'sampling_steps',
  'is_cached',
  'uploaded',
] as const;

export function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function toRecord(row: Row): JobRecord {
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
  return {
    job,
    apiPrompt: parseJson(row.api_prompt, null),
    sourceWorkflow: parseJson(row.source_workflow, null),
    sentAt: row.sent_at,
    uploads: parseJson<StagedUpload[]>(row.uploads, []),
    uploaded: parseJson<StagedUpload[]>(row.uploaded, []),
    samplingSteps: row.sampling_steps,
  };
}
