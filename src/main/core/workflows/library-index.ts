import type {
  Compatibility,
  FacetCount,
  LibraryDelta,
  LibraryQuery,
  SearchResult,
  WorkflowCard,
  WorkflowRecord,
} from '@shared/domain/workflow';
import { checkCompatibility, type CompatibilityContext } from './compatibility';
import { SearchIndex, type SearchFields } from './search-index';

/** Field weights: a hit in the name counts most, one in a node type least. */
export const SEARCH_WEIGHTS = {
  name: 10,
  category: 5,
  type: 4,
  description: 3,
  models: 3,
  path: 2,
  nodeTypes: 1.5,
} as const;

/** Above this many changes a delta tells clients to fetch the snapshot again rather than carrying every card. */
const RESYNC_THRESHOLD = 500;

const TYPE_WORDS: Record<WorkflowRecord['type'], string> = {
  t2i: 'text to image',
  i2i: 'image to image',
  inpaint: 'inpaint',
  upscale: 'upscale',
  t2v: 'text to video',
  i2v: 'image to video',
  v2v: 'video to video',
  audio: 'audio',
  '3d': '3d',
  text: 'text',
  other: '',
};

/** The searchable text of a workflow, by field (see {@link SEARCH_WEIGHTS}). */
export function searchFieldsOf(record: WorkflowRecord): SearchFields {
  return {
    name: record.name,
    category: record.category,
    type: TYPE_WORDS[record.type],
    description: record.description,
    models: record.models.map((model) => model.name),
    path: record.path,
    nodeTypes: record.nodeTypes,
  };
}

function toCard(record: WorkflowRecord, compat: Compatibility): WorkflowCard {
  const { nodeTypes: _nodeTypes, ...card } = record;
  return { ...card, compat };
}

/**
 * The library in memory: every record with its compatibility, a search index over them, and a
 * version that grows by one with every delta it hands out.
 */
export class LibraryIndex {
  readonly #records = new Map<string, WorkflowRecord>();
  readonly #compat = new Map<string, Compatibility>();
  readonly #search = new SearchIndex(SEARCH_WEIGHTS);
  #context: CompatibilityContext;
  #version = 0;
  #pendingUpserts = new Set<string>();
  #pendingRemovals = new Set<string>();
  /** Records changed since the search index last caught up: indexed on the next search, so a warm start stays quick. */
  readonly #unindexed = new Set<string>();
  /** Each record's place in name order, rebuilt after changes: sorting by a number beats comparing strings. */
  #nameRank: Map<string, number> | undefined;

  constructor(context: CompatibilityContext) {
    this.#context = context;
  }

  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#records.size;
  }

  get serverId(): string | null {
    return this.#context.inventory?.serverId ?? null;
  }

  get(id: string): WorkflowRecord | undefined {
    return this.#records.get(id);
  }

  compat(id: string): Compatibility | undefined {
    return this.#compat.get(id);
  }

  get context(): CompatibilityContext {
    return this.#context;
  }

  records(): IterableIterator<WorkflowRecord> {
    return this.#records.values();
  }

  cards(): WorkflowCard[] {
    return [...this.#records.values()].map((record) => toCard(record, this.#compat.get(record.id)!));
  }

  card(id: string): WorkflowCard | undefined {
    const record = this.#records.get(id);
    return record && toCard(record, this.#compat.get(id)!);
  }

  /** Adds or replaces records; unchanged ones (same file time, size and thumbnail) are skipped. */
  upsert(records: Iterable<WorkflowRecord>): void {
    for (const record of records) {
      const existing = this.#records.get(record.id);
      if (existing === record) continue;
      this.#records.set(record.id, record);
      this.#compat.set(record.id, checkCompatibility(record, this.#context));
      this.#unindexed.add(record.id);
      this.#nameRank = undefined;
      this.#pendingRemovals.delete(record.id);
      this.#pendingUpserts.add(record.id);
    }
  }

  remove(ids: Iterable<string>): void {
    for (const id of ids) {
      if (!this.#records.delete(id)) continue;
      this.#compat.delete(id);
      this.#search.delete(id);
      this.#unindexed.delete(id);
      this.#nameRank = undefined;
      this.#pendingUpserts.delete(id);
      this.#pendingRemovals.add(id);
    }
  }

  /** New server inventory, catalog or size facts: re-checks the workflows `affects` selects (all by default). */
  setContext(context: CompatibilityContext, affects: (record: WorkflowRecord) => boolean = () => true): void {
    this.#context = context;
    for (const record of this.#records.values()) {
      if (!affects(record)) continue;
      const next = checkCompatibility(record, context);
      if (JSON.stringify(next) === JSON.stringify(this.#compat.get(record.id))) continue;
      this.#compat.set(record.id, next);
      this.#pendingUpserts.add(record.id);
    }
  }

  /** The changes since the last delta, as the next version; undefined when nothing changed. */
  takeDelta(): LibraryDelta | undefined {
    if (this.#pendingUpserts.size === 0 && this.#pendingRemovals.size === 0) return undefined;
    this.#version += 1;
    const resync = this.#pendingUpserts.size + this.#pendingRemovals.size > RESYNC_THRESHOLD;
    const delta: LibraryDelta = resync
      ? { version: this.#version, upserted: [], removed: [], resync: true }
      : {
          version: this.#version,
          upserted: [...this.#pendingUpserts].map((id) => this.card(id)!),
          removed: [...this.#pendingRemovals],
          resync: false,
        };
    this.#pendingUpserts.clear();
    this.#pendingRemovals.clear();
    return delta;
  }

  /** Whether some records still wait to be added to the search index. */
  get isIndexPending(): boolean {
    return this.#unindexed.size > 0;
  }

  /**
   * Adds up to `limit` waiting records to the search index (all by default). The service calls it
   * in small slices while idle, so the first search after a start rarely has to wait.
   */
  catchUp(limit = Number.POSITIVE_INFINITY): void {
    let done = 0;
    for (const id of this.#unindexed) {
      if (done >= limit) return;
      done += 1;
      this.#unindexed.delete(id);
      const record = this.#records.get(id);
      if (!record) continue;
      this.#search.set(id, searchFieldsOf(record));
    }
  }

  #ranks(): Map<string, number> {
    if (!this.#nameRank) {
      const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
      const sorted = [...this.#records.values()].sort(
        (a, b) => collator.compare(a.name, b.name) || collator.compare(a.path, b.path),
      );
      this.#nameRank = new Map(sorted.map((record, index) => [record.id, index]));
    }
    return this.#nameRank;
  }

  /** Free text (typo-tolerant, ranked) plus filters, with per-facet counts. */
  search(query: LibraryQuery): SearchResult {
    // Filters alone need no text index; only free text waits for it to catch up.
    if (query.text.trim() !== '') this.catchUp();
    const scores = this.#search.search(query.text);
    const candidates = scores ? [...scores.keys()].map((id) => this.#records.get(id)!) : [...this.#records.values()];
    const statusOf = (record: WorkflowRecord) => this.#compat.get(record.id)!.status;
    const anyOf = <T extends string>(wanted: readonly T[], values: readonly T[]) =>
      wanted.length === 0 || values.some((value) => wanted.includes(value));
    const counts = {
      categories: new Map<string, number>(),
      inputTypes: new Map<string, number>(),
      outputTypes: new Map<string, number>(),
      statuses: new Map<string, number>(),
    };
    const count = (map: Map<string, number>, values: readonly string[]) => {
      for (const value of values) map.set(value, (map.get(value) ?? 0) + 1);
    };
    const matched: WorkflowRecord[] = [];
    for (const record of candidates) {
      const status = statusOf(record);
      const category = query.categories.length === 0 || query.categories.includes(record.category);
      const input = anyOf(query.inputTypes, record.inputTypes);
      const output = anyOf(query.outputTypes, record.outputTypes);
      const state = query.statuses.length === 0 || query.statuses.includes(status);
      const type = query.types.length === 0 || query.types.includes(record.type);
      if (category && input && output && state && type) matched.push(record);
      // A facet counts the records that pass every other filter, so choosing a value never hides its siblings.
      if (input && output && state && type) count(counts.categories, [record.category]);
      if (category && output && state && type) count(counts.inputTypes, record.inputTypes);
      if (category && input && state && type) count(counts.outputTypes, record.outputTypes);
      if (category && input && output && type) count(counts.statuses, [status]);
    }
    const rank = this.#ranks();
    matched.sort((a, b) => (scores ? scores.get(b.id)! - scores.get(a.id)! : 0) || rank.get(a.id)! - rank.get(b.id)!);
    const list = (map: Map<string, number>): FacetCount[] =>
      [...map]
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
    return {
      version: this.#version,
      ids: matched.map((record) => record.id),
      facets: {
        categories: list(counts.categories),
        inputTypes: list(counts.inputTypes),
        outputTypes: list(counts.outputTypes),
        statuses: list(counts.statuses),
      },
    };
  }

  /** Relevance of free text to each workflow (ids not listed do not match); undefined for empty text. */
  relevance(text: string): Map<string, number> | undefined {
    this.catchUp();
    return this.#search.search(text);
  }
}
