import { isFinished, type Job, type OutputFile } from '@shared/domain/job';
import type { ApiClient } from '../api';
import type { Toasts } from './toasts.svelte';

export interface HistoryStateOptions {
  /** Jobs fetched per page. @default 40 */
  pageSize?: number;
  /** Pause after typing before the search runs, ms. @default 200 */
  searchDelayMs?: number;
}

/** What the viewer shows: one finished job and which of its outputs is in front. */
export interface ViewerTarget {
  job: Job;
  index: number;
}

/** What a workflow made last, for its card's art when it has no thumbnail. */
export interface WorkflowCover {
  job: Job;
  output: OutputFile;
}

/** The output a job is shown by: its first saved image, else its first saved video; undefined without one. */
export function coverOutput(job: Job): OutputFile | undefined {
  const saved = job.outputs.filter((output) => output.localPath);
  return (
    saved.find((output) => output.kind === 'image' && output.type === 'output') ??
    saved.find((output) => output.kind === 'image') ??
    saved.find((output) => output.kind === 'video')
  );
}

/**
 * Past generations for the Recent view: `history.list` newest first, a search by prompt text,
 * pages loaded as the list scrolls, jobs that finish in this session added at the top; plus the
 * viewer (which job and output is open) and what can be done with a result — reveal, delete.
 */
export class HistoryState {
  #items = $state.raw<Job[]>([]);
  #text = $state('');
  #isLoading = $state(false);
  #hasMore = $state(false);
  #isLoaded = $state(false);
  #viewer = $state.raw<ViewerTarget | undefined>(undefined);
  #deleting = $state.raw<Job | undefined>(undefined);
  #picked = $state.raw<Job[]>([]);
  #comparing = $state.raw<[Job, Job] | undefined>(undefined);
  #covers = $state.raw<ReadonlyMap<string, WorkflowCover | null>>(new Map());
  readonly #coverRequests = new Set<string>();
  /** The API prompts jobs were sent with, by job id (read once, for "Settings used"). */
  readonly #prompts = new Map<string, Promise<unknown>>();
  #searchSeq = 0;
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #api: ApiClient;
  readonly #toasts: Toasts;
  readonly #pageSize: number;
  readonly #searchDelayMs: number;

  constructor(api: ApiClient, toasts: Toasts, options: HistoryStateOptions = {}) {
    this.#api = api;
    this.#toasts = toasts;
    this.#pageSize = options.pageSize ?? 40;
    this.#searchDelayMs = options.searchDelayMs ?? 200;
  }

  get items(): Job[] {
    return this.#items;
  }

  get text(): string {
    return this.#text;
  }

  get isLoading(): boolean {
    return this.#isLoading;
  }

  get isLoaded(): boolean {
    return this.#isLoaded;
  }

  /** Whether older jobs are left to load. */
  get hasMore(): boolean {
    return this.#hasMore;
  }

  get viewer(): ViewerTarget | undefined {
    return this.#viewer;
  }

  /** The job whose deletion waits for the person's answer (with or without its files). */
  get deleting(): Job | undefined {
    return this.#deleting;
  }

  /** Past generations picked to compare side by side (at most two). */
  get picked(): Job[] {
    return this.#picked;
  }

  /** The two generations shown side by side, while the comparison is open. */
  get comparing(): [Job, Job] | undefined {
    return this.#comparing;
  }

  isPicked(jobId: string): boolean {
    return this.#picked.some((job) => job.id === jobId);
  }

  /** Picks a generation to compare, or puts it back; a third pick replaces the older one. */
  togglePick(job: Job): void {
    this.#picked = this.isPicked(job.id)
      ? this.#picked.filter((item) => item.id !== job.id)
      : [...this.#picked, job].slice(-2);
  }

  /** Opens the two picked generations side by side. */
  compare(): void {
    const [first, second] = this.#picked;
    if (first && second) this.#comparing = [first, second];
  }

  closeCompare(): void {
    this.#comparing = undefined;
  }

  /** The last thing a workflow made (for its card), once asked for with `loadCover`; null when it made nothing yet. */
  coverOf(workflowId: string): WorkflowCover | undefined {
    return this.#covers.get(workflowId) ?? undefined;
  }

  /** Looks up what a workflow made last, once per workflow (a new result replaces it as it comes). */
  async loadCover(workflowId: string): Promise<void> {
    if (this.#coverRequests.has(workflowId) || this.#covers.has(workflowId)) return;
    this.#coverRequests.add(workflowId);
    try {
      const { jobs } = await this.#api.call('history.list', { workflowId, statuses: ['succeeded'], limit: 5 });
      if (this.#covers.has(workflowId)) return; // a newer result came meanwhile
      const job = jobs.find((item) => coverOutput(item));
      this.#covers = new Map(this.#covers).set(workflowId, job ? { job, output: coverOutput(job)! } : null);
    } catch {
      this.#coverRequests.delete(workflowId); // asked again next time the card shows
    }
  }

  /** The API prompt a job was sent with, exactly as queued (undefined when it cannot be read). */
  async sentPrompt(jobId: string): Promise<unknown> {
    let prompt = this.#prompts.get(jobId);
    if (!prompt) {
      prompt = this.#api.call('history.get', { jobId }).then(
        ({ apiPrompt }) => apiPrompt,
        () => {
          this.#prompts.delete(jobId);
          return undefined;
        },
      );
      this.#prompts.set(jobId, prompt);
    }
    return prompt;
  }

  /** Asks before deleting a job from history. */
  askDelete(job: Job): void {
    this.#deleting = job;
  }

  cancelDelete(): void {
    this.#deleting = undefined;
  }

  connect(): () => void {
    const offUpdated = this.#api.on('jobs.updated', (job) => {
      if (isFinished(job.status) && job.origin === 'comfydesk') this.#upsert(job);
    });
    // Deleted elsewhere (another window, the CLI): it goes here too.
    const offRemoved = this.#api.on('jobs.removed', ({ jobId }) => this.#forget(jobId));
    // A click on the desktop app's notification asks for that result.
    const offShow = this.#api.on('app.showJob', ({ jobId }) => void this.viewById(jobId));
    const offLink = this.#api.onLink((state) => {
      if (state === 'open') void this.refresh(); // errors become a toast inside refresh
    });
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      offUpdated();
      offRemoved();
      offShow();
      offLink();
      clearTimeout(this.#searchTimer);
    };
  }

  /** Searches the prompts (after a short pause while typing). */
  setText(text: string): void {
    this.#text = text;
    clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => void this.refresh(), this.#searchDelayMs);
  }

  /** Reads the first page again. */
  async refresh(): Promise<void> {
    clearTimeout(this.#searchTimer);
    await this.#page(0, true);
  }

  /** Reads the next page of older jobs. */
  async loadMore(): Promise<void> {
    if (this.#isLoading || !this.#hasMore) return;
    await this.#page(this.#items.length, false);
  }

  /** Opens the viewer on a job's output. */
  view(job: Job, index = 0): void {
    this.#viewer = { job, index: Math.max(0, Math.min(index, job.outputs.length - 1)) };
  }

  /** Opens the viewer on a job known only by id (a link or a notification). */
  async viewById(jobId: string, index = 0): Promise<void> {
    const known = this.#items.find((job) => job.id === jobId);
    if (known) return this.view(known, index);
    try {
      const { job } = await this.#api.call('history.get', { jobId });
      this.view(job, index);
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** Shows another output of the job in the viewer. */
  showOutput(index: number): void {
    const viewer = this.#viewer;
    if (viewer && index >= 0 && index < viewer.job.outputs.length) this.#viewer = { ...viewer, index };
  }

  /**
   * The lightbox's ← and →: the job's next or previous output, then on to the next or previous
   * generation in the list (newest first, so → goes to older ones). Answers whether it moved.
   */
  step(delta: 1 | -1): boolean {
    const viewer = this.#viewer;
    if (!viewer) return false;
    const index = viewer.index + delta;
    if (index >= 0 && index < viewer.job.outputs.length) {
      this.#viewer = { ...viewer, index };
      return true;
    }
    const position = this.#items.findIndex((job) => job.id === viewer.job.id);
    if (position < 0) return false;
    for (let at = position + delta; at >= 0 && at < this.#items.length; at += delta) {
      const next = this.#items[at]!;
      if (next.outputs.length === 0) continue;
      this.#viewer = { job: next, index: delta > 0 ? 0 : next.outputs.length - 1 };
      return true;
    }
    return false;
  }

  closeViewer(): void {
    this.#viewer = undefined;
  }

  /**
   * Shows a saved output in the file manager. In a browser, where that is impossible, answers its
   * path so the page can say where it is.
   */
  async reveal(jobId: string, index: number): Promise<string | undefined> {
    try {
      const { isRevealed, path } = await this.#api.call('outputs.reveal', { jobId, index });
      if (!isRevealed)
        this.#toasts.push({ level: 'info', message: `On the machine running ComfyDesk, this output is ${path}` });
      return path;
    } catch (error) {
      this.#toasts.error(error);
      return undefined;
    }
  }

  /** Forgets a job; with `deleteFiles`, its saved outputs too. */
  async remove(jobId: string, deleteFiles: boolean): Promise<boolean> {
    try {
      await this.#api.call('history.delete', { jobId, deleteFiles });
      this.#forget(jobId);
      this.#toasts.push({
        level: 'success',
        message: deleteFiles
          ? 'Deleted from history, with its files.'
          : 'Deleted from history; the files are still in the outputs folder.',
      });
      return true;
    } catch (error) {
      this.#toasts.error(error);
      return false;
    }
  }

  async #page(offset: number, isFirst: boolean): Promise<void> {
    const seq = ++this.#searchSeq;
    const text = this.#text.trim();
    this.#isLoading = true;
    try {
      const { jobs } = await this.#api.call('history.list', {
        ...(text ? { text } : {}),
        limit: this.#pageSize,
        offset,
      });
      if (seq !== this.#searchSeq) return;
      const existing = isFirst ? [] : this.#items;
      const ids = new Set(existing.map((job) => job.id));
      this.#items = [...existing, ...jobs.filter((job) => !ids.has(job.id))];
      this.#hasMore = jobs.length === this.#pageSize;
      this.#isLoaded = true;
    } catch (error) {
      if (seq === this.#searchSeq) this.#toasts.error(error);
    } finally {
      if (seq === this.#searchSeq) this.#isLoading = false;
    }
  }

  #forget(jobId: string): void {
    if (this.#items.some((job) => job.id === jobId)) this.#items = this.#items.filter((job) => job.id !== jobId);
    if (this.#viewer?.job.id === jobId) this.#viewer = undefined;
    if (this.#deleting?.id === jobId) this.#deleting = undefined;
    if (this.isPicked(jobId)) this.#picked = this.#picked.filter((job) => job.id !== jobId);
    if (this.#comparing?.some((job) => job.id === jobId)) this.#comparing = undefined;
    for (const [workflowId, cover] of this.#covers)
      if (cover?.job.id === jobId) {
        // Look again for what it made before.
        const covers = new Map(this.#covers);
        covers.delete(workflowId);
        this.#covers = covers;
        this.#coverRequests.delete(workflowId);
      }
  }

  #upsert(job: Job): void {
    const text = this.#text.trim().toLowerCase();
    const index = this.#items.findIndex((item) => item.id === job.id);
    if (index >= 0) {
      this.#items = this.#items.with(index, job);
    } else if (!text || job.promptText.toLowerCase().includes(text)) {
      this.#items = [job, ...this.#items];
    }
    if (this.#viewer?.job.id === job.id) this.#viewer = { ...this.#viewer, job };
    const output = job.status === 'succeeded' && job.workflowId ? coverOutput(job) : undefined;
    if (output && job.workflowId) this.#covers = new Map(this.#covers).set(job.workflowId, { job, output });
  }
}
