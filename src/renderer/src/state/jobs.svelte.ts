import { isFinished, type Job, type JobProgress, type JobsSnapshot, type QueueCounts } from '@shared/domain/job';
import type { ApiClient } from '../api';
import type { Toasts } from './toasts.svelte';

/**
 * Runs `flush` once soon and returns a cancel function. The default runs it on the next animation
 * frame, with a timer as a fallback because hidden tabs get no frames (and the title and
 * notifications must still follow a job there).
 */
export type FlushScheduler = (flush: () => void) => () => void;

/** Fallback delay while the page is hidden and animation frames stop, ms. */
const HIDDEN_FLUSH_MS = 250;

/** The next animation frame, or a short timer when frames do not come (hidden tab, no DOM). */
export const nextFrame: FlushScheduler = (flush) => {
  let isDone = false;
  const once = () => {
    if (isDone) return;
    isDone = true;
    cancel();
    flush();
  };
  const frame = typeof requestAnimationFrame === 'function' ? requestAnimationFrame(once) : undefined;
  const timer = setTimeout(once, HIDDEN_FLUSH_MS);
  const cancel = () => {
    if (frame !== undefined) cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
  return () => {
    isDone = true;
    cancel();
  };
};

/** A job whose status changed, with the status it had before (undefined when it was new to this window). */
export interface JobTransition {
  job: Job;
  previous: Job['status'] | undefined;
}

export interface JobsStateOptions {
  /** How event bursts are coalesced into one update. @default nextFrame */
  schedule?: FlushScheduler;
}

/** One job's live progress: a reactive cell of its own, so a change re-renders only what reads that job. */
class ProgressCell {
  value = $state.raw<JobProgress | null>(null);

  constructor(value: JobProgress | null) {
    this.value = value;
  }
}

const STATUS_RANK: Partial<Record<Job['status'], number>> = { running: 0, queued: 1, held: 2 };

/**
 * The live queue as the window sees it: every unfinished job (ours and other clients') from
 * `jobs.list`, kept current by `jobs.updated` / `jobs.removed`, with the live progress of each job
 * from `generation.progress` and the latest `generation.preview` frame per job. Events are
 * coalesced and applied at most once per animation frame.
 *
 * Progress is kept apart from the jobs (`progressOf`): a farm runs a job on each of 16 servers
 * beside 2,000 waiting, and hundreds of progress events a second must not copy, sort and hand out
 * the whole queue again each frame. A frame with only progress touches only the rows of the jobs
 * that moved; the queue, its order and every other row stay exactly as they were.
 */
export class JobsState {
  /** Jobs as their last `jobs.updated` (or the list) said; their live progress is in `#progress`. */
  #jobs = $state.raw<ReadonlyMap<string, Job>>(new Map());
  /**
   * Live progress of the jobs that have had progress events, by job id. The first event of a job
   * goes into the job itself and makes its cell (a reader that found no cell is told through
   * `#jobs`); later ones change only the cell. A whole job update sets the cell to its progress.
   */
  readonly #progress = new Map<string, ProgressCell>();
  #previews = $state.raw<ReadonlyMap<string, string>>(new Map());
  #paused = $state(false);
  #counts = $state.raw<QueueCounts | undefined>(undefined);
  #lastFinished = $state.raw<Job | undefined>(undefined);
  #isLoaded = $state(false);
  /** First-seen order, the tie-break that keeps rows from jumping around. */
  readonly #seen = new Map<string, number>();
  #seq = 0;
  /** Ids whose end this window has already reported, so a late update does not report it twice. */
  readonly #reported = new Set<string>();
  readonly #pendingJobs = new Map<string, Job | null>();
  readonly #pendingProgress = new Map<string, JobProgress>();
  readonly #pendingPreviews = new Map<string, string>();
  #pendingCounts: QueueCounts | undefined;
  #cancelFlush: (() => void) | undefined;
  readonly #transitionListeners = new Set<(transitions: JobTransition[]) => void>();
  readonly #api: ApiClient;
  readonly #toasts: Toasts;
  readonly #schedule: FlushScheduler;

  readonly #queue = $derived.by(() =>
    sortQueue(
      [...this.#jobs.values()].filter((job) => !isFinished(job.status)),
      this.#seen,
    ),
  );
  /** Ours held; the same array while it holds the same jobs, so rows that read it stay still. */
  readonly #keepHeld = steadyList();
  readonly #held = $derived(
    this.#keepHeld(this.#queue.filter((job) => job.status === 'held' && job.origin === 'comfydesk')),
  );
  readonly #current = $derived.by(() => {
    const own = this.#queue.filter((job) => job.origin === 'comfydesk');
    return this.#live(own.find((job) => job.status === 'running') ?? this.#lastFinished ?? own[0]);
  });
  /** Ours running now (one per server in a farm), without their progress: that is read per job. */
  readonly #keepOursRunning = steadyList();
  readonly #oursRunning = $derived(
    this.#keepOursRunning(this.#queue.filter((job) => job.status === 'running' && job.origin === 'comfydesk')),
  );
  readonly #allRunning = $derived(this.#oursRunning.map((job) => this.#live(job)!));

  constructor(api: ApiClient, toasts: Toasts, options: JobsStateOptions = {}) {
    this.#api = api;
    this.#toasts = toasts;
    this.#schedule = options.schedule ?? nextFrame;
  }

  get isLoaded(): boolean {
    return this.#isLoaded;
  }

  /**
   * Unfinished jobs by id, as their last update said. A running job's `progress` here is the one it
   * had then: `progressOf` has the live figure.
   */
  get jobs(): ReadonlyMap<string, Job> {
    return this.#jobs;
  }

  /** A job's progress as it is now (events included), or null before any. */
  progressOf(jobId: string): JobProgress | null {
    const cell = this.#progress.get(jobId);
    return cell ? cell.value : (this.#jobs.get(jobId)?.progress ?? null);
  }

  /**
   * Every unfinished job in the order it will run: running, then queued on a server, then held by
   * ComfyDesk. The same array until a job comes, goes or changes (progress alone does not change it).
   */
  get queue(): Job[] {
    return this.#queue;
  }

  /** ComfyDesk's own held jobs, in the order they will be released (what Move up/down reorders). */
  get held(): Job[] {
    return this.#held;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Running and pending counts (the core's `jobs.queue`, or counted from the list until it speaks). */
  get counts(): QueueCounts {
    if (this.#counts) return this.#counts;
    const running = this.#queue.filter((job) => job.status === 'running').length;
    return { running, pending: this.#queue.length - running, paused: this.#paused };
  }

  /** What the sidebar badge shows: jobs running or waiting. */
  get badgeCount(): number {
    const counts = this.counts;
    return counts.running + counts.pending;
  }

  /**
   * The job the Current view shows, with its live progress: ours that is running; else the last of
   * ours that finished in this session (so its result stays in view); else ours that runs next.
   */
  get current(): Job | undefined {
    return this.#current;
  }

  /** Our job running now, if any, with its live progress (for the mini status, the title and the favicon). */
  get running(): Job | undefined {
    const current = this.#current;
    return current?.status === 'running' ? current : undefined;
  }

  /** Every job of ours running now (one per server in a farm), with its live progress. */
  get allRunning(): Job[] {
    return this.#allRunning;
  }

  /** The latest live preview of a job, as a data: URL. */
  previewOf(jobId: string): string | undefined {
    return this.#previews.get(jobId);
  }

  /** Where a held job stands among the held ones (0 = next), or -1. */
  heldIndex(jobId: string): number {
    return this.held.findIndex((job) => job.id === jobId);
  }

  /** Told, once per flush, about jobs whose status changed (not about the snapshot fetched at start). */
  onTransitions(listener: (transitions: JobTransition[]) => void): () => void {
    this.#transitionListeners.add(listener);
    return () => this.#transitionListeners.delete(listener);
  }

  connect(): () => void {
    const offs = [
      this.#api.on('jobs.updated', (job) => {
        this.#pendingJobs.set(job.id, job);
        // The job's own progress is newer than any frame that came before it.
        this.#pendingProgress.delete(job.id);
        this.#request();
      }),
      this.#api.on('jobs.removed', ({ jobId }) => {
        this.#pendingJobs.set(jobId, null);
        this.#pendingProgress.delete(jobId);
        this.#request();
      }),
      this.#api.on('generation.progress', ({ jobId, progress }) => {
        const pending = this.#pendingJobs.get(jobId);
        if (pending) this.#pendingJobs.set(jobId, { ...pending, progress });
        else this.#pendingProgress.set(jobId, progress);
        this.#request();
      }),
      this.#api.on('generation.preview', (frame) => {
        this.#pendingPreviews.set(frame.jobId, frame.dataUrl);
        this.#request();
      }),
      this.#api.on('jobs.queue', (counts) => {
        this.#pendingCounts = counts;
        this.#request();
      }),
      this.#api.onLink((state) => {
        if (state === 'open') void this.refresh(); // errors become a toast inside refresh
      }),
    ];
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      for (const off of offs) off();
      this.#cancelFlush?.();
      this.#cancelFlush = undefined;
    };
  }

  /** Fetches the whole live queue again (at start and after a reconnect, when events may have been missed). */
  async refresh(): Promise<void> {
    try {
      this.#applySnapshot(await this.#api.call('jobs.list', {}));
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** Applies every event received so far now, instead of on the next frame. */
  flush(): void {
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    if (this.#pendingJobs.size + this.#pendingProgress.size + this.#pendingPreviews.size === 0 && !this.#pendingCounts)
      return;
    // Only whole jobs (or a job's first progress) make a new map of jobs; other progress goes to its cell.
    const isWhole =
      this.#pendingJobs.size > 0 || [...this.#pendingProgress.keys()].some((id) => !this.#progress.has(id));
    const transitions = isWhole ? this.#applyJobs() : this.#applyProgress();
    if (this.#pendingPreviews.size > 0 || this.#pendingJobs.size > 0)
      this.#previews = this.#keptPreviews(this.#jobs, this.#lastFinished);
    if (this.#pendingCounts) {
      this.#counts = this.#pendingCounts;
      this.#paused = this.#pendingCounts.paused;
    }
    this.#pendingJobs.clear();
    this.#pendingProgress.clear();
    this.#pendingPreviews.clear();
    this.#pendingCounts = undefined;
    if (transitions.length > 0) for (const listener of this.#transitionListeners) listener(transitions);
  }

  /** Cancels a job: interrupts it when running, removes it from the server's queue, or drops it when held. */
  async cancel(jobId: string): Promise<boolean> {
    return this.#toasts.attempt(() => this.#api.call('jobs.cancel', { jobId }));
  }

  /** Queues a finished, failed or lost job again with the same values; answers the new job ids. */
  async retry(jobId: string): Promise<string[] | undefined> {
    try {
      const { jobIds } = await this.#api.call('jobs.retry', { jobId });
      return jobIds;
    } catch (error) {
      this.#toasts.error(error);
      return undefined;
    }
  }

  /** Moves a held job of ours to `toIndex` among the held ones (0 = next to be sent). */
  async move(jobId: string, toIndex: number): Promise<boolean> {
    return this.#toasts.attempt(() => this.#api.call('jobs.move', { jobId, toIndex: Math.max(0, toIndex) }));
  }

  /** Pauses or resumes releasing held jobs; a job already running still finishes. */
  async setPaused(paused: boolean): Promise<boolean> {
    return this.#toasts.attempt(async () => {
      const result = await this.#api.call('jobs.setPaused', { paused });
      this.#paused = result.paused;
      if (this.#counts) this.#counts = { ...this.#counts, paused: result.paused };
    });
  }

  /** Progress alone: each job's own cell changes, and nothing else (the queue stays the same array). */
  #applyProgress(): JobTransition[] {
    for (const [id, progress] of this.#pendingProgress) {
      const cell = this.#progress.get(id);
      const job = this.#jobs.get(id);
      if (cell && job && !isFinished(job.status)) cell.value = progress;
    }
    return [];
  }

  /** Whole jobs came (or a job's first progress): a new map of jobs, and the cells set to match it. */
  #applyJobs(): JobTransition[] {
    const jobs = new Map(this.#jobs);
    const transitions: JobTransition[] = [];
    let lastFinished = this.#lastFinished;
    for (const [id, job] of this.#pendingJobs) {
      if (job === null) {
        jobs.delete(id);
        // Deleted from history: the Current view lets go of it too.
        if (lastFinished?.id === id) lastFinished = undefined;
        continue;
      }
      const before = jobs.get(id);
      this.#see(id);
      if (!isFinished(job.status)) {
        // A new job of ours means the user asked for more: show it rather than the last result.
        if (!before && job.origin === 'comfydesk' && lastFinished) lastFinished = undefined;
        jobs.set(id, job);
        if (before?.status !== job.status) transitions.push({ job, previous: before?.status });
        continue;
      }
      // Finished jobs leave the live queue; history keeps them. Ours stays in view as the last result.
      jobs.delete(id);
      if (job.origin === 'comfydesk' && (before || lastFinished?.id === id || !this.#reported.has(id)))
        lastFinished = job;
      if (!this.#reported.has(id)) {
        this.#reported.add(id);
        transitions.push({ job, previous: before?.status });
      }
    }
    // A whole job carries its progress as of then; a job that left takes its cell with it.
    for (const id of this.#pendingJobs.keys()) {
      const cell = this.#progress.get(id);
      const job = jobs.get(id);
      if (!cell) continue;
      if (job) cell.value = job.progress;
      else this.#progress.delete(id);
    }
    for (const [id, progress] of this.#pendingProgress) {
      const job = jobs.get(id);
      if (!job || isFinished(job.status)) continue;
      const cell = this.#progress.get(id);
      if (cell) cell.value = progress;
      else {
        // Its first progress: readers that found no cell read the job itself, so it goes there too.
        jobs.set(id, { ...job, progress });
        this.#progress.set(id, new ProgressCell(progress));
      }
    }
    this.#jobs = jobs;
    if (lastFinished !== this.#lastFinished) this.#lastFinished = lastFinished;
    return transitions;
  }

  #applySnapshot(snapshot: JobsSnapshot): void {
    // The snapshot already contains whatever the events received before it said.
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    this.#pendingJobs.clear();
    this.#pendingProgress.clear();
    this.#pendingCounts = undefined;
    const jobs = new Map<string, Job>();
    for (const job of snapshot.jobs) {
      this.#see(job.id);
      jobs.set(job.id, job);
    }
    this.#jobs = jobs;
    // Readers of a cell are told through it, not through `#jobs`.
    for (const [id, cell] of this.#progress) {
      const job = jobs.get(id);
      if (job) cell.value = job.progress;
      else this.#progress.delete(id);
    }
    this.#paused = snapshot.paused;
    this.#counts = undefined;
    this.#previews = this.#keptPreviews(jobs, this.#lastFinished);
    if (this.#pendingPreviews.size > 0) this.#request();
    this.#isLoaded = true;
  }

  #keptPreviews(jobs: ReadonlyMap<string, Job>, lastFinished: Job | undefined): ReadonlyMap<string, string> {
    const previews = new Map<string, string>();
    for (const [id, url] of this.#previews) if (jobs.has(id) || lastFinished?.id === id) previews.set(id, url);
    for (const [id, url] of this.#pendingPreviews) if (jobs.has(id) || lastFinished?.id === id) previews.set(id, url);
    return previews;
  }

  /** A job with its live progress (the same object while it has none newer). */
  #live(job: Job | undefined): Job | undefined {
    if (!job) return undefined;
    const progress = this.progressOf(job.id);
    return progress !== job.progress ? { ...job, progress } : job;
  }

  #see(id: string): void {
    if (!this.#seen.has(id)) this.#seen.set(id, this.#seq++);
  }

  #request(): void {
    this.#cancelFlush ??= this.#schedule(() => {
      this.#cancelFlush = undefined;
      this.flush();
    });
  }
}

/**
 * A list that answers its previous array when given one with the very same jobs, and the new one
 * otherwise: a derived list made of it changes only when its jobs do, so what reads it stays still.
 */
function steadyList(): (next: Job[]) => Job[] {
  let previous: Job[] = [];
  return (next) => {
    const isSame = next.length === previous.length && next.every((job, index) => job === previous[index]);
    if (!isSame) previous = next;
    return previous;
  };
}

/** Running first, then queued on a server (in the order they were seen), then held by their position. */
function sortQueue(jobs: Job[], seen: ReadonlyMap<string, number>): Job[] {
  const order = (job: Job) => seen.get(job.id) ?? Number.MAX_SAFE_INTEGER;
  return jobs.sort((a, b) => {
    const rank = (STATUS_RANK[a.status] ?? 3) - (STATUS_RANK[b.status] ?? 3);
    if (rank !== 0) return rank;
    if (a.status === 'held' && b.status === 'held' && a.position !== b.position) return a.position - b.position;
    return order(a) - order(b);
  });
}
