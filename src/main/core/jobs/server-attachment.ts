import { isFinished, type Job } from '@shared/domain/job';
import type { NoticeCenter } from '../app/notice-center';
import type { QueueSnapshot } from '../comfy/api-types';
import type { ComfyClient } from '../comfy/comfy-client';
import type { HistoryEntry } from '../comfy/messages';
import type { StagedInputs } from '../generation/staging';
import type { Emitter, Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { finalizeEntry } from './completion';
import { ForeignJobs } from './foreign-jobs';
import type { HistoryStore } from './history-store';
import type { JobBook, JobServiceEvents } from './job-book';
import type { Entry } from './job-entry';
import { lostError } from './job-errors';
import { handleSocketEvent, type SocketEventTarget } from './socket-events';
import { startTracking, submitEntry } from './submission';

/** What an attachment needs besides its server's client. */
export interface AttachmentDeps {
  book: JobBook;
  emitter: Emitter<JobServiceEvents>;
  history: HistoryStore;
  staged: StagedInputs;
  outputsDir: () => string;
  limits: () => { maxInFlightPerServer: number; previewsPerSecond: number };
  /** The server's name for messages. */
  label: () => string;
  log: Logger;
  notices?: NoticeCenter;
  now: () => number;
  busyPollMs: number;
  idlePollMs: number;
  historyWaitMs: number;
  unconfirmedGraceMs: number;
  /** A job ended or a send turned out not to have arrived: the held queue may release more. */
  onReleased: () => void;
  /** The server's queue (ours or other clients') changed. */
  onCountsChanged: () => void;
}

/**
 * ComfyDesk's attachment to one ComfyUI server: its socket events, a REST poll while the socket is
 * down, reconciliation from /queue and /history (after a reconnect, at start, after an unanswered
 * send), the jobs other clients queued there, and sending our jobs to it one at a time. One exists
 * per server that is online and of interest; the held queue reaches servers only through these.
 */
export class ServerAttachment implements SocketEventTarget {
  readonly serverId: string;
  readonly client: ComfyClient;
  readonly book: JobBook;
  readonly emitter: Emitter<JobServiceEvents>;
  readonly foreign: ForeignJobs;
  readonly #deps: AttachmentDeps;
  readonly #offs: Unsubscribe[] = [];
  /** Aborted when ComfyDesk stops, so nothing waits on a server that does not answer. */
  readonly #abort = new AbortController();
  readonly #tasks = new Set<Promise<unknown>>();
  /** Sends to this server happen one after another, in the order they were released. */
  #sending: Promise<unknown> = Promise.resolve();
  #lastPollAt = 0;
  #queueRefreshTimer: NodeJS.Timeout | undefined;
  /** Our prompt the server runs now (attributes events that carry no prompt id). */
  #runningPromptId: string | undefined;
  /** The node a reconnect replay named, kept until the job it belongs to is adopted. */
  #replayNode: string | undefined;
  #isReconciling = false;
  /** Something changed while a reconcile was running: run it once more afterwards. */
  #isReconcileDue = false;
  #isClosed = false;

  constructor(serverId: string, client: ComfyClient, deps: AttachmentDeps) {
    this.serverId = serverId;
    this.client = client;
    this.book = deps.book;
    this.emitter = deps.emitter;
    this.#deps = deps;
    this.foreign = new ForeignJobs(serverId, { emitter: deps.emitter, now: deps.now });
    this.#offs.push(
      client.on('event', (event) => handleSocketEvent(this, event)),
      client.on('open', ({ isReconnect }) => {
        if (isReconnect) void this.#track(this.reconcile());
      }),
    );
  }

  /**
   * Detaches from the server. With `abort` (ComfyDesk stops) requests in flight are cancelled and
   * awaited; otherwise (the server went offline) they finish on their own.
   */
  async close(options: { abort: boolean }): Promise<void> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      for (const off of this.#offs.splice(0)) off();
      clearTimeout(this.#queueRefreshTimer);
      this.foreign.clear();
      this.#deps.onCountsChanged();
    }
    if (!options.abort) return;
    this.#abort.abort();
    await Promise.allSettled([...this.#tasks]);
  }

  /** Jobs of ours this server holds or may hold: sending, unconfirmed, queued or running. */
  inFlight(): number {
    return this.book
      .onServer(this.serverId)
      .filter(
        (entry) =>
          entry.isSubmitting ||
          entry.job.status === 'queued' ||
          entry.job.status === 'running' ||
          (entry.job.status === 'held' && entry.sentAt !== undefined),
      ).length;
  }

  /** How busy the server is: our jobs there and other clients' jobs in its queue. */
  load(): number {
    return this.inFlight() + this.foreign.size;
  }

  /** Whether the server takes another of our jobs now (Settings › jobs a server runs at once). */
  hasRoom(): boolean {
    return !this.#isClosed && this.inFlight() < this.#deps.limits().maxInFlightPerServer;
  }

  /**
   * Sends a held job (after the ones released before it). Resolves to false when sending should
   * pause for this server (unreachable, or a send is unconfirmed).
   */
  submit(entry: Entry): Promise<boolean> {
    entry.isSubmitting = true; // counted at once, so the held queue does not over-release
    const run = this.#sending.then(() =>
      submitEntry(
        {
          client: this.client,
          book: this.book,
          history: this.#deps.history,
          staged: this.#deps.staged,
          log: this.#deps.log,
          notices: this.#deps.notices,
          now: this.#deps.now,
          signal: this.#abort.signal,
          unconfirmedGraceMs: this.#deps.unconfirmedGraceMs,
          reconcileSoon: () => this.queueChanged(),
        },
        entry,
      ),
    );
    this.#sending = run.catch(() => undefined);
    return this.#track(run);
  }

  /** While the socket is down, /queue and /history tell what happened (often while ours run, rarely otherwise). */
  pollIfDue(now: number): void {
    if (this.#isClosed || this.client.isSocketOpen) return;
    const isBusy = this.inFlight() > 0;
    if (now - this.#lastPollAt < (isBusy ? this.#deps.busyPollMs : this.#deps.idlePollMs)) return;
    this.#lastPollAt = now;
    void this.#track(this.reconcile());
  }

  /**
   * Brings our jobs on this server in line with what it says now: running or pending (adopted, with
   * live progress), finished (from /history), gone (lost), or — for a send that got no answer —
   * never arrived (released again under the same prompt id). Other clients' jobs come from the same
   * /queue answer.
   */
  async reconcile(): Promise<void> {
    if (this.#isClosed) return;
    if (this.#isReconciling) {
      this.#isReconcileDue = true;
      return;
    }
    this.#isReconciling = true;
    this.#isReconcileDue = false;
    const askedAt = this.#deps.now();
    const signal = this.#abort.signal;
    try {
      const queue = await this.client.getQueue({ signal });
      const ours = this.book.onServer(this.serverId);
      this.#takeForeign(queue);
      const running = new Set(queue.running.map((item) => item.promptId));
      const pending = new Map(queue.pending.map((item) => [item.promptId, item]));
      for (const entry of ours) {
        const promptId = entry.job.promptId;
        if (!promptId || !this.#isSettled(entry)) continue;
        if (entry.job.status === 'held' && entry.sentAt === undefined) continue;
        // A /queue read that started before the send cannot know the prompt.
        if (entry.sentAt !== undefined && entry.sentAt >= askedAt) continue;
        if (running.has(promptId)) {
          this.#runningPromptId = promptId;
          await this.#adopt(entry, 'running');
        } else if (pending.has(promptId)) {
          entry.number = pending.get(promptId)!.number;
          await this.#adopt(entry, 'queued');
        } else {
          let history: HistoryEntry | undefined;
          try {
            history = await this.client.getHistory(promptId, { signal });
          } catch {
            continue; // not known either way: ask again next time
          }
          if (!this.#isSettled(entry)) continue;
          if (history) await this.finalizeNow(entry, history);
          else if (entry.job.status === 'held') this.#neverArrived(entry, askedAt);
          else this.markLost(entry);
        }
      }
    } catch (error) {
      this.#deps.log.debug('reconcile failed', { serverId: this.serverId, error });
    } finally {
      this.#isReconciling = false;
      if (this.#isReconcileDue && !this.#isClosed) void this.#track(this.reconcile());
    }
  }

  /** Reads the server's queue now for other clients' jobs (a core that just started has not read it yet). */
  async refreshForeign(): Promise<void> {
    const queue = await this.client.getQueue().catch(() => undefined);
    if (queue && !this.#isClosed) this.#takeForeign(queue);
  }

  #takeForeign(queue: QueueSnapshot): void {
    this.foreign.refresh(queue, {
      promptIds: new Set(this.book.onServer(this.serverId).map((entry) => entry.job.promptId)),
      clientId: this.client.clientId,
    });
    this.#deps.onCountsChanged();
  }

  /** Cancels a prompt here by id: interrupts it if it runs, removes it if it waits. */
  async cancelPrompt(promptId: string, isRunning: boolean): Promise<void> {
    if (isRunning) await this.client.interrupt(promptId);
    else await this.client.deleteFromQueue([promptId]);
    this.queueChanged();
  }

  /** Cancels one of our jobs that the server has (or may have). */
  async cancel(entry: Entry): Promise<void> {
    const promptId = entry.job.promptId!;
    if (entry.job.status === 'held') {
      // Sent without an answer: take it back wherever it is, then drop it.
      await this.client.deleteFromQueue([promptId]).catch(() => undefined);
      await this.client.interrupt(promptId).catch(() => undefined);
      if (!isFinished(entry.job.status)) this.book.finish(entry, { status: 'cancelled' });
      return;
    }
    const wasQueued = entry.job.status === 'queued';
    await this.cancelPrompt(promptId, entry.job.status === 'running');
    if (!wasQueued) return; // the interrupt ends it; the socket or the poll reports the end
    // It was pending: gone from the queue now, unless it started in the meantime (then interrupt it).
    const queue = await this.client.getQueue().catch(() => undefined);
    if (queue?.running.some((item) => item.promptId === promptId)) await this.client.interrupt(promptId);
    else if (!isFinished(entry.job.status)) this.book.finish(entry, { status: 'cancelled' });
  }

  /** Other clients' jobs on this server. */
  foreignJobs(): Job[] {
    return this.foreign.list();
  }

  // ---- SocketEventTarget ----

  previewsPerSecond(): number {
    return this.#deps.limits().previewsPerSecond;
  }

  now(): number {
    return this.#deps.now();
  }

  runningOn(): Entry | undefined {
    return (
      this.book.byPrompt(this.serverId, this.#runningPromptId) ??
      this.book.onServer(this.serverId).find((entry) => entry.job.status === 'running')
    );
  }

  setRunningPrompt(promptId: string | undefined): void {
    this.#runningPromptId = promptId;
    this.#replayNode = undefined;
  }

  replayed(nodeId: string): void {
    const entry = this.runningOn();
    if (!entry?.tracker) {
      this.#replayNode = nodeId; // the job is adopted by the reconcile that follows every (re)connect
      return;
    }
    entry.tracker.resumeAt(nodeId);
    this.book.emitProgress(entry);
  }

  queueChanged(): void {
    if (this.#isClosed || this.#queueRefreshTimer) return;
    // `status` often comes twice in a row; one /queue read covers both. It also notices our pending
    // jobs that another client removed from the server's queue.
    this.#queueRefreshTimer = setTimeout(() => {
      this.#queueRefreshTimer = undefined;
      void this.#track(this.reconcile());
    }, 150);
    this.#queueRefreshTimer.unref();
  }

  finalize(entry: Entry): void {
    void this.#track(this.finalizeNow(entry));
  }

  // ---- job ends ----

  /** Reads the finished prompt's history, saves its outputs and ends the job; then the queue goes on. */
  async finalizeNow(entry: Entry, known?: HistoryEntry): Promise<void> {
    if (entry.isFinalizing || isFinished(entry.job.status)) return;
    entry.isFinalizing = true;
    if (this.#runningPromptId === entry.job.promptId) this.setRunningPrompt(undefined);
    try {
      await finalizeEntry(
        {
          client: this.client,
          book: this.book,
          outputsDir: this.#deps.outputsDir,
          log: this.#deps.log,
          notices: this.#deps.notices,
          now: this.#deps.now,
          signal: this.#abort.signal,
          historyWaitMs: this.#deps.historyWaitMs,
          markLost: (lost) => this.markLost(lost),
        },
        entry,
        known,
      );
    } catch (error) {
      this.#deps.log.error('finishing a job failed', { jobId: entry.job.id, error });
    } finally {
      entry.isFinalizing = false;
      if (!this.#abort.signal.aborted) this.#deps.onReleased();
    }
  }

  /** The server no longer knows a job it had: lost, with Retry (a cancel we asked for is just cancelled). */
  markLost(entry: Entry): void {
    if (entry.isCancelRequested) this.book.finish(entry, { status: 'cancelled' });
    else this.book.finish(entry, { status: 'lost', error: lostError(this.#deps.label()) });
    this.#deps.onReleased();
  }

  /** Not busy with a send or an end right now, and not finished. */
  #isSettled(entry: Entry): boolean {
    return !isFinished(entry.job.status) && !entry.isSubmitting && !entry.isFinalizing;
  }

  /** Takes over a job the server has: its state, and a progress tracker if it has none (after a restart). */
  async #adopt(entry: Entry, status: 'running' | 'queued'): Promise<void> {
    const isNew = !entry.tracker;
    if (isNew) {
      await startTracking(
        { client: this.client, history: this.#deps.history, now: this.#deps.now, signal: this.#abort.signal },
        entry,
      );
      if (!this.#isSettled(entry)) return;
      if (status === 'running' && this.#replayNode !== undefined) entry.tracker?.resumeAt(this.#replayNode);
    }
    entry.confirmAfter = undefined;
    if (status === 'running') this.book.markRunning(entry);
    else this.book.markQueued(entry);
    if (isNew) this.book.emitProgress(entry);
  }

  /**
   * A send that got no answer, and the server knows nothing of it: it never arrived (or the server
   * restarted since). Once it is certain no request is still on its way, the job is released again
   * under the same prompt id; after a few such sends it fails with the last reason.
   */
  #neverArrived(entry: Entry, askedAt: number): void {
    if (entry.confirmAfter !== undefined && askedAt < entry.confirmAfter) return;
    entry.sentAt = undefined;
    entry.confirmAfter = undefined;
    if (entry.lastSendError !== undefined) entry.failedSends += 1;
    if (entry.failedSends >= MAX_UNANSWERED_SENDS) {
      this.book.finish(entry, {
        status: 'failed',
        error: {
          message: `${this.#deps.label()} did not take the job after ${entry.failedSends} tries (${entry.lastSendError}). Your settings are kept: press Retry to try again.`,
        },
      });
    } else {
      this.book.persist(entry);
    }
    this.#deps.onReleased();
  }

  #track<T>(task: Promise<T>): Promise<T> {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task)).catch(() => undefined); // settled either way; errors are handled by the task
    return task;
  }
}

/** Sends without an answer, each found not to have arrived, before a job gives up. */
const MAX_UNANSWERED_SENDS = 3;

/** The error for a job whose server cannot be reached to cancel it. */
export function offlineForCancel(label: string): AppError {
  return new AppError('comfy_offline', `${label} is not connected, so the job cannot be cancelled right now.`);
}
