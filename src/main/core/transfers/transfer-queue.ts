import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TransferItem, type TransfersDelta } from '@shared/domain/transfer';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ManagerModelEntry } from './model-list';

/** A transfer with what it needs to run that the UI does not see. */
export interface Entry {
  item: TransferItem;
  sha256?: string;
  /** Exact size, when a HEAD or the caller said. */
  expectedBytes?: number;
  managerEntry?: ManagerModelEntry;
  pack?: { registryId?: string; url: string | null; nodeTypes: string[] };
  /** A pack ComfyUI-Manager installed, waiting for ComfyUI's restart to load it. */
  awaitingRestart?: boolean;
  controller?: AbortController;
  run?: Promise<void>;
}

interface PersistedFile {
  version: 1;
  entries: Array<Omit<Entry, 'controller' | 'run'>>;
  /** Download addresses the user gave, by `folder\0name`. */
  userSources: Record<string, string>;
}

export interface TransferQueueDeps {
  log: Logger;
  /** The data folder: `transfers.json` lives there. */
  dataDir: string;
  now: () => number;
  /** Gets the coalesced changes. */
  emit: (delta: TransfersDelta) => void;
  /** @default true */
  persist?: boolean;
  /** @default 100 */
  eventIntervalMs?: number;
}

/**
 * The transfers and the download addresses the user gave: every change goes out as a coalesced
 * `updated` delta (at most one per interval), and the list is kept in `transfers.json` so a restart
 * resumes what was unfinished.
 */
export class TransferQueue {
  readonly entries = new Map<string, Entry>();
  /** Download addresses the user gave, by `sourceKey(folder, name)`. */
  readonly userSources = new Map<string, string>();
  readonly #deps: TransferQueueDeps;
  readonly #dirty = new Set<string>();
  readonly #removed = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  #lastFlush = Number.NEGATIVE_INFINITY;
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(deps: TransferQueueDeps) {
    this.#deps = deps;
  }

  get #persist(): boolean {
    return this.#deps.persist ?? true;
  }

  /** Changes an item (stamping `updatedAt`); a new state is saved soon. */
  set(entry: Entry, patch: Partial<TransferItem>): void {
    const before = entry.item.state;
    entry.item = { ...entry.item, ...patch, updatedAt: this.#deps.now() };
    this.changed(entry);
    if (patch.state !== undefined && patch.state !== before) this.scheduleSave();
  }

  add(entry: Entry): void {
    this.entries.set(entry.item.id, entry);
    this.changed(entry);
  }

  remove(id: string): void {
    this.entries.delete(id);
    this.#removed.add(id);
    this.#scheduleFlush();
  }

  changed(entry: Entry): void {
    this.#dirty.add(entry.item.id);
    this.#scheduleFlush();
  }

  /** Sends what changed now and saves the list (at stop). */
  async close(): Promise<void> {
    this.#flush();
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    await this.save();
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    const intervalMs = this.#deps.eventIntervalMs ?? 100;
    const wait = Math.max(0, intervalMs - (performance.now() - this.#lastFlush));
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      // A timer may fire a little early (it counts from the loop's cached time): "at most one per
      // interval" must hold to the millisecond, or a sliding second can hold one event too many.
      if (performance.now() - this.#lastFlush < intervalMs) this.#scheduleFlush();
      else this.#flush();
    }, Math.ceil(wait));
    this.#flushTimer.unref();
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#dirty.size === 0 && this.#removed.size === 0) return;
    this.#lastFlush = performance.now();
    const items = [...this.#dirty].flatMap((id) => {
      const entry = this.entries.get(id);
      return entry ? [entry.item] : [];
    });
    const removed = [...this.#removed];
    this.#dirty.clear();
    this.#removed.clear();
    this.#deps.emit({ items, removed });
  }

  #file(): string {
    return join(this.#deps.dataDir, 'transfers.json');
  }

  scheduleSave(): void {
    if (!this.#persist || this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.save(); // errors are logged inside
    }, 500);
    this.#saveTimer.unref();
  }

  async save(): Promise<void> {
    if (!this.#persist) return;
    const data: PersistedFile = {
      version: 1,
      entries: [...this.entries.values()].map((entry) => {
        const { controller: _controller, run: _run, ...rest } = entry;
        return rest;
      }),
      userSources: Object.fromEntries(this.userSources),
    };
    try {
      await mkdir(this.#deps.dataDir, { recursive: true });
      const temporary = `${this.#file()}.tmp`;
      await writeFile(temporary, JSON.stringify(data));
      await rename(temporary, this.#file());
    } catch (error) {
      this.#deps.log.warn('transfers not saved', { error });
    }
  }

  async load(): Promise<void> {
    if (!this.#persist) return;
    let text: string;
    try {
      text = await readFile(this.#file(), 'utf8');
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') this.#deps.log.warn('transfers unreadable', { error });
      return;
    }
    try {
      const data = JSON.parse(text) as PersistedFile;
      for (const [key, url] of Object.entries(data.userSources ?? {})) this.userSources.set(key, url);
      for (const saved of data.entries ?? []) {
        const item = TransferItem.safeParse(saved.item);
        if (!item.success) continue;
        const state = item.data.state;
        // What ran when the app stopped runs again, from where its partial file is.
        const resumed =
          state === 'running' || state === 'verifying' || (state === 'waiting' && !saved.awaitingRestart)
            ? { state: 'queued' as const, bytesPerSecond: 0, etaSeconds: null }
            : {};
        this.entries.set(item.data.id, { ...saved, item: { ...item.data, ...resumed } });
      }
    } catch (error) {
      this.#deps.log.warn('transfers file damaged; starting with an empty list', { error });
    }
  }
}

export function sourceKey(folder: string, name: string): string {
  return `${folder}\u0000${name}`;
}

/** Waits `ms`, or less when `signal` aborts (never rejects). */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await map(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
