import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SourceStatus } from '@shared/domain/transfer';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** How one public list is fetched, cached and read. */
export interface CachedListDeps<T> {
  /** Where it comes from now (a setting; a change of address invalidates the cache). */
  url: () => string;
  /** The cached copy: `{ url, fetchedAt, data }`. */
  cacheFile: string;
  /** Turns the downloaded JSON into the list; throws when it is not that kind of list. */
  parse: (raw: unknown) => T;
  count: (list: T) => number;
  log: Logger;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default Date.now */
  now?: () => number;
  /** A cached copy younger than this is used without asking again. @default 24 h */
  maxAgeMs?: number;
  /** After a failed fetch, wait this long before trying again on its own. @default 10 min */
  retryAfterMs?: number;
  /** @default 20000 */
  timeoutMs?: number;
}

interface CacheRecord {
  url: string;
  fetchedAt: number;
  data: unknown;
}

/**
 * A public JSON list fetched lazily (the first time something needs it), kept in the data folder
 * with the date it was fetched, and refreshed once a day. When it cannot be fetched (no internet),
 * the cached copy is used; with none, callers get `undefined` and say "no known source".
 */
export class CachedList<T> {
  readonly #deps: CachedListDeps<T>;
  #value: { url: string; fetchedAt: number; list: T } | undefined;
  #isLoaded = false;
  #loading: Promise<T | undefined> | undefined;
  #problem: string | null = null;
  #lastFailureAt = Number.NEGATIVE_INFINITY;

  constructor(deps: CachedListDeps<T>) {
    this.#deps = deps;
  }

  /** The list: cached, or fetched now when there is no fresh copy. `refresh` always asks the source. */
  async get(options: { refresh?: boolean } = {}): Promise<T | undefined> {
    this.#loading ??= this.#load(options.refresh ?? false).finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** What is cached now, without fetching. */
  peek(): T | undefined {
    return this.#value?.url === this.#deps.url() ? this.#value.list : undefined;
  }

  status(): SourceStatus {
    const value = this.#value?.url === this.#deps.url() ? this.#value : undefined;
    return {
      url: this.#deps.url(),
      fetchedAt: value?.fetchedAt ?? null,
      count: value ? this.#deps.count(value.list) : 0,
      problem: this.#problem,
    };
  }

  async #load(refresh: boolean): Promise<T | undefined> {
    const url = this.#deps.url();
    if (!this.#isLoaded) {
      this.#isLoaded = true;
      await this.#readCache();
    }
    const now = (this.#deps.now ?? Date.now)();
    const cached = this.#value?.url === url ? this.#value : undefined;
    const isFresh = cached !== undefined && now - cached.fetchedAt < (this.#deps.maxAgeMs ?? 24 * 3600_000);
    const isResting = now - this.#lastFailureAt < (this.#deps.retryAfterMs ?? 10 * 60_000);
    if (!refresh && (isFresh || isResting)) return cached?.list;
    try {
      const list = await this.#fetch(url);
      this.#value = { url, fetchedAt: now, list: list.parsed };
      this.#problem = null;
      await this.#writeCache({ url, fetchedAt: now, data: list.raw });
    } catch (error) {
      this.#lastFailureAt = now;
      this.#problem = `Could not fetch ${url} (${reasonOf(error)}).${cached ? ' Using the copy from before.' : ''}`;
      // Expected without internet; the report says so in words, the log only notes it.
      this.#deps.log.info('public list not fetched', { url, reason: reasonOf(error) });
    }
    return this.#value?.url === url ? this.#value.list : undefined;
  }

  async #fetch(url: string): Promise<{ raw: unknown; parsed: T }> {
    const response = await (this.#deps.fetch ?? globalThis.fetch)(url, {
      signal: AbortSignal.timeout(this.#deps.timeoutMs ?? 20_000),
      redirect: 'follow',
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const raw: unknown = await response.json();
    return { raw, parsed: this.#deps.parse(raw) };
  }

  async #readCache(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#deps.cacheFile, 'utf8');
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT')
        this.#deps.log.warn('cached list unreadable', { file: this.#deps.cacheFile, error });
      return;
    }
    try {
      const record = JSON.parse(text) as CacheRecord;
      if (typeof record.url !== 'string' || typeof record.fetchedAt !== 'number') throw new Error('not a cache record');
      this.#value = { url: record.url, fetchedAt: record.fetchedAt, list: this.#deps.parse(record.data) };
    } catch (error) {
      // A damaged cache is only a cache: the next fetch replaces it.
      this.#deps.log.warn('cached list damaged; fetching it again', { file: this.#deps.cacheFile, error });
    }
  }

  async #writeCache(record: CacheRecord): Promise<void> {
    try {
      await mkdir(dirname(this.#deps.cacheFile), { recursive: true });
      const temporary = `${this.#deps.cacheFile}.tmp`;
      await writeFile(temporary, JSON.stringify(record));
      await rename(temporary, this.#deps.cacheFile);
    } catch (error) {
      this.#deps.log.warn('cached list not saved', { file: this.#deps.cacheFile, error });
    }
  }
}

function reasonOf(error: unknown): string {
  const code = systemErrorCode(error instanceof Error && error.cause !== undefined ? error.cause : error);
  if (code) return code;
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'no answer in time' : error.message;
  return String(error);
}
