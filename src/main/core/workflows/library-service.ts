import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { ServerInventory } from '@shared/domain/inventory';
import type { Settings, SettingsPatch } from '@shared/domain/settings';
import type {
  IntentMatch,
  LibraryDelta,
  LibraryQuery,
  LibrarySnapshot,
  RootSource,
  RootStatus,
  SearchResult,
  WorkflowDetails,
  WorkflowRecord,
} from '@shared/domain/workflow';
import { Disposer } from '../lib/disposer';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { type ModelCatalog } from './catalog';
import { modelSize, modelState, prepareInventory, type CompatibilityContext } from './compatibility';
import { matchIntent } from './intent';
import { LibraryIndex } from './library-index';
import { loadPersistedIndex, savePersistedIndex, type PersistedRoots } from './persisted-index';
import type { FileRevealer, InventorySource, ModelSizeFetcher, RunStats } from './ports';
import type { SampleFile } from './resources';
import type { ReadWorkflow } from './scan-root';
import { WatchedRoot } from './watched-root';

interface LibraryEvents {
  changed: LibraryDelta;
  roots: RootStatus[];
}

/** The part of the settings service the library uses. */
export interface LibrarySettingsPort {
  get(): Settings;
  update(patch: SettingsPatch): Settings;
  on(name: 'changed', listener: (settings: Settings) => void): Unsubscribe;
}

/** What the library service is built from; tests pass fakes for the ports. */
export interface LibraryServiceDeps {
  settings: LibrarySettingsPort;
  /** ComfyDesk's own workflows folder, seeded with the samples when it does not exist yet. */
  appFolder: string;
  /** Where the index is saved between runs for a warm start. */
  cacheFile: string;
  catalog: ModelCatalog;
  log: Logger;
  /** Folders added for this run only (`comfydesk serve --workflows DIR`). */
  sessionRoots?: readonly string[];
  inventory?: InventorySource;
  runStats?: RunStats;
  /** Finds model download sizes in the background; none means sizes come from the catalog only. */
  fetchModelSize?: ModelSizeFetcher;
  revealFile?: FileRevealer;
  samples?: readonly SampleFile[];
  /** Keep watching after the first scan (the CLI reads once). @default true */
  isWatching?: boolean;
  /** Quiet time before a changed file is read, ms. @default 200 */
  debounceMs?: number;
  /** Delay before the index is saved after a change, ms. @default 2000 */
  saveDelayMs?: number;
  read?: ReadWorkflow;
}

/** Thumbnails larger than this are not sent to the window. @default 4 MiB */
const MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024;
const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
};
const SIZE_FETCH_CONCURRENCY = 2;

/**
 * The workflow library: watches the configured roots, keeps every workflow's record and its
 * compatibility with the connected server, and announces changes as versioned deltas.
 */
export class LibraryService {
  readonly #deps: LibraryServiceDeps;
  readonly #emitter: Emitter<LibraryEvents>;
  readonly #index: LibraryIndex;
  readonly #roots = new Map<string, WatchedRoot>();
  readonly #sessionRoots: Set<string>;
  readonly #pending = new Set<Promise<void>>();
  readonly #sizes = new Map<string, number>();
  readonly #sizeRequested = new Set<string>();
  readonly #abort = new AbortController();
  #disposer: Disposer;
  #persisted: PersistedRoots = new Map();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #sizeFetches = 0;
  #indexing: ReturnType<typeof setImmediate> | undefined;
  #started = false;
  #stopped = false;

  constructor(deps: LibraryServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
    this.#disposer = new Disposer(deps.log);
    this.#sessionRoots = new Set((deps.sessionRoots ?? []).map((path) => resolve(path)));
    this.#index = new LibraryIndex(this.#context(deps.inventory?.current()));
  }

  on<K extends keyof LibraryEvents>(name: K, listener: (payload: LibraryEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** The in-memory index (benchmarks and tests read it directly). */
  get index(): LibraryIndex {
    return this.#index;
  }

  /**
   * Loads the saved index and shows it, then scans and watches every root in the background;
   * `ready()` resolves when those first scans are done.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    await this.#seed();
    this.#persisted = await loadPersistedIndex(this.#deps.cacheFile, this.#deps.log);
    this.#disposer.add(this.#deps.settings.on('changed', () => this.#reconcile()));
    if (this.#deps.inventory) {
      this.#disposer.add(this.#deps.inventory.on('changed', (inventory) => this.#setInventory(inventory)));
    }
    this.#reconcile();
    this.#flush();
  }

  /** Resolves when every root's first scan has finished. */
  async ready(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async stop(): Promise<void> {
    if (!this.#started || this.#stopped) return;
    this.#stopped = true;
    this.#started = false;
    this.#abort.abort();
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#saveTimer);
    clearImmediate(this.#indexing);
    await this.#disposer.dispose();
    this.#disposer = new Disposer(this.#deps.log);
    await Promise.all([...this.#roots.values()].map((root) => root.stop()));
    await Promise.allSettled([...this.#pending]);
    await this.#save();
    this.#roots.clear();
  }

  snapshot(): LibrarySnapshot {
    this.#flush();
    return { version: this.#index.version, serverId: this.#index.serverId, items: this.#index.cards() };
  }

  search(query: LibraryQuery): SearchResult {
    this.#flush();
    return this.#index.search(query);
  }

  matchIntent(text: string): IntentMatch {
    return matchIntent(text, this.#index);
  }

  records(): WorkflowRecord[] {
    return [...this.#index.records()];
  }

  details(id: string): WorkflowDetails {
    const record = this.#require(id);
    const context = this.#index.context;
    return {
      ...record,
      compat: this.#index.compat(id)!,
      filePath: join(record.root, ...record.path.split('/')),
      modelStates: record.models.map((model) => {
        const sizeBytes = modelSize(model, context);
        return {
          ...model,
          ...(sizeBytes === undefined ? {} : { sizeBytes }),
          state: modelState(model, context.inventory),
        };
      }),
      nodes: record.nodeTypes.map((type) => ({
        type,
        isKnown: context.inventory ? context.inventory.nodeTypes.has(type) : null,
      })),
    };
  }

  roots(): RootStatus[] {
    return [...this.#roots.values()].map((root) => root.status());
  }

  /** Adds a folder and remembers it in settings. It must be an existing folder given by its absolute path. */
  async addRoot(path: string): Promise<RootStatus[]> {
    if (!isAbsolute(path)) {
      throw new AppError(
        'workflow_root_invalid',
        `“${path}” is not a full folder path. Give the whole path, e.g. /home/me/workflows or C:\\Users\\me\\workflows.`,
        { details: { path } },
      );
    }
    const folder = resolve(path);
    const stats = await stat(folder).catch((error: unknown) => {
      throw new AppError(
        'workflow_root_invalid',
        systemErrorCode(error) === 'ENOENT'
          ? `The folder ${folder} does not exist. Nothing was added.`
          : `ComfyDesk cannot open ${folder}. Nothing was added; check the folder's permissions.`,
        {
          cause: error,
          details: { path: folder },
        },
      );
    });
    if (!stats.isDirectory())
      throw new AppError('workflow_root_invalid', `${folder} is a file, not a folder. Nothing was added.`, {
        details: { path: folder },
      });
    const library = this.#deps.settings.get().library;
    if (folder === resolve(this.#deps.appFolder)) {
      if (!library.includeAppFolder) this.#deps.settings.update({ library: { includeAppFolder: true } });
    } else if (!library.folders.some((existing) => resolve(existing) === folder)) {
      this.#deps.settings.update({ library: { folders: [...library.folders, folder] } });
    }
    return this.roots();
  }

  /** Stops watching a folder (its files are not touched) and forgets it in settings. */
  removeRoot(path: string): RootStatus[] {
    const folder = resolve(path);
    if (!this.#roots.has(folder))
      throw new AppError('not_found', `${folder} is not one of your workflow folders.`, { details: { path: folder } });
    const library = this.#deps.settings.get().library;
    if (this.#sessionRoots.delete(folder)) this.#reconcile();
    if (folder === resolve(this.#deps.appFolder) && library.includeAppFolder) {
      this.#deps.settings.update({ library: { includeAppFolder: false } });
    } else if (library.folders.some((existing) => resolve(existing) === folder)) {
      this.#deps.settings.update({
        library: { folders: library.folders.filter((existing) => resolve(existing) !== folder) },
      });
    }
    return this.roots();
  }

  async thumbnail(id: string): Promise<string | null> {
    const record = this.#require(id);
    if (!record.thumbnail) return null;
    const type = IMAGE_TYPES[extname(record.thumbnail).toLowerCase()];
    if (!type) return null;
    const file = join(record.root, ...record.thumbnail.split('/'));
    try {
      const stats = await stat(file);
      if (stats.size > MAX_THUMBNAIL_BYTES) return null;
      return `data:${type};base64,${(await readFile(file)).toString('base64')}`;
    } catch (error) {
      this.#deps.log.debug('thumbnail unreadable', { file, error });
      return null;
    }
  }

  async reveal(id: string): Promise<{ isRevealed: boolean; path: string }> {
    const { filePath } = this.details(id);
    const isRevealed = this.#deps.revealFile ? await this.#deps.revealFile(filePath) : false;
    return { isRevealed, path: filePath };
  }

  #require(id: string): WorkflowRecord {
    const record = this.#index.get(id);
    if (!record)
      throw new AppError(
        'workflow_not_found',
        'That workflow is no longer in your library; its file may have been moved or deleted.',
        { details: { id } },
      );
    return record;
  }

  #desiredRoots(): Map<string, RootSource> {
    const { library } = this.#deps.settings.get();
    const desired = new Map<string, RootSource>();
    if (library.includeAppFolder) desired.set(resolve(this.#deps.appFolder), 'app');
    for (const folder of library.folders) if (!desired.has(resolve(folder))) desired.set(resolve(folder), 'settings');
    for (const folder of this.#sessionRoots) if (!desired.has(folder)) desired.set(folder, 'session');
    return desired;
  }

  /** Starts roots that were added and stops the ones that were removed (settings changed, or at start). */
  #reconcile(): void {
    if (this.#stopped) return;
    const desired = this.#desiredRoots();
    for (const [path, root] of this.#roots) {
      if (desired.get(path) === root.source) continue;
      this.#roots.delete(path);
      this.#index.remove([...root.records].map((record) => record.id));
      this.#track(root.stop());
    }
    for (const [path, source] of desired) {
      if (this.#roots.has(path)) continue;
      const root = new WatchedRoot({
        path,
        source,
        log: this.#deps.log.child('root'),
        previous: this.#persisted.get(path),
        isWatching: this.#deps.isWatching,
        debounceMs: this.#deps.debounceMs,
        read: this.#deps.read,
        onChange: (upserted, removed) => {
          if (this.#roots.get(path) !== root) return;
          this.#index.remove(removed.map((record) => record.id));
          this.#index.upsert(upserted);
          this.#scheduleFlush();
        },
        onStatus: () => this.#emitRoots(),
      });
      this.#roots.set(path, root);
      this.#track(root.start());
    }
    this.#persisted.clear();
    this.#emitRoots();
    this.#scheduleFlush();
  }

  #track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => this.#deps.log.error('library work failed', { error }))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #emitRoots(): void {
    if (!this.#stopped) this.#emitter.emit('roots', this.roots());
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined || this.#stopped) return;
    // One delta per burst of changes (a folder copied in at once), not one per file.
    this.#flushTimer = setTimeout(() => this.#flush(), 10);
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const delta = this.#index.takeDelta();
    if (!delta) return;
    this.#emitter.emit('changed', delta);
    this.#scheduleSave();
    this.#fetchMissingSizes();
    this.#indexInBackground();
  }

  /** Builds the search index a slice at a time between other work, so neither a start nor a search stalls. */
  #indexInBackground(): void {
    if (this.#indexing !== undefined || this.#stopped || !this.#index.isIndexPending) return;
    this.#indexing = setImmediate(() => {
      this.#indexing = undefined;
      this.#index.catchUp(250);
      this.#indexInBackground();
    });
  }

  #scheduleSave(): void {
    if (this.#stopped) return;
    clearTimeout(this.#saveTimer);
    this.#saveTimer = setTimeout(() => void this.#save(), this.#deps.saveDelayMs ?? 2000);
  }

  async #save(): Promise<void> {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    const roots = new Map([...this.#roots].map(([path, root]) => [path, [...root.records]]));
    try {
      await savePersistedIndex(this.#deps.cacheFile, roots);
    } catch (error) {
      this.#deps.log.warn('library cache not saved; the next start scans from scratch', { error });
    }
  }

  async #seed(): Promise<void> {
    const { appFolder, samples, log } = this.#deps;
    if (!samples || !this.#deps.settings.get().library.includeAppFolder) return;
    const exists = await stat(appFolder).then(
      () => true,
      () => false,
    );
    // Only a brand-new folder is seeded: samples the user deleted stay deleted.
    if (exists) return;
    try {
      for (const sample of samples) {
        const target = join(appFolder, ...sample.path.split('/'));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, sample.content, { flag: 'wx' });
      }
    } catch (error) {
      log.warn('could not seed the sample workflows', { appFolder, error });
    }
  }

  #context(inventory: ServerInventory | undefined): CompatibilityContext {
    return {
      inventory: inventory ? prepareInventory(inventory) : undefined,
      catalog: this.#deps.catalog,
      runStats: this.#deps.runStats,
      sizeOf: (url) => this.#sizes.get(url),
    };
  }

  #setInventory(inventory: ServerInventory | undefined): void {
    if (this.#stopped) return;
    this.#index.setContext(this.#context(inventory));
    this.#scheduleFlush();
  }

  /** Asks for the sizes of missing models that have a download URL, a few at a time, never twice. */
  #fetchMissingSizes(): void {
    const fetchSize = this.#deps.fetchModelSize;
    if (!fetchSize || !this.#index.context.inventory) return;
    const wanted: string[] = [];
    for (const record of this.#index.records()) {
      for (const model of this.#index.compat(record.id)?.missing ?? []) {
        if (model.url && model.sizeBytes === undefined && !this.#sizeRequested.has(model.url)) {
          this.#sizeRequested.add(model.url);
          wanted.push(model.url);
        }
      }
    }
    const queue = [...wanted];
    const next = (): void => {
      if (this.#stopped || this.#sizeFetches >= SIZE_FETCH_CONCURRENCY) return;
      const url = queue.shift();
      if (url === undefined) return;
      this.#sizeFetches += 1;
      const work = fetchSize(url, this.#abort.signal)
        .then((size) => {
          if (size === undefined || this.#stopped) return;
          this.#sizes.set(url, size);
          this.#index.setContext(this.#context(this.#deps.inventory?.current()), (record) =>
            record.models.some((model) => model.url === url),
          );
          this.#scheduleFlush();
        })
        .catch((error: unknown) => this.#deps.log.debug('model size unknown', { url, error }))
        .finally(() => {
          this.#sizeFetches -= 1;
          next();
        });
      this.#track(work);
      next();
    };
    next();
  }
}
