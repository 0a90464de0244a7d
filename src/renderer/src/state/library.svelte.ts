import type {
  IntentMatch,
  LibraryDelta,
  LibraryQuery,
  MediaType,
  RootStatus,
  SearchResult,
  WorkflowCard,
  WorkflowDetails,
  WorkflowStatus,
} from '@shared/domain/workflow';
import type { ApiClient } from '../api';
import { errorMessage } from '../api';
import type { Toasts } from './toasts.svelte';

/** The filters a user can toggle; each is "any of". */
export type FilterKind = 'categories' | 'inputTypes' | 'outputTypes' | 'statuses';

const EMPTY_QUERY: LibraryQuery = {
  text: '',
  categories: [],
  inputTypes: [],
  outputTypes: [],
  statuses: [],
  types: [],
};

export interface LibraryStateOptions {
  /** Pause after typing before the search runs, ms. @default 80 */
  searchDelayMs?: number;
  /** Pause after typing in the intent bar before its matches update, ms. @default 250 */
  intentDelayMs?: number;
}

/**
 * The workflow library as the window sees it: every card (kept current by `library.changed`
 * deltas, re-fetched when a delta is missed or the link comes back), the search and filters, the
 * intent bar's match, the selected workflow, and the details view.
 */
export class LibraryState {
  #items = $state.raw<ReadonlyMap<string, WorkflowCard>>(new Map());
  #version = -1;
  #serverId = $state.raw<string | null>(null);
  #roots = $state.raw<RootStatus[]>([]);
  #isLoaded = $state(false);
  #query = $state.raw<LibraryQuery>(EMPTY_QUERY);
  #result = $state.raw<SearchResult | undefined>(undefined);
  #intent = $state.raw<IntentMatch | undefined>(undefined);
  #activeChip = $state<string | undefined>(undefined);
  #intentText = $state('');
  #intentTimer: ReturnType<typeof setTimeout> | undefined;
  #intentSeq = 0;
  readonly #intentDelayMs: number;
  readonly #promptListeners = new Set<(prompt: string | null) => void>();
  #selectedId = $state<string | undefined>(undefined);
  #details = $state.raw<WorkflowDetails | undefined>(undefined);
  #thumbnails = $state.raw<ReadonlyMap<string, string | null>>(new Map());
  readonly #thumbnailRequests = new Set<string>();
  readonly #api: ApiClient;
  readonly #toasts: Toasts;
  readonly #searchDelayMs: number;
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  #searchSeq = 0;

  constructor(api: ApiClient, toasts: Toasts, options: LibraryStateOptions = {}) {
    this.#api = api;
    this.#toasts = toasts;
    this.#searchDelayMs = options.searchDelayMs ?? 80;
    this.#intentDelayMs = options.intentDelayMs ?? 250;
  }

  get isLoaded(): boolean {
    return this.#isLoaded;
  }

  /** Every workflow, error cards included. */
  get items(): ReadonlyMap<string, WorkflowCard> {
    return this.#items;
  }

  get count(): number {
    return this.#items.size;
  }

  get serverId(): string | null {
    return this.#serverId;
  }

  get roots(): RootStatus[] {
    return this.#roots;
  }

  get query(): LibraryQuery {
    return this.#query;
  }

  get facets(): SearchResult['facets'] | undefined {
    return this.#result?.facets;
  }

  get intent(): IntentMatch | undefined {
    return this.#intent;
  }

  get activeChip(): string | undefined {
    return this.#activeChip;
  }

  /** What the intent bar holds (typed, or a chip's words); it stays when the page is left and revisited. */
  get intentText(): string {
    return this.#intentText;
  }

  get hasFilters(): boolean {
    const query = this.#query;
    return (
      query.text.trim() !== '' ||
      query.categories.length + query.inputTypes.length + query.outputTypes.length + query.statuses.length > 0
    );
  }

  /** The cards the search and filters leave, best first. */
  get results(): WorkflowCard[] {
    const items = this.#items;
    const ids = this.#result?.ids;
    return ids
      ? ids.map((id) => items.get(id)).filter((card): card is WorkflowCard => card !== undefined)
      : [...items.values()].sort(byName);
  }

  /** The cards the Generate page shows: the search results, narrowed to the intent's matches in their order. */
  get visible(): WorkflowCard[] {
    const cards = this.results;
    // An intent that was understood narrows the grid; one that was not leaves everything browsable.
    if (!this.#intent?.intent) return cards;
    const rank = new Map(this.#intent.ids.map((id, index) => [id, index]));
    return cards.filter((card) => rank.has(card.id)).sort((a, b) => rank.get(a.id)! - rank.get(b.id)!);
  }

  get selectedId(): string | undefined {
    return this.#selectedId;
  }

  get selected(): WorkflowCard | undefined {
    return this.#selectedId === undefined ? undefined : this.#items.get(this.#selectedId);
  }

  get details(): WorkflowDetails | undefined {
    return this.#details;
  }

  connect(): () => void {
    const offChanged = this.#api.on('library.changed', (delta) => this.#apply(delta));
    const offRoots = this.#api.on('library.roots', (roots) => (this.#roots = roots));
    const offLink = this.#api.onLink((state) => {
      if (state === 'open') void this.refresh(); // errors become a toast inside refresh
    });
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      offChanged();
      offRoots();
      offLink();
      clearTimeout(this.#searchTimer);
      clearTimeout(this.#intentTimer);
    };
  }

  /** Fetches the whole library again (at start, after a reconnect, or when a delta was missed). */
  async refresh(): Promise<void> {
    try {
      const [snapshot, roots] = await Promise.all([
        this.#api.call('workflows.list', {}),
        this.#api.call('workflows.roots', {}),
      ]);
      this.#items = new Map(snapshot.items.map((card) => [card.id, card]));
      this.#version = snapshot.version;
      this.#serverId = snapshot.serverId;
      this.#roots = roots;
      this.#isLoaded = true;
      await this.#search();
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  setText(text: string): void {
    this.#query = { ...this.#query, text };
    this.#scheduleSearch();
  }

  toggleFilter(kind: FilterKind, value: string): void {
    const current = this.#query[kind] as string[];
    const next = current.includes(value) ? current.filter((item) => item !== value) : [...current, value];
    this.#query = { ...this.#query, [kind]: next };
    void this.#search();
  }

  isFiltered(kind: FilterKind, value: string): boolean {
    return (this.#query[kind] as string[]).includes(value);
  }

  clearFilters(): void {
    this.#query = EMPTY_QUERY;
    void this.#search();
  }

  /**
   * The intent bar's text as it is typed: the matches follow after a short pause (an older answer
   * never replaces a newer one). Emptying the box drops the intent and takes back the prompt it gave.
   */
  setIntentText(text: string): void {
    this.#intentText = text;
    this.#activeChip = undefined;
    clearTimeout(this.#intentTimer);
    if (text.trim() === '') {
      this.#intentSeq += 1;
      this.#intent = undefined;
      this.#emitPrompt(null);
      return;
    }
    this.#intentTimer = setTimeout(() => void this.matchIntent(text), this.#intentDelayMs);
  }

  /** Asks the core which workflows fit what the user wants to make (at once); the grid then shows those. */
  async matchIntent(text: string, chipId?: string): Promise<void> {
    clearTimeout(this.#intentTimer);
    const seq = ++this.#intentSeq;
    this.#intentText = text;
    this.#activeChip = chipId;
    try {
      const match = await this.#api.call('intent.match', { text });
      if (seq !== this.#intentSeq) return;
      this.#intent = match;
      this.#emitPrompt(match.prompt);
    } catch (error) {
      if (seq === this.#intentSeq) this.#toasts.error(error);
    }
  }

  /** Told what the intent bar's text describes, to go in as the prompt (null when it describes nothing). */
  onIntentPrompt(listener: (prompt: string | null) => void): () => void {
    this.#promptListeners.add(listener);
    return () => this.#promptListeners.delete(listener);
  }

  /** Drops the intent (the full library shows again); a prompt it gave stays in the Prompt box. */
  clearIntent(): void {
    clearTimeout(this.#intentTimer);
    this.#intentSeq += 1;
    this.#intent = undefined;
    this.#activeChip = undefined;
    this.#intentText = '';
  }

  #emitPrompt(prompt: string | null): void {
    for (const listener of this.#promptListeners) listener(prompt);
  }

  select(id: string | undefined): void {
    this.#selectedId = id;
  }

  async openDetails(id: string): Promise<void> {
    try {
      this.#details = await this.#api.call('workflows.get', { id });
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  closeDetails(): void {
    this.#details = undefined;
  }

  /** The thumbnail's data URL once loaded; undefined while unknown, null when there is none. */
  thumbnailOf(id: string): string | null | undefined {
    return this.#thumbnails.get(id);
  }

  async loadThumbnail(id: string): Promise<void> {
    if (this.#thumbnailRequests.has(id)) return;
    this.#thumbnailRequests.add(id);
    try {
      const { dataUrl } = await this.#api.call('workflows.thumbnail', { id });
      this.#thumbnails = new Map(this.#thumbnails).set(id, dataUrl);
    } catch {
      this.#thumbnailRequests.delete(id); // try again next time the card shows
    }
  }

  /** Shows the file in the file manager; in a browser, where that is impossible, tells the path instead. */
  async reveal(id: string): Promise<void> {
    try {
      const { isRevealed, path } = await this.#api.call('workflows.reveal', { id });
      if (!isRevealed) this.#toasts.push({ level: 'info', message: `The file is at ${path}` });
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  async addRoot(path: string): Promise<string | undefined> {
    try {
      this.#roots = await this.#api.call('workflows.addRoot', { path });
      return undefined;
    } catch (error) {
      return errorMessage(error);
    }
  }

  async removeRoot(path: string): Promise<void> {
    try {
      this.#roots = await this.#api.call('workflows.removeRoot', { path });
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  #apply(delta: LibraryDelta): void {
    if (delta.resync || delta.version !== this.#version + 1) {
      void this.refresh();
      return;
    }
    const items = new Map(this.#items);
    for (const id of delta.removed) items.delete(id);
    for (const card of delta.upserted) {
      items.set(card.id, card);
      // A changed file may have a new thumbnail: load it again when shown.
      this.#thumbnailRequests.delete(card.id);
    }
    this.#items = items;
    this.#version = delta.version;
    if (delta.upserted.length > 0) this.#serverId = delta.upserted[0]!.compat.serverId;
    this.#scheduleSearch(0);
  }

  #scheduleSearch(delayMs = this.#searchDelayMs): void {
    clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => void this.#search(), delayMs);
  }

  async #search(): Promise<void> {
    clearTimeout(this.#searchTimer);
    const seq = ++this.#searchSeq;
    try {
      const result = await this.#api.call('workflows.search', this.#query);
      // An answer to an older query must not overwrite a newer one.
      if (seq === this.#searchSeq) this.#result = result;
    } catch (error) {
      if (seq === this.#searchSeq) this.#toasts.error(error);
    }
  }
}

function byName(a: WorkflowCard, b: WorkflowCard): number {
  return a.name.localeCompare(b.name) || a.path.localeCompare(b.path);
}

/** Words for media types, statuses and workflow types, shared by cards, filters and the details view. */
export const MEDIA_LABELS: Record<MediaType, string> = {
  text: 'Text',
  image: 'Image',
  mask: 'Mask',
  video: 'Video',
  audio: 'Audio',
  '3d': '3D',
};

export const STATUS_LABELS: Record<WorkflowStatus, string> = {
  ready: 'Ready',
  missing: 'Missing models',
  update: 'Update available',
  unknown_nodes: 'Unknown nodes',
  not_connected: 'Not connected',
  invalid: 'Cannot read',
};

export const TYPE_LABELS: Record<WorkflowCard['type'], string> = {
  t2i: 'Text to image',
  i2i: 'Image to image',
  inpaint: 'Inpaint',
  upscale: 'Upscale',
  t2v: 'Text to video',
  i2v: 'Image to video',
  v2v: 'Video to video',
  audio: 'Audio',
  '3d': '3D',
  text: 'Text',
  other: 'Workflow',
};

/** Seconds as a short duration ("45 s", "3 min"). */
export function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The one-line status of a card ("Missing 2", "Ready"…). */
export function statusText(card: WorkflowCard): string {
  const { compat } = card;
  if (compat.status === 'missing') return `Missing ${compat.missing.length}`;
  if (compat.status === 'unknown_nodes')
    return `${compat.unknownNodeTypes.length} unknown node type${compat.unknownNodeTypes.length === 1 ? '' : 's'}`;
  return STATUS_LABELS[compat.status];
}
