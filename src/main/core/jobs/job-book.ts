import type { EventMap, EventName } from '@shared/contract/events';
import { isFinished, type Job, type JobError, type JobProgress, type OutputFile } from '@shared/domain/job';
import type { NoticeCenter } from '../app/notice-center';
import type { Emitter } from '../lib/emitter';
import { isAppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import { recordOf, type Entry } from './job-entry';

/**
 * The contract event each job service event becomes. The payload types come from the contract's
 * schemas, so the service cannot emit what clients would refuse.
 */
export const JOB_EVENTS = {
  updated: 'jobs.updated',
  removed: 'jobs.removed',
  queue: 'jobs.queue',
  progress: 'generation.progress',
  preview: 'generation.preview',
} as const satisfies Record<string, EventName>;

/** What the job service tells the core: whole jobs on every state change, queue counts, live progress and previews. */
export type JobServiceEvents = { [K in keyof typeof JOB_EVENTS]: EventMap[(typeof JOB_EVENTS)[K]] };

/** How a job ends. */
export interface JobEnd {
  status: 'succeeded' | 'failed' | 'cancelled' | 'lost';
  error?: JobError;
  outputs?: OutputFile[];
  progress?: JobProgress | null;
  /** ComfyUI answered from its cache (nothing was computed again). */
  isCached?: boolean;
}

export interface JobBookDeps {
  history: HistoryStore;
  emitter: Emitter<JobServiceEvents>;
  log: Logger;
  notices?: NoticeCenter;
  now: () => number;
  /** Something that changes the queue counts happened. */
  onCountsChanged: () => void;
}

/**
 * ComfyDesk's own jobs, in memory and in the history database: every state change is saved and
 * announced here, and nowhere else. The held queue, the server attachments and the service all
 * change jobs through it.
 */
export class JobBook {
  readonly #entries = new Map<string, Entry>();
  /** Entries by the server they are on (the farm asks this for every server on every dispatch decision). */
  readonly #byServer = new Map<string, Set<Entry>>();
  readonly #deps: JobBookDeps;

  constructor(deps: JobBookDeps) {
    this.#deps = deps;
  }

  get(jobId: string): Entry | undefined {
    return this.#entries.get(jobId);
  }

  all(): Entry[] {
    return [...this.#entries.values()];
  }

  unfinished(): Entry[] {
    return this.all().filter((entry) => !isFinished(entry.job.status));
  }

  /** Our jobs on one server (finished ones of this session too, so their prompts are never taken for foreign). */
  onServer(serverId: string): Entry[] {
    return [...(this.#byServer.get(serverId) ?? [])];
  }

  byPrompt(serverId: string, promptId: string | null | undefined): Entry | undefined {
    if (!promptId) return undefined;
    for (const entry of this.#byServer.get(serverId) ?? []) if (entry.job.promptId === promptId) return entry;
    return undefined;
  }

  /** Takes in a job without announcing it (jobs read back from the history at start). */
  restore(entry: Entry): void {
    this.#entries.set(entry.job.id, entry);
    this.#index(entry);
  }

  /** A new job: saved and announced. */
  add(entry: Entry): void {
    this.#entries.set(entry.job.id, entry);
    this.#index(entry);
    this.persist(entry);
    this.#deps.emitter.emit('updated', entry.job);
  }

  /** Forgets a job; returns whether it was known. */
  delete(jobId: string): boolean {
    const entry = this.#entries.get(jobId);
    if (entry) this.#byServer.get(entry.job.serverId)?.delete(entry);
    return this.#entries.delete(jobId);
  }

  /** Changes a job, saves it and tells everyone. */
  update(entry: Entry, change: Partial<Job>): void {
    if (change.serverId !== undefined && change.serverId !== entry.job.serverId) {
      this.#byServer.get(entry.job.serverId)?.delete(entry);
      entry.job = { ...entry.job, ...change };
      this.#index(entry);
    }
    entry.job = { ...entry.job, ...change };
    this.persist(entry);
    this.#deps.emitter.emit('updated', entry.job);
    this.#deps.onCountsChanged();
  }

  /** Changes what a job shows without saving it (a held job's wait reason), and tells everyone. */
  note(entry: Entry, change: Partial<Job>): void {
    entry.job = { ...entry.job, ...change };
    this.#deps.emitter.emit('updated', entry.job);
  }

  /** The server started running the job. */
  markRunning(entry: Entry): void {
    if (isFinished(entry.job.status) || entry.job.status === 'running') return;
    entry.tracker?.started();
    const now = this.#deps.now();
    this.update(entry, {
      status: 'running',
      queuedAt: entry.job.queuedAt ?? now,
      startedAt: entry.job.startedAt ?? now,
      progress: entry.tracker?.snapshot() ?? null,
    });
  }

  /** The server holds the job in its queue. */
  markQueued(entry: Entry): void {
    if (entry.job.status !== 'held') return;
    this.update(entry, { status: 'queued', queuedAt: entry.job.queuedAt ?? this.#deps.now() });
  }

  /**
   * Live progress: kept on the job (not saved) and sent as `generation.progress`, unless it says
   * nothing new. ComfyUI reports each sampler step twice (progress_state, then progress), and a farm
   * of 16 servers would otherwise send every window twice the events it needs.
   */
  emitProgress(entry: Entry): void {
    const promptId = entry.job.promptId;
    if (!entry.tracker || !promptId || isFinished(entry.job.status)) return;
    const progress = entry.tracker.snapshot();
    if (isSameProgress(entry.job.progress, progress)) return;
    entry.job = { ...entry.job, progress };
    this.#deps.emitter.emit('progress', { jobId: entry.job.id, promptId, progress });
  }

  /** Ends a job. A cancel the person asked for carries no error. */
  finish(entry: Entry, end: JobEnd): void {
    this.update(entry, {
      status: end.status,
      finishedAt: this.#deps.now(),
      error: end.status === 'cancelled' && entry.isCancelRequested ? null : (end.error ?? null),
      ...(end.outputs ? { outputs: end.outputs } : {}),
      ...(end.progress !== undefined ? { progress: end.progress } : {}),
      ...(end.isCached ? { isCached: true } : {}),
    });
  }

  /**
   * Saves a job's record. A failure is logged (and a full disk told once) but the job goes on:
   * only its record is at risk.
   */
  persist(entry: Entry): void {
    try {
      this.#deps.history.save(recordOf(entry));
    } catch (error) {
      this.#deps.log.error('could not save job to history', { jobId: entry.job.id, error });
      if (isAppError(error) && error.code === 'disk_full') this.#deps.notices?.raise('error', error.userMessage);
    }
  }

  #index(entry: Entry): void {
    let set = this.#byServer.get(entry.job.serverId);
    if (!set) this.#byServer.set(entry.job.serverId, (set = new Set()));
    set.add(entry);
  }

  /** Saves a job's record or throws: for what must be on disk before it happens (a prompt being sent). */
  persistOrThrow(entry: Entry): void {
    this.#deps.history.save(recordOf(entry));
  }
}

/** Whether two progress snapshots say the same thing. */
function isSameProgress(a: JobProgress | null, b: JobProgress): boolean {
  return (
    a !== null &&
    a.percent === b.percent &&
    a.nodeId === b.nodeId &&
    a.nodeTitle === b.nodeTitle &&
    a.step === b.step &&
    a.steps === b.steps &&
    a.etaSeconds === b.etaSeconds
  );
}
