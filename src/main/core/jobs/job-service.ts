import { randomUUID } from 'node:crypto';
import type { ApiPrompt } from '@shared/domain/generation';
import { isFinished, type Job, type JobStatus, type JobsSnapshot, type QueueCounts } from '@shared/domain/job';
import type { NoticeCenter } from '../app/notice-center';
import type { PreparedRun } from '../generation/generation-service';
import type { StagedInputs } from '../generation/staging';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { isForeignJobId } from './foreign-jobs';
import { median } from './eta';
import { Failover } from './failover';
import { FarmDispatcher } from './farm-dispatcher';
import { HeldQueue } from './held-queue';
import type { HistoryStore } from './history-store';
import { JobBook, type JobServiceEvents } from './job-book';
import { entryForRetry, entryFromRecord, entryFromRun } from './job-entry';
import { offlineForCancel, ServerAttachment } from './server-attachment';
import type { ServerDirectory } from './server-directory';

export { JOB_EVENTS, type JobServiceEvents } from './job-book';

/** What the job service works with: the history, the servers, staged files, settings and timings. */
export interface JobServiceDeps {
  history: HistoryStore;
  servers: ServerDirectory;
  staged: StagedInputs;
  /** Where outputs are saved (read at save time, so a settings change applies to the next job). */
  outputsDir: () => string;
  /** Live limits from settings. */
  limits: () => { maxInFlightPerServer: number; previewsPerSecond: number };
  /** Live failover settings. @default 30 s grace, lost jobs not retried by themselves */
  failover?: () => { graceMs: number; retryLostElsewhere: boolean };
  log: Logger;
  notices?: NoticeCenter;
  now?: () => number;
  /** REST poll period while a server's socket is down and one of our jobs is there. @default 1000 */
  busyPollMs?: number;
  /** REST poll period while a server's socket is down and nothing of ours is there. @default 10000 */
  idlePollMs?: number;
  /** How long to wait for ComfyUI to write a finished prompt's history. @default 5000 */
  historyWaitMs?: number;
  /**
   * After a POST /prompt that got no answer, how long a server that does not know the prompt may
   * still receive it (a slow proxy); only then is it sent again, under the same id. @default 30000
   */
  unconfirmedGraceMs?: number;
  /** Release no held job while this process runs (a CLI command that only reads); the pause switch is untouched. */
  isHeldForSession?: boolean;
}

/** Where each status sorts in the queue view. */
const RANK: Record<JobStatus, number> = {
  running: 0,
  queued: 1,
  held: 2,
  succeeded: 3,
  failed: 3,
  cancelled: 3,
  lost: 3,
};

/**
 * The job queue, put together from its parts: the jobs themselves (`JobBook`, saved in the history
 * database), ComfyDesk's held queue and its pump (`HeldQueue`, releasing through one `Dispatcher`
 * seam), and one `ServerAttachment` per server (socket events, REST poll, reconcile, other clients'
 * jobs, sending). This class holds the commands and the lifecycle. A job's parameters are never
 * lost: a failed or lost job can be retried.
 */
export class JobService {
  readonly #deps: JobServiceDeps;
  readonly #emitter: Emitter<JobServiceEvents>;
  readonly #book: JobBook;
  readonly #held: HeldQueue;
  readonly #dispatcher: FarmDispatcher;
  readonly #failover: Failover;
  readonly #attachments = new Map<string, ServerAttachment>();
  #offDirectory: Unsubscribe | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #lastCounts = '';
  #started = false;

  constructor(deps: JobServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
    this.#book = new JobBook({
      history: deps.history,
      emitter: this.#emitter,
      log: deps.log,
      notices: deps.notices,
      now: () => this.#now(),
      onCountsChanged: () => this.#emitCounts(),
    });
    this.#dispatcher = new FarmDispatcher({
      servers: deps.servers,
      attachment: (serverId) => this.#attachments.get(serverId),
      attachments: () => this.#attachments.values(),
      learnedMs: (workflowId, serverId) => median(deps.history.durations(workflowId, serverId)),
    });
    this.#failover = new Failover({
      book: this.#book,
      history: deps.history,
      log: deps.log,
      now: () => this.#now(),
      graceMs: () => deps.failover?.().graceMs ?? 30_000,
      retryLostElsewhere: () => deps.failover?.().retryLostElsewhere ?? false,
      candidates: (entry) => this.#dispatcher.candidates(entry),
      label: (serverId) => deps.servers.label(serverId),
      hasInput: (stagedId) => deps.staged.has(stagedId),
      retry: (jobId) => this.retry(jobId),
      onMoved: () => this.#held.pump(),
    });
    this.#emitter.on('updated', (job) => {
      if (!isFinished(job.status) || job.origin !== 'comfydesk') return;
      this.#dispatcher.forgetLearned();
      this.#failover.finished(job.id);
    });
    this.#held = new HeldQueue({
      book: this.#book,
      dispatcher: this.#dispatcher,
      history: deps.history,
      log: deps.log,
      isHeldForSession: deps.isHeldForSession,
    });
  }

  on<K extends keyof JobServiceEvents>(name: K, listener: (payload: JobServiceEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** Every event, for forwarding onto the contract's bus. */
  onAny(listener: <K extends keyof JobServiceEvents>(name: K, payload: JobServiceEvents[K]) => void): Unsubscribe {
    return this.#emitter.onAny(listener);
  }

  get paused(): boolean {
    return this.#held.paused;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Jobs not finished when ComfyDesk last stopped: held ones wait again (paused if the queue was),
    // sent ones are checked against their server as soon as it is reachable — never sent twice.
    for (const record of this.#deps.history.unfinished())
      if (record.job.origin === 'comfydesk') this.#book.restore(entryFromRecord(record));
    this.#failover.start();
    this.#held.start();
    this.#offDirectory = this.#deps.servers.onChange((serverId) => this.#serverChanged(serverId));
    for (const serverId of this.#interestingServers()) this.#serverChanged(serverId);
    this.#pollTimer = setInterval(() => this.#poll(), Math.min(this.#deps.busyPollMs ?? 1000, 1000));
    this.#pollTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#held.stop();
    clearInterval(this.#pollTimer);
    this.#offDirectory?.();
    const attachments = [...this.#attachments.values()];
    this.#attachments.clear();
    await Promise.all(attachments.map((attachment) => attachment.close({ abort: true })));
  }

  // ---- commands ----

  /**
   * Adds prepared runs as held jobs and releases what the queue allows. Returns the job ids. Each
   * run goes to a server of its own choosing: one of `servers` when given (a pin), else any server
   * used for generation that can run it.
   */
  enqueue(runs: PreparedRun[], options: { servers?: string[] } = {}): string[] {
    const now = this.#now();
    const base = this.#held.nextPosition();
    const entries = runs.map((run, index) =>
      entryFromRun(run, {
        id: randomUUID(),
        now,
        position: base + index,
        batch: runs.length > 1 ? { index: index + 1, count: runs.length } : null,
      }),
    );
    for (const entry of entries) {
      if (options.servers) entry.job = { ...entry.job, servers: [...new Set(options.servers)] };
      this.#book.add(entry);
      this.#failover.remember(entry);
    }
    this.#emitCounts();
    this.#attachAll();
    return entries.map((entry) => entry.job.id);
  }

  /** Every unfinished job, ours and other clients', in the order they will run. */
  snapshot(): JobsSnapshot {
    const jobs = [
      ...this.#book.unfinished().map((entry) => ({ job: entry.job, number: entry.number })),
      ...[...this.#attachments.values()].flatMap((attachment) =>
        attachment.foreignJobs().map((job) => ({ job, number: job.position })),
      ),
    ]
      .sort(
        (a, b) =>
          RANK[a.job.status] - RANK[b.job.status] ||
          (a.job.status === 'held' ? a.job.position - b.job.position : (a.number ?? 0) - (b.number ?? 0)) ||
          a.job.createdAt - b.job.createdAt,
      )
      .map(({ job }) => job);
    return { jobs, paused: this.#held.paused };
  }

  /**
   * Reads every watched server's queue now, so other clients' jobs are current when this resolves
   * (a core that just started has not read them yet: the CLI's `queue` and `cancel` ask for this).
   */
  async refresh(): Promise<void> {
    await Promise.all([...this.#attachments.values()].map((attachment) => attachment.refreshForeign()));
  }

  /** A job we know, running or finished. */
  get(jobId: string): Job | undefined {
    return this.#book.get(jobId)?.job ?? this.#findForeign(jobId)?.job ?? this.#deps.history.get(jobId)?.job;
  }

  /** Stops (or resumes) releasing held jobs; the running one finishes. Kept across restarts. */
  setPaused(paused: boolean): boolean {
    const isChanged = this.#held.setPaused(paused);
    this.#emitCounts(isChanged);
    if (!paused) this.#held.pump();
    return this.#held.paused;
  }

  /** Moves a held job to `toIndex` among the held jobs (0 = next). */
  move(jobId: string, toIndex: number): void {
    const entry = this.#book.get(jobId);
    if (!entry) throw notFound(jobId);
    this.#held.move(entry, toIndex);
  }

  /**
   * Cancels a job: a held one is dropped, a pending one is removed from the server's queue, a
   * running one is interrupted (by prompt id, so nobody else's job is touched). Works for other
   * clients' jobs too. The job ends as cancelled, without an error.
   */
  async cancel(jobId: string): Promise<void> {
    const foreign = this.#findForeign(jobId);
    if (foreign) return foreign.attachment.cancelPrompt(foreign.job.promptId!, foreign.job.status === 'running');
    const entry = this.#book.get(jobId);
    if (!entry) {
      if (this.#deps.history.get(jobId)) throw new AppError('invalid_input', 'That job has already finished.');
      throw notFound(jobId);
    }
    if (isFinished(entry.job.status)) throw new AppError('invalid_input', 'That job has already finished.');
    if (entry.isSubmitting || (entry.job.status === 'held' && entry.sentAt === undefined)) {
      entry.isCancelRequested = true;
      // Being sent: the send sees the request and withdraws the prompt. Held: it never left.
      if (!entry.isSubmitting) this.#book.finish(entry, { status: 'cancelled' });
      return;
    }
    // Queued, running, or sent without an answer: only the server can take it back.
    const attachment = this.#attachments.get(entry.job.serverId);
    if (!attachment) throw offlineForCancel(this.#deps.servers.label(entry.job.serverId));
    entry.isCancelRequested = true;
    await attachment.cancel(entry);
  }

  /** Queues a finished job again with the same values (a new job). */
  retry(jobId: string): string[] {
    const previous = this.#book.get(jobId);
    const record = previous
      ? { job: previous.job, apiPrompt: previous.prompt, sourceWorkflow: previous.sourceWorkflow }
      : this.#deps.history.get(jobId);
    if (!record) throw notFound(jobId);
    if (record.job.origin !== 'comfydesk')
      throw new AppError('job_not_retryable', "Another client's job cannot be run again from ComfyDesk.");
    if (!isFinished(record.job.status)) throw new AppError('job_not_retryable', 'That job has not finished yet.');
    if (!record.apiPrompt || Object.keys(record.apiPrompt).length === 0)
      throw new AppError('job_not_retryable', 'This job was recorded without its prompt, so it cannot be run again.');
    // Files the job uploaded go again while ComfyDesk still has them, since the retry may run on
    // another server (a lost job retried elsewhere); without them it reuses what the server stored.
    const pending = previous?.uploads ?? ('uploads' in record ? record.uploads : undefined) ?? [];
    const sent = previous?.uploaded ?? ('uploaded' in record ? record.uploaded : undefined) ?? [];
    const entry = entryForRetry(
      {
        job: record.job,
        prompt: record.apiPrompt as ApiPrompt,
        sourceWorkflow: record.sourceWorkflow,
        uploads: [...sent.filter((upload) => this.#deps.staged.has(upload.stagedId)), ...pending],
        previous,
      },
      { id: randomUUID(), now: this.#now(), position: this.#held.nextPosition() },
    );
    this.#book.add(entry);
    this.#failover.remember(entry);
    this.#emitCounts();
    this.#attachAll();
    return [entry.job.id];
  }

  /** Staged files that held jobs still have to upload (the rest can go). */
  stagedInUse(): Set<string> {
    return new Set(
      this.#book
        .unfinished()
        .flatMap((entry) => [...entry.uploads, ...(entry.uploaded ?? [])].map((upload) => upload.stagedId)),
    );
  }

  /** Forgets a finished job (and returns it so the caller can delete its files). */
  forget(jobId: string): Job | undefined {
    const entry = this.#book.get(jobId);
    if (entry && !isFinished(entry.job.status))
      throw new AppError('invalid_input', 'Cancel the job before deleting it.');
    this.#book.delete(jobId);
    const removed = this.#deps.history.delete(jobId)?.job ?? entry?.job;
    if (removed) this.#emitter.emit('removed', { jobId });
    return removed;
  }

  // ---- servers ----

  /**
   * Servers worth watching: every online one (for other clients' jobs), every server used for
   * generation, any our jobs are on or pinned to, and any with a stale copy to remove.
   */
  #interestingServers(): Set<string> {
    const ids = new Set<string>([...this.#deps.servers.generationIds(), ...this.#deps.servers.onlineIds()]);
    const fallback = this.#deps.servers.defaultId();
    if (fallback) ids.add(fallback);
    for (const entry of this.#book.unfinished()) {
      ids.add(entry.job.serverId);
      for (const id of entry.job.servers ?? []) ids.add(id);
    }
    for (const copy of this.#failover.staleCopies()) ids.add(copy.serverId);
    return ids;
  }

  /** Attaches every interesting server not attached yet, then releases what can go. */
  #attachAll(): void {
    for (const serverId of this.#interestingServers())
      if (!this.#attachments.has(serverId)) this.#serverChanged(serverId);
    this.#held.pump();
  }

  /** A server appeared, changed or came back: (re)attach, reconcile, release. */
  #serverChanged(serverId: string): void {
    if (!this.#started) return;
    const client = this.#deps.servers.client(serverId);
    const current = this.#attachments.get(serverId);
    if (current && current.client !== client) {
      this.#attachments.delete(serverId);
      void current.close({ abort: false });
    }
    if (!client) {
      // Only a server this process keeps trying to reach counts as gone: a lean CLI core that never
      // connected the others must not move their jobs. A read-only core moves nothing.
      const isKeptOnline = this.#deps.servers.onlineIds().includes(serverId);
      if (isKeptOnline && !this.#deps.isHeldForSession && this.#interestingServers().has(serverId))
        this.#failover.serverOffline(serverId);
      return;
    }
    let attachment = this.#attachments.get(serverId);
    if (!attachment) {
      if (!this.#interestingServers().has(serverId)) return;
      // Back (or new): stale copies left there go before anything else is read or sent.
      const isBack = this.#failover.serverOnline(serverId, client);
      attachment = new ServerAttachment(serverId, client, {
        book: this.#book,
        emitter: this.#emitter,
        history: this.#deps.history,
        staged: this.#deps.staged,
        outputsDir: this.#deps.outputsDir,
        limits: this.#deps.limits,
        label: () => this.#deps.servers.label(serverId),
        log: this.#deps.log,
        notices: this.#deps.notices,
        now: () => this.#now(),
        busyPollMs: this.#deps.busyPollMs ?? 1000,
        idlePollMs: this.#deps.idlePollMs ?? 10_000,
        historyWaitMs: this.#deps.historyWaitMs ?? 5000,
        unconfirmedGraceMs: this.#deps.unconfirmedGraceMs ?? 30_000,
        onReleased: () => this.#held.pump(),
        onCountsChanged: () => this.#emitCounts(),
      });
      this.#attachments.set(serverId, attachment);
      const target = attachment;
      void isBack.then(() => target.reconcile()).then(() => this.#held.pump()); // each handles its own errors
      return;
    }
    const target = attachment;
    void target.reconcile().then(() => this.#held.pump()); // reconcile handles its own errors
  }

  #poll(): void {
    this.#failover.tick();
    const now = this.#now();
    for (const attachment of this.#attachments.values()) attachment.pollIfDue(now);
  }

  #findForeign(jobId: string): { job: Job; attachment: ServerAttachment } | undefined {
    if (!isForeignJobId(jobId)) return undefined;
    for (const attachment of this.#attachments.values()) {
      const job = attachment.foreign.get(jobId);
      if (job) return { job, attachment };
    }
    return undefined;
  }

  #emitCounts(force = false): void {
    const jobs = this.snapshot().jobs;
    const counts: QueueCounts = {
      running: jobs.filter((job) => job.status === 'running').length,
      pending: jobs.filter((job) => job.status === 'held' || job.status === 'queued').length,
      paused: this.#held.paused,
    };
    const key = JSON.stringify(counts);
    if (!force && key === this.#lastCounts) return;
    this.#lastCounts = key;
    this.#emitter.emit('queue', counts);
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now();
  }
}

function notFound(jobId: string): AppError {
  return new AppError('job_not_found', 'That job is not known (it may have been deleted).', { details: { jobId } });
}
