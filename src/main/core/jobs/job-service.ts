import { randomUUID } from 'node:crypto';
import type { ApiPrompt } from '@shared/domain/generation';
import {
  isFinished,
  type Job,
  type JobError,
  type JobProgress,
  type JobStatus,
  type JobsSnapshot,
  type OutputFile,
  type PreviewFrame,
  type QueueCounts,
} from '@shared/domain/job';
import type { ComfyClient, QueueItem, QueueSnapshot } from '../comfy/comfy-client';
import type { ComfyEvent, HistoryEntry, NodeErrors } from '../comfy/messages';
import { outputNodeTypes } from '../comfy/object-info';
import type { NoticeCenter } from '../app/notice-center';
import type { StagedUpload, PreparedRun } from '../generation/generation-service';
import type { StagedInputs } from '../generation/staging';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, isAppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import { collectOutputs, saveOutputs } from './outputs';
import { ProgressTracker } from './progress-tracker';
import type { ServerDirectory } from './server-directory';

/** What the job service tells the core (forwarded to clients as contract events). */
export interface JobServiceEvents {
  updated: Job;
  removed: { jobId: string };
  queue: QueueCounts;
  started: { jobId: string; promptId: string };
  progress: { jobId: string; promptId: string; progress: JobProgress };
  preview: PreviewFrame;
  complete: { jobId: string; promptId: string; outputs: OutputFile[] };
  error: { jobId: string; promptId: string | null; error: JobError };
}

export interface JobServiceDeps {
  history: HistoryStore;
  servers: ServerDirectory;
  staged: StagedInputs;
  /** Where outputs are saved (read at save time, so a settings change applies to the next job). */
  outputsDir: () => string;
  /** Live limits from settings. */
  limits: () => { maxInFlightPerServer: number; previewsPerSecond: number };
  log: Logger;
  notices?: NoticeCenter;
  now?: () => number;
  /** REST poll period while a server's socket is down and one of our jobs runs there. @default 1000 */
  busyPollMs?: number;
  /** REST poll period while a server's socket is down and nothing of ours runs there. @default 10000 */
  idlePollMs?: number;
  /** How long to wait for ComfyUI to write a finished prompt's history. @default 5000 */
  historyWaitMs?: number;
}

/** One of our jobs, with what only the service needs to run it. */
interface Entry {
  job: Job;
  prompt: ApiPrompt;
  sourceWorkflow: unknown;
  titles: Record<string, string>;
  uploads: StagedUpload[];
  /** Class types that are outputs, for the progress closure (from the server's object_info). */
  outputClassTypes: Set<string> | undefined;
  tracker?: ProgressTracker;
  /** Set while uploads and POST /prompt are in flight. */
  isSubmitting: boolean;
  /** The user asked to cancel while the job was being submitted or was running. */
  isCancelRequested: boolean;
  /** What the socket said about the end, in case history cannot be read. */
  outcome?: { status: 'succeeded' | 'failed' | 'cancelled'; error?: JobError };
  liveOutputs: OutputFile[];
  isFinalizing: boolean;
  lastPreviewAt: number;
  /** The server's queue number once queued (orders our queued jobs like the server does). */
  number?: number;
  /** When POST /prompt was sent (ms): a /queue read started before then cannot know the prompt. */
  sentAt?: number;
}

/** Our attachment to one server's client: its socket events and poll timing. */
interface ServerState {
  client: ComfyClient;
  off: Unsubscribe[];
  lastPollAt: number;
  /** A /queue refresh was asked for (a `status` message arrived). */
  queueRefreshTimer?: NodeJS.Timeout;
  /** Our job whose prompt the server runs now (attributes events that carry no prompt id). */
  runningPromptId?: string;
  isReconciling: boolean;
  /** Something changed while a reconcile was running: run it once more afterwards. */
  isReconcileDue: boolean;
}

const FOREIGN_PREFIX = 'foreign:';

/**
 * The job queue: ComfyDesk's held jobs released to each server a few at a time (so pause,
 * reorder and retry work), every job's life from held to an end state driven by ComfyUI's socket
 * events, a REST poll while the socket is down, reconciliation from /queue and /history after a
 * reconnect or restart, other clients' jobs from /queue, outputs saved to disk, and every job kept
 * in the history database. A job's parameters are never lost: a failed or lost job can be retried.
 */
export class JobService {
  readonly #deps: JobServiceDeps;
  readonly #emitter: Emitter<JobServiceEvents>;
  readonly #entries = new Map<string, Entry>();
  readonly #foreign = new Map<string, Map<string, Job>>();
  readonly #servers = new Map<string, ServerState>();
  readonly #pumping = new Map<string, Promise<void>>();
  #paused = false;
  #offDirectory: Unsubscribe | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #lastCounts = '';
  #started = false;

  constructor(deps: JobServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  on<K extends keyof JobServiceEvents>(name: K, listener: (payload: JobServiceEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  get paused(): boolean {
    return this.#paused;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Jobs that were not finished when ComfyDesk last stopped: held ones wait again, sent ones are
    // checked against their server as soon as it is reachable.
    for (const record of this.#deps.history.unfinished()) {
      if (record.job.origin !== 'comfydesk') continue;
      this.#entries.set(record.job.id, {
        job: { ...record.job, progress: null },
        prompt: (record.apiPrompt ?? {}) as ApiPrompt,
        sourceWorkflow: record.sourceWorkflow,
        titles: titlesOf((record.apiPrompt ?? {}) as ApiPrompt),
        uploads: [],
        outputClassTypes: undefined,
        isSubmitting: false,
        isCancelRequested: false,
        liveOutputs: [],
        isFinalizing: false,
        lastPreviewAt: 0,
      });
    }
    this.#offDirectory = this.#deps.servers.onChange((serverId) => this.#serverChanged(serverId));
    for (const serverId of this.#interestingServers()) this.#serverChanged(serverId);
    this.#pollTimer = setInterval(() => this.#poll(), Math.min(this.#deps.busyPollMs ?? 1000, 1000));
    this.#pollTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#pollTimer);
    this.#offDirectory?.();
    for (const state of this.#servers.values()) this.#detach(state);
    this.#servers.clear();
    await Promise.allSettled(this.#pumping.values());
  }

  // ---- commands ----

  /** Adds prepared runs as held jobs and releases what the queue allows. Returns the job ids. */
  enqueue(runs: PreparedRun[], options: { outputClassTypes?: Set<string> } = {}): string[] {
    const now = this.#now();
    const base = this.#nextPosition();
    const ids: string[] = [];
    runs.forEach((run, index) => {
      const job: Job = {
        id: randomUUID(),
        promptId: null,
        origin: 'comfydesk',
        serverId: run.serverId,
        workflowId: run.workflowId,
        workflowName: run.workflowName,
        status: 'held',
        parameters: run.values,
        promptText: run.promptText,
        createdAt: now,
        queuedAt: null,
        startedAt: null,
        finishedAt: null,
        progress: null,
        error: null,
        outputs: [],
        position: base + index,
        batch: runs.length > 1 ? { index: index + 1, count: runs.length } : null,
      };
      const entry: Entry = {
        job,
        prompt: run.prompt,
        sourceWorkflow: run.sourceWorkflow,
        titles: run.titles,
        uploads: run.uploads,
        outputClassTypes: options.outputClassTypes,
        isSubmitting: false,
        isCancelRequested: false,
        liveOutputs: [],
        isFinalizing: false,
        lastPreviewAt: 0,
      };
      this.#entries.set(job.id, entry);
      this.#persist(entry);
      this.#emitter.emit('updated', job);
      ids.push(job.id);
    });
    this.#emitCounts();
    const serverIds = new Set(runs.map((run) => run.serverId));
    for (const serverId of serverIds) this.#serverChanged(serverId);
    return ids;
  }

  /** Every unfinished job, ours and other clients', in the order they will run. */
  snapshot(): JobsSnapshot {
    const rank: Record<JobStatus, number> = {
      running: 0,
      queued: 1,
      held: 2,
      succeeded: 3,
      failed: 3,
      cancelled: 3,
      lost: 3,
    };
    const ours = [...this.#entries.values()].filter((entry) => !isFinished(entry.job.status));
    const jobs = [
      ...ours.map((entry) => ({ job: entry.job, number: entry.number })),
      ...[...this.#foreign.values()].flatMap((map) => [...map.values()].map((job) => ({ job, number: job.position }))),
    ]
      .sort(
        (a, b) =>
          rank[a.job.status] - rank[b.job.status] ||
          (a.job.status === 'held' ? a.job.position - b.job.position : (a.number ?? 0) - (b.number ?? 0)) ||
          a.job.createdAt - b.job.createdAt,
      )
      .map(({ job }) => job);
    return { jobs, paused: this.#paused };
  }

  /** A job we know, running or finished this session. */
  get(jobId: string): Job | undefined {
    return this.#entries.get(jobId)?.job ?? this.#findForeign(jobId) ?? this.#deps.history.get(jobId)?.job;
  }

  /** Stops ComfyDesk releasing held jobs (the running one finishes). */
  setPaused(paused: boolean): boolean {
    if (this.#paused === paused) return paused;
    this.#paused = paused;
    this.#emitCounts(true);
    if (!paused) for (const serverId of this.#interestingServers()) void this.#pump(serverId); // errors are handled inside pump
    return paused;
  }

  /** Moves a held job to `toIndex` among the held jobs (0 = next). */
  move(jobId: string, toIndex: number): void {
    const entry = this.#entries.get(jobId);
    if (!entry) throw this.#notFound(jobId);
    if (entry.job.status !== 'held')
      throw new AppError(
        'invalid_input',
        'Only jobs still waiting in ComfyDesk can be moved; this one was already sent to the server.',
      );
    const held = [...this.#entries.values()]
      .filter((item) => item.job.status === 'held' && item !== entry)
      .sort((a, b) => a.job.position - b.job.position);
    held.splice(Math.min(toIndex, held.length), 0, entry);
    held.forEach((item, index) => {
      if (item.job.position === index) return;
      item.job = { ...item.job, position: index };
      this.#persist(item);
      this.#emitter.emit('updated', item.job);
    });
  }

  /**
   * Cancels a job: a held one is dropped, a pending one is removed from the server's queue, a
   * running one is interrupted (by prompt id, so nobody else's job is touched). Works for other
   * clients' jobs too.
   */
  async cancel(jobId: string): Promise<void> {
    const foreign = this.#findForeign(jobId);
    if (foreign) return this.#cancelOnServer(foreign.serverId, foreign.promptId!, foreign.status === 'running');
    const entry = this.#entries.get(jobId);
    if (!entry) {
      const past = this.#deps.history.get(jobId);
      if (past) throw new AppError('invalid_input', 'That job has already finished.');
      throw this.#notFound(jobId);
    }
    const { job } = entry;
    if (isFinished(job.status)) throw new AppError('invalid_input', 'That job has already finished.');
    entry.isCancelRequested = true;
    if (job.status === 'held' && !entry.isSubmitting) {
      this.#finish(entry, { status: 'cancelled' });
      return;
    }
    if (entry.isSubmitting) return; // the submit sees the request and withdraws the prompt
    const promptId = job.promptId!;
    await this.#cancelOnServer(job.serverId, promptId, job.status === 'running');
    if (job.status === 'queued') {
      // It was pending: gone from the queue now, unless it started in the meantime (then the interrupt ends it).
      const queue = await this.#client(job.serverId)
        ?.getQueue()
        .catch(() => undefined);
      if (queue?.running.some((item) => item.promptId === promptId))
        await this.#client(job.serverId)?.interrupt(promptId);
      else if (!isFinished(entry.job.status)) this.#finish(entry, { status: 'cancelled' });
    }
  }

  /** Queues a finished job again with the same values (a new job). */
  retry(jobId: string): string[] {
    const entry = this.#entries.get(jobId);
    const record = entry
      ? { job: entry.job, apiPrompt: entry.prompt, sourceWorkflow: entry.sourceWorkflow }
      : this.#deps.history.get(jobId);
    if (!record) throw this.#notFound(jobId);
    if (record.job.origin !== 'comfydesk')
      throw new AppError('job_not_retryable', "Another client's job cannot be run again from ComfyDesk.");
    if (!isFinished(record.job.status)) throw new AppError('job_not_retryable', 'That job has not finished yet.');
    if (!record.apiPrompt || Object.keys(record.apiPrompt).length === 0)
      throw new AppError('job_not_retryable', 'This job was recorded without its prompt, so it cannot be run again.');
    const run: PreparedRun = {
      workflowId: record.job.workflowId,
      workflowName: record.job.workflowName,
      serverId: record.job.serverId,
      prompt: record.apiPrompt as ApiPrompt,
      sourceWorkflow: record.sourceWorkflow,
      values: record.job.parameters,
      promptText: record.job.promptText,
      titles: entry?.titles ?? titlesOf(record.apiPrompt as ApiPrompt),
      uploads: entry?.uploads ?? [],
    };
    return this.enqueue([run], { outputClassTypes: entry?.outputClassTypes });
  }

  /** Forgets a finished job (and returns it so the caller can delete its files). */
  forget(jobId: string): Job | undefined {
    const entry = this.#entries.get(jobId);
    if (entry && !isFinished(entry.job.status))
      throw new AppError('invalid_input', 'Cancel the job before deleting it.');
    this.#entries.delete(jobId);
    const removed = this.#deps.history.delete(jobId)?.job ?? entry?.job;
    if (removed) this.#emitter.emit('removed', { jobId });
    return removed;
  }

  // ---- servers ----

  /** Servers worth watching: the default one (for other clients' jobs) and any with jobs of ours. */
  #interestingServers(): Set<string> {
    const ids = new Set<string>();
    const fallback = this.#deps.servers.defaultId();
    if (fallback) ids.add(fallback);
    for (const entry of this.#entries.values()) if (!isFinished(entry.job.status)) ids.add(entry.job.serverId);
    return ids;
  }

  #client(serverId: string): ComfyClient | undefined {
    return this.#deps.servers.client(serverId);
  }

  /** A server appeared, changed or came back: (re)attach, reconcile, release. */
  #serverChanged(serverId: string): void {
    if (!this.#started) return;
    const client = this.#client(serverId);
    const state = this.#servers.get(serverId);
    if (state && state.client !== client) {
      this.#detach(state);
      this.#servers.delete(serverId);
    }
    if (!client) {
      this.#clearForeign(serverId);
      return;
    }
    if (!this.#servers.has(serverId)) {
      if (!this.#interestingServers().has(serverId)) return;
      const next: ServerState = { client, off: [], lastPollAt: 0, isReconciling: false, isReconcileDue: false };
      next.off.push(
        client.on('event', (event) => this.#onEvent(serverId, event)),
        client.on('open', ({ isReconnect }) => {
          if (isReconnect) void this.#reconcile(serverId);
        }),
      );
      this.#servers.set(serverId, next);
    }
    void this.#reconcile(serverId).then(() => this.#pump(serverId));
  }

  #detach(state: ServerState): void {
    for (const off of state.off) off();
    clearTimeout(state.queueRefreshTimer);
  }

  /** While a socket is down, /queue and /history tell us what happened (1 s while ours runs, else 10 s). */
  #poll(): void {
    const now = this.#now();
    for (const [serverId, state] of this.#servers) {
      if (state.client.isSocketOpen) continue;
      const isBusy = [...this.#entries.values()].some(
        (entry) => entry.job.serverId === serverId && (entry.job.status === 'running' || entry.job.status === 'queued'),
      );
      const period = isBusy ? (this.#deps.busyPollMs ?? 1000) : (this.#deps.idlePollMs ?? 10_000);
      if (now - state.lastPollAt < period) continue;
      state.lastPollAt = now;
      void this.#reconcile(serverId);
    }
  }

  /**
   * Brings our jobs on a server in line with what it says now: running, pending, finished (from
   * /history) or gone (lost). Also refreshes other clients' jobs from the same /queue answer.
   */
  async #reconcile(serverId: string): Promise<void> {
    const state = this.#servers.get(serverId);
    const client = state?.client;
    if (!state || !client) return;
    if (state.isReconciling) {
      state.isReconcileDue = true;
      return;
    }
    state.isReconciling = true;
    state.isReconcileDue = false;
    const askedAt = this.#now();
    try {
      const queue = await client.getQueue();
      this.#refreshForeign(serverId, client, queue);
      const running = new Set(queue.running.map((item) => item.promptId));
      const pending = new Map(queue.pending.map((item) => [item.promptId, item]));
      for (const entry of [...this.#entries.values()]) {
        const { job } = entry;
        if (
          job.serverId !== serverId ||
          !job.promptId ||
          isFinished(job.status) ||
          entry.isSubmitting ||
          entry.isFinalizing
        )
          continue;
        if (entry.sentAt !== undefined && entry.sentAt >= askedAt) continue;
        if (running.has(job.promptId)) {
          state.runningPromptId = job.promptId;
          if (job.status !== 'running') this.#markRunning(entry);
        } else if (pending.has(job.promptId)) {
          entry.number = pending.get(job.promptId)!.number;
          if (job.status === 'held')
            this.#setStatus(entry, { status: 'queued', queuedAt: job.queuedAt ?? this.#now() });
        } else {
          const entryInHistory = await client.getHistory(job.promptId).catch(() => undefined);
          if (entryInHistory) await this.#finalize(serverId, entry, entryInHistory);
          else if (job.status !== 'held') this.#markLost(entry);
        }
      }
    } catch (error) {
      this.#deps.log.debug('reconcile failed', { serverId, error });
    } finally {
      state.isReconciling = false;
      if (state.isReconcileDue) void this.#reconcile(serverId);
    }
  }

  // ---- releasing held jobs ----

  /** Sends held jobs to a server while it has room (one at a time by default). Serialised per server. */
  #pump(serverId: string): Promise<void> {
    const previous = this.#pumping.get(serverId) ?? Promise.resolve();
    const next = previous
      .then(() => this.#release(serverId))
      .catch((error: unknown) => this.#deps.log.error('release failed', { serverId, error }));
    this.#pumping.set(serverId, next);
    return next;
  }

  async #release(serverId: string): Promise<void> {
    while (this.#started && !this.#paused) {
      const client = this.#client(serverId);
      if (!client) return;
      const mine = [...this.#entries.values()].filter((entry) => entry.job.serverId === serverId);
      const inFlight = mine.filter(
        (entry) => entry.isSubmitting || entry.job.status === 'queued' || entry.job.status === 'running',
      ).length;
      if (inFlight >= this.#deps.limits().maxInFlightPerServer) return;
      const next = mine
        .filter((entry) => entry.job.status === 'held' && !entry.isSubmitting)
        .sort((a, b) => a.job.position - b.job.position)[0];
      if (!next) return;
      const sent = await this.#submit(client, next);
      if (!sent) return;
    }
  }

  /** Uploads a job's files and queues its prompt. Returns false when the server could not be reached (the job stays held). */
  async #submit(client: ComfyClient, entry: Entry): Promise<boolean> {
    entry.isSubmitting = true;
    const promptId = entry.job.promptId ?? randomUUID();
    try {
      for (const upload of entry.uploads) {
        const file = this.#deps.staged.read(upload.stagedId);
        const result = await client.uploadImage({ data: file.data, filename: file.name });
        const name = result.subfolder ? `${result.subfolder}/${result.name}` : result.name;
        entry.prompt = withInputs(entry.prompt, upload.targets, name);
      }
      entry.uploads = [];
      // Remember the id before sending: if the answer is lost, reconciliation finds the prompt by it.
      entry.job = { ...entry.job, promptId };
      entry.sentAt = this.#now();
      const queued = await client.queuePrompt({
        prompt: entry.prompt,
        promptId,
        extraData: { extra_pnginfo: { workflow: entry.sourceWorkflow } },
      });
      entry.number = queued.number;
      entry.outputClassTypes ??= await this.#outputClassTypes(client);
      entry.tracker = new ProgressTracker({
        prompt: entry.prompt,
        isOutputNode: (classType) => entry.outputClassTypes?.has(classType) ?? false,
        titles: entry.titles,
        pastDurationsMs: entry.job.workflowId
          ? this.#deps.history.durations(entry.job.workflowId, entry.job.serverId)
          : [],
        now: () => this.#now(),
      });
      if (Object.keys(queued.nodeErrors).length > 0) {
        this.#deps.notices?.raise(
          'warning',
          `${entry.job.workflowName}: some outputs were left out because ComfyUI rejected them — ${describeNodeErrors(queued.nodeErrors, entry.titles)}`,
        );
      }
      if (entry.job.status === 'held') this.#setStatus(entry, { status: 'queued', queuedAt: this.#now() });
      if (entry.isCancelRequested) {
        await client.deleteFromQueue([promptId]).catch(() => undefined);
        await client.interrupt(promptId).catch(() => undefined);
        this.#finish(entry, { status: 'cancelled' });
      }
      return true;
    } catch (error) {
      if (isAppError(error) && error.code === 'comfy_invalid_prompt') {
        this.#finish(entry, { status: 'failed', error: rejectionError(error, entry.titles) });
        return true;
      }
      if (
        isAppError(error) &&
        ['comfy_unreachable', 'comfy_timeout', 'comfy_offline', 'tunnel_dropped', 'comfy_http_error'].includes(
          error.code,
        )
      ) {
        this.#deps.log.warn('server unreachable while sending a job; it stays held', { jobId: entry.job.id, error });
        return false;
      }
      this.#finish(entry, {
        status: 'failed',
        error: {
          message: isAppError(error) ? error.userMessage : 'The job could not be sent to ComfyUI; the log has details.',
        },
      });
      if (!isAppError(error)) this.#deps.log.error('submit failed', { jobId: entry.job.id, error });
      return true;
    } finally {
      entry.isSubmitting = false;
    }
  }

  async #outputClassTypes(client: ComfyClient): Promise<Set<string>> {
    try {
      const { objectInfo } = await client.getObjectInfo();
      return outputNodeTypes(objectInfo);
    } catch {
      return new Set();
    }
  }

  // ---- socket events ----

  #byPrompt(serverId: string, promptId: string | null | undefined): Entry | undefined {
    if (!promptId) return undefined;
    for (const entry of this.#entries.values())
      if (entry.job.serverId === serverId && entry.job.promptId === promptId) return entry;
    return undefined;
  }

  /** For events without a prompt id (legacy previews, reconnect replays): our job running there now. */
  #runningOn(serverId: string): Entry | undefined {
    const promptId = this.#servers.get(serverId)?.runningPromptId;
    return (
      this.#byPrompt(serverId, promptId) ??
      [...this.#entries.values()].find((entry) => entry.job.serverId === serverId && entry.job.status === 'running')
    );
  }

  #onEvent(serverId: string, event: ComfyEvent): void {
    const state = this.#servers.get(serverId);
    switch (event.type) {
      case 'status':
        this.#scheduleQueueRefresh(serverId);
        return;
      case 'execution_start': {
        if (state) state.runningPromptId = event.data.prompt_id;
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (entry) this.#markRunning(entry);
        this.#scheduleQueueRefresh(serverId);
        return;
      }
      case 'execution_cached': {
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (!entry) return;
        entry.tracker?.cached(event.data.nodes);
        this.#emitProgress(entry);
        return;
      }
      case 'executing': {
        const entry = event.data.prompt_id ? this.#byPrompt(serverId, event.data.prompt_id) : this.#runningOn(serverId);
        if (!entry) return;
        if (event.data.node === null) {
          if (event.data.prompt_id) void this.#finalize(serverId, entry);
          return;
        }
        if (entry.job.status !== 'running') this.#markRunning(entry);
        entry.tracker?.executing(event.data.node);
        this.#emitProgress(entry);
        return;
      }
      case 'progress': {
        const entry = this.#byPrompt(serverId, event.data.prompt_id) ?? this.#runningOn(serverId);
        if (!entry) return;
        if (entry.job.status !== 'running') this.#markRunning(entry);
        entry.tracker?.progress(event.data.node ?? null, event.data.value, event.data.max);
        this.#emitProgress(entry);
        return;
      }
      case 'executed': {
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (!entry) return;
        entry.tracker?.executed(event.data.node);
        entry.liveOutputs.push(...collectOutputs({ [event.data.node]: event.data.output }));
        this.#emitProgress(entry);
        return;
      }
      case 'execution_success': {
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (entry) entry.outcome = { status: 'succeeded' };
        return;
      }
      case 'execution_error': {
        // An "ExecutionBlocked" message without a timestamp is not the end of the prompt.
        if (event.data.exception_type === 'ExecutionBlocked' && event.data.timestamp === undefined) return;
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (entry) entry.outcome = { status: 'failed', error: executionError(event.data, entry.titles) };
        return;
      }
      case 'execution_interrupted': {
        const entry = this.#byPrompt(serverId, event.data.prompt_id);
        if (entry)
          entry.outcome = {
            status: 'cancelled',
            ...(entry.isCancelRequested
              ? {}
              : {
                  error: {
                    message: 'The run was interrupted on the server (by another client or ComfyUI itself).',
                    nodeId: event.data.node_id,
                    nodeTitle: entry.titles[event.data.node_id],
                  },
                }),
          };
        return;
      }
      case 'preview': {
        const entry = this.#byPrompt(serverId, event.data.metadata?.prompt_id) ?? this.#runningOn(serverId);
        if (!entry?.job.promptId) return;
        const perSecond = this.#deps.limits().previewsPerSecond;
        const now = this.#now();
        if (perSecond <= 0 || now - entry.lastPreviewAt < 1000 / perSecond) return;
        entry.lastPreviewAt = now;
        this.#emitter.emit('preview', {
          jobId: entry.job.id,
          promptId: entry.job.promptId,
          mime: event.data.mime,
          dataUrl: `data:${event.data.mime};base64,${event.data.bytes.toString('base64')}`,
          nodeId: event.data.metadata?.node_id ?? entry.tracker?.snapshot().nodeId ?? null,
        });
        return;
      }
      default:
        return;
    }
  }

  #scheduleQueueRefresh(serverId: string): void {
    const state = this.#servers.get(serverId);
    if (!state || state.queueRefreshTimer) return;
    // `status` often comes twice in a row; one /queue read covers both. It also notices our pending
    // jobs that another client removed from the server's queue.
    state.queueRefreshTimer = setTimeout(() => {
      state.queueRefreshTimer = undefined;
      void this.#reconcile(serverId);
    }, 150);
    state.queueRefreshTimer.unref();
  }

  // ---- state changes ----

  #markRunning(entry: Entry): void {
    if (isFinished(entry.job.status) || entry.job.status === 'running') return;
    entry.tracker?.started();
    const now = this.#now();
    this.#setStatus(entry, {
      status: 'running',
      queuedAt: entry.job.queuedAt ?? now,
      startedAt: entry.job.startedAt ?? now,
      progress: entry.tracker?.snapshot() ?? null,
    });
    if (entry.job.promptId) this.#emitter.emit('started', { jobId: entry.job.id, promptId: entry.job.promptId });
  }

  #emitProgress(entry: Entry): void {
    const promptId = entry.job.promptId;
    if (!entry.tracker || !promptId || isFinished(entry.job.status)) return;
    const progress = entry.tracker.snapshot();
    entry.job = { ...entry.job, progress };
    this.#emitter.emit('progress', { jobId: entry.job.id, promptId, progress });
  }

  #markLost(entry: Entry): void {
    if (entry.isCancelRequested) {
      this.#finish(entry, { status: 'cancelled' });
      return;
    }
    const label = this.#deps.servers.label(entry.job.serverId);
    this.#finish(entry, {
      status: 'lost',
      error: {
        message: `${label} no longer knows this job — it may have restarted, or someone cleared its queue. Your settings are kept: press Retry to run it again.`,
      },
    });
  }

  /** Reads the finished prompt's history, saves its outputs and ends the job. */
  async #finalize(serverId: string, entry: Entry, known?: HistoryEntry): Promise<void> {
    if (entry.isFinalizing || isFinished(entry.job.status)) return;
    entry.isFinalizing = true;
    const state = this.#servers.get(serverId);
    if (state?.runningPromptId === entry.job.promptId) state.runningPromptId = undefined;
    try {
      const client = this.#client(serverId);
      const history =
        known ?? (client && entry.job.promptId ? await this.#waitForHistory(client, entry.job.promptId) : undefined);
      const fromHistory = history ? outcomeOf(history, entry.titles) : undefined;
      const outcome = fromHistory ?? entry.outcome;
      if (!outcome) {
        this.#markLost(entry);
        return;
      }
      if (outcome.status === 'cancelled' && entry.isCancelRequested) delete outcome.error;
      const listed = history ? collectOutputs(history.outputs) : entry.liveOutputs;
      let outputs = listed;
      if (client && listed.length > 0) {
        const saved = await saveOutputs({
          client,
          outputs: listed,
          outputsDir: this.#deps.outputsDir(),
          workflowName: entry.job.workflowName,
          now: new Date(this.#now()),
        });
        outputs = saved.outputs;
        if (saved.failure !== undefined) {
          const reason = isAppError(saved.failure) ? saved.failure.userMessage : 'a download failed';
          this.#deps.notices?.raise(
            'warning',
            `${entry.job.workflowName}: not every output could be saved (${reason}). They stay on the server until it restarts.`,
          );
          this.#deps.log.warn('saving outputs failed', { jobId: entry.job.id, error: saved.failure });
        }
      }
      entry.tracker?.finish();
      this.#finish(entry, {
        status: outcome.status,
        error: outcome.error,
        outputs,
        progress: outcome.status === 'succeeded' ? (entry.tracker?.snapshot() ?? null) : entry.job.progress,
        isCached:
          outcome.status === 'succeeded' &&
          history !== undefined &&
          isFullyCached(history, entry.prompt, entry.outputClassTypes),
      });
    } finally {
      entry.isFinalizing = false;
      void this.#pump(serverId); // the next held job may go now; errors are handled inside pump
    }
  }

  /** ComfyUI writes history just before `executing null`; allow a moment if it is not there yet. */
  async #waitForHistory(client: ComfyClient, promptId: string): Promise<HistoryEntry | undefined> {
    const deadline = this.#now() + (this.#deps.historyWaitMs ?? 5000);
    for (;;) {
      const entry = await client.getHistory(promptId).catch(() => undefined);
      if (entry) return entry;
      if (this.#now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  #finish(
    entry: Entry,
    change: {
      status: 'succeeded' | 'failed' | 'cancelled' | 'lost';
      error?: JobError;
      outputs?: OutputFile[];
      progress?: JobProgress | null;
      isCached?: boolean;
    },
  ): void {
    this.#setStatus(entry, {
      status: change.status,
      finishedAt: this.#now(),
      error: change.error ?? null,
      ...(change.isCached ? { isCached: true } : {}),
      ...(change.outputs ? { outputs: change.outputs } : {}),
      ...(change.progress !== undefined ? { progress: change.progress } : {}),
    });
    const { job } = entry;
    if (job.status === 'succeeded' && job.promptId)
      this.#emitter.emit('complete', { jobId: job.id, promptId: job.promptId, outputs: job.outputs });
    if ((job.status === 'failed' || job.status === 'lost') && job.error)
      this.#emitter.emit('error', { jobId: job.id, promptId: job.promptId, error: job.error });
    if (job.status === 'cancelled')
      this.#emitter.emit('error', {
        jobId: job.id,
        promptId: job.promptId,
        error: job.error ?? { message: 'Cancelled.' },
      });
  }

  #setStatus(entry: Entry, change: Partial<Job>): void {
    entry.job = { ...entry.job, ...change };
    this.#persist(entry);
    this.#emitter.emit('updated', entry.job);
    this.#emitCounts();
  }

  #persist(entry: Entry): void {
    try {
      this.#deps.history.save({
        job: { ...entry.job, progress: null },
        apiPrompt: entry.prompt,
        sourceWorkflow: entry.sourceWorkflow,
      });
    } catch (error) {
      // The job goes on; only its record is at risk. Say so once per job.
      this.#deps.log.error('could not save job to history', { jobId: entry.job.id, error });
      if (isAppError(error) && error.code === 'disk_full') this.#deps.notices?.raise('error', error.userMessage);
    }
  }

  #emitCounts(force = false): void {
    const jobs = this.snapshot().jobs;
    const counts: QueueCounts = {
      running: jobs.filter((job) => job.status === 'running').length,
      pending: jobs.filter((job) => job.status === 'held' || job.status === 'queued').length,
      paused: this.#paused,
    };
    const key = JSON.stringify(counts);
    if (!force && key === this.#lastCounts) return;
    this.#lastCounts = key;
    this.#emitter.emit('queue', counts);
  }

  // ---- other clients' jobs ----

  #refreshForeign(serverId: string, client: ComfyClient, queue: QueueSnapshot): void {
    const ours = new Set(
      [...this.#entries.values()].filter((entry) => entry.job.serverId === serverId).map((entry) => entry.job.promptId),
    );
    const previous = this.#foreign.get(serverId) ?? new Map<string, Job>();
    const next = new Map<string, Job>();
    const now = this.#now();
    const items: Array<{ item: QueueItem; status: 'running' | 'queued' }> = [
      ...queue.running.map((item) => ({ item, status: 'running' as const })),
      ...queue.pending.map((item) => ({ item, status: 'queued' as const })),
    ];
    for (const { item, status } of items) {
      if (ours.has(item.promptId) || item.clientId === client.clientId) continue;
      const id = `${FOREIGN_PREFIX}${serverId}:${item.promptId}`;
      const before = previous.get(id);
      const job: Job = {
        id,
        promptId: item.promptId,
        origin: 'foreign',
        serverId,
        workflowId: null,
        workflowName: "Another client's job",
        status,
        parameters: {},
        promptText: foreignPromptText(item.prompt),
        createdAt:
          before?.createdAt ?? (typeof item.extraData.create_time === 'number' ? item.extraData.create_time : now),
        queuedAt: before?.queuedAt ?? now,
        startedAt: status === 'running' ? (before?.startedAt ?? now) : null,
        finishedAt: null,
        progress: null,
        error: null,
        outputs: [],
        position: item.number,
        batch: null,
      };
      next.set(id, job);
      if (!before || before.status !== job.status) this.#emitter.emit('updated', job);
    }
    for (const id of previous.keys()) if (!next.has(id)) this.#emitter.emit('removed', { jobId: id });
    this.#foreign.set(serverId, next);
    this.#emitCounts();
  }

  #clearForeign(serverId: string): void {
    const previous = this.#foreign.get(serverId);
    if (!previous) return;
    for (const id of previous.keys()) this.#emitter.emit('removed', { jobId: id });
    this.#foreign.delete(serverId);
    this.#emitCounts();
  }

  #findForeign(jobId: string): Job | undefined {
    if (!jobId.startsWith(FOREIGN_PREFIX)) return undefined;
    for (const map of this.#foreign.values()) {
      const job = map.get(jobId);
      if (job) return job;
    }
    return undefined;
  }

  async #cancelOnServer(serverId: string, promptId: string, isRunning: boolean): Promise<void> {
    const client = this.#client(serverId);
    if (!client)
      throw new AppError(
        'comfy_offline',
        `${this.#deps.servers.label(serverId)} is not connected, so the job cannot be cancelled right now.`,
      );
    if (isRunning) await client.interrupt(promptId);
    else await client.deleteFromQueue([promptId]);
    this.#scheduleQueueRefresh(serverId);
  }

  // ---- helpers ----

  #nextPosition(): number {
    let max = -1;
    for (const entry of this.#entries.values())
      if (entry.job.status === 'held') max = Math.max(max, entry.job.position);
    return max + 1;
  }

  #notFound(jobId: string): AppError {
    return new AppError('job_not_found', 'That job is not known (it may have been deleted).', { details: { jobId } });
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now();
  }
}

/** Writes a literal into the given inputs of a copy of the prompt. */
function withInputs(
  prompt: ApiPrompt,
  targets: Array<{ nodeId: string; inputName: string }>,
  value: unknown,
): ApiPrompt {
  const copy: ApiPrompt = { ...prompt };
  for (const { nodeId, inputName } of targets) {
    const node = copy[nodeId];
    if (node) copy[nodeId] = { ...node, inputs: { ...node.inputs, [inputName]: value } };
  }
  return copy;
}

function titlesOf(prompt: ApiPrompt): Record<string, string> {
  return Object.fromEntries(Object.entries(prompt).map(([id, node]) => [id, node._meta?.title ?? node.class_type]));
}

/** The text of a foreign job's first prompt encoder, so the queue can show what it makes. */
function foreignPromptText(prompt: Record<string, unknown>): string {
  for (const node of Object.values(prompt)) {
    const inputs = (node as { inputs?: Record<string, unknown> } | undefined)?.inputs;
    for (const key of ['text', 'prompt', 'positive', 'text_g']) {
      const value = inputs?.[key];
      if (typeof value === 'string' && value.trim()) return value.slice(0, 300);
    }
  }
  return '';
}

function describeNodeErrors(nodeErrors: NodeErrors, titles: Record<string, string>): string {
  return Object.entries(nodeErrors)
    .flatMap(([nodeId, node]) =>
      node.errors.map(
        (item) => `${titles[nodeId] ?? node.class_type}: ${item.message}${item.details ? ` (${item.details})` : ''}`,
      ),
    )
    .slice(0, 5)
    .join('; ');
}

/** A rejected prompt as a job error, with each node's messages under its title. */
function rejectionError(error: AppError, titles: Record<string, string>): JobError {
  const details = error.details as { error?: { type?: string; message?: string }; nodeErrors?: NodeErrors } | undefined;
  const nodeErrors = Object.entries(details?.nodeErrors ?? {}).map(([nodeId, node]) => ({
    nodeId,
    nodeTitle: titles[nodeId] ?? node.class_type,
    messages: node.errors.map((item) => `${item.message}${item.details ? ` — ${item.details}` : ''}`),
  }));
  const first = nodeErrors[0];
  const message = first
    ? `${first.nodeTitle}: ${first.messages.join('; ')}${nodeErrors.length > 1 ? ` (and ${nodeErrors.length - 1} more node${nodeErrors.length > 2 ? 's' : ''})` : ''}`
    : (details?.error?.message ?? error.userMessage);
  return {
    message: `ComfyUI refused the prompt — ${message}`,
    ...(details?.error?.type ? { type: details.error.type } : {}),
    ...(first ? { nodeId: first.nodeId, nodeTitle: first.nodeTitle } : {}),
    ...(nodeErrors.length > 0 ? { nodeErrors } : {}),
  };
}

/** A run-time failure in ComfyUI's own words, under the failing node's title. */
function executionError(
  data: { node_id: string; node_type: string; exception_message: string; exception_type: string },
  titles: Record<string, string>,
): JobError {
  return {
    message: data.exception_message.trim() || data.exception_type,
    type: data.exception_type,
    nodeId: data.node_id,
    nodeTitle: titles[data.node_id] ?? data.node_type,
  };
}

/**
 * Whether ComfyUI answered a prompt from its cache: its history lists every output node of the
 * prompt under `execution_cached` (a cached output node means nothing it depends on ran either).
 * Without the server's output node types, every node of the prompt must be listed.
 */
export function isFullyCached(
  history: HistoryEntry,
  prompt: ApiPrompt,
  outputClassTypes: ReadonlySet<string> | undefined,
): boolean {
  const cached = new Set<string>();
  for (const message of history.status?.messages ?? []) {
    if (message[0] !== 'execution_cached') continue;
    const nodes = (message[1] as { nodes?: unknown }).nodes;
    if (Array.isArray(nodes)) for (const id of nodes) if (typeof id === 'string') cached.add(id);
  }
  if (cached.size === 0) return false;
  const ids = Object.keys(prompt);
  const outputs =
    outputClassTypes && outputClassTypes.size > 0
      ? ids.filter((id) => outputClassTypes.has(prompt[id]!.class_type))
      : ids;
  return outputs.length > 0 && outputs.every((id) => cached.has(id));
}

/** How a prompt ended, from its history entry (protocol doc §4.3–4.4). */
function outcomeOf(history: HistoryEntry, titles: Record<string, string>): Entry['outcome'] {
  const status = history.status;
  if (!status) return undefined;
  if (status.status_str === 'success' && status.completed) return { status: 'succeeded' };
  const last = [...status.messages]
    .reverse()
    .find((message) => message[0] === 'execution_error' || message[0] === 'execution_interrupted');
  if (last?.[0] === 'execution_interrupted') {
    const data = last[1] as { node_id?: string };
    return {
      status: 'cancelled',
      error: {
        message: 'The run was interrupted on the server.',
        ...(data.node_id ? { nodeId: data.node_id, nodeTitle: titles[data.node_id] } : {}),
      },
    };
  }
  if (last?.[0] === 'execution_error') {
    const data = last[1] as { node_id: string; node_type: string; exception_message: string; exception_type: string };
    return { status: 'failed', error: executionError(data, titles) };
  }
  return status.status_str === 'success'
    ? { status: 'succeeded' }
    : { status: 'failed', error: { message: 'ComfyUI reported an error without details.' } };
}
