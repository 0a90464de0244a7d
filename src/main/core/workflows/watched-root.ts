import { stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { RootSource, RootStatus, WorkflowRecord } from '@shared/domain/workflow';
import { Disposer } from '../lib/disposer';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { scanFile, scanRoot, type ReadWorkflow } from './scan-root';
import { readWorkflowFile } from './scan-file';
import { MAX_DEPTH, isHiddenName, isThumbnailName, isWorkflowFileName, thumbnailFor, walkRoot } from './walk';

/** What one watched root is built from. */
export interface WatchedRootDeps {
  path: string;
  source: RootSource;
  log: Logger;
  /** Records saved by the last run, by relative path: shown at once, then checked by the scan. */
  previous?: ReadonlyMap<string, WorkflowRecord>;
  /** Watch for changes after the first scan. @default true */
  isWatching?: boolean;
  /** Quiet time after the last change to a file before it is read, ms. @default 200 */
  debounceMs?: number;
  read?: ReadWorkflow;
  /** Told about every change: records added or replaced, and records gone. */
  onChange: (upserted: WorkflowRecord[], removed: WorkflowRecord[]) => void;
  /** Told when the root's status changes. */
  onStatus: () => void;
}

/** A file still being written shows up cut short; it is read again this many times before the error stands. */
const MAX_INCOMPLETE_RETRIES = 5;

/**
 * One workflow folder: a first full scan, then chokidar events, each file read once after it has
 * been quiet for `debounceMs` (a file written in chunks is read once, complete). Symlink loops,
 * hidden folders, unreadable folders and vanished files are all taken in stride.
 */
export class WatchedRoot {
  readonly path: string;
  readonly source: RootSource;
  readonly #deps: WatchedRootDeps;
  readonly #records = new Map<string, WorkflowRecord>();
  readonly #images = new Map<string, Set<string>>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #retries = new Map<string, number>();
  /**
   * Reads in flight, by path: a read whose token is gone when it answers was overtaken by the file
   * or its folder going away, and what it read must not bring the path back.
   */
  readonly #reads = new Map<string, symbol>();
  /** Paths and folders (as `folder/`) removed while the first scan was under way. */
  readonly #goneDuringScan = new Set<string>();
  /** Paths the watcher read while the first scan was under way: newer than what the scan found. */
  readonly #readDuringScan = new Set<string>();
  #isFirstScan = true;
  readonly #disposer: Disposer;
  /** Ends a first scan still under way when the root is stopped. */
  readonly #abort = new AbortController();
  #state: RootStatus['state'] = 'scanning';
  #message: string | null = null;
  #watcher: FSWatcher | undefined;
  #stopped = false;
  #started: Promise<void> | undefined;

  constructor(deps: WatchedRootDeps) {
    this.#deps = deps;
    this.path = deps.path;
    this.source = deps.source;
    this.#disposer = new Disposer(deps.log);
  }

  get records(): IterableIterator<WorkflowRecord> {
    return this.#records.values();
  }

  status(): RootStatus {
    let errorCount = 0;
    for (const record of this.#records.values()) if (record.error) errorCount += 1;
    return {
      path: this.path,
      source: this.source,
      state: this.#state,
      workflowCount: this.#records.size - errorCount,
      errorCount,
      message: this.#message,
    };
  }

  /** Shows the saved records, scans, then watches. Resolves when the first scan is done. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#disposer.dispose();
  }

  async #start(): Promise<void> {
    const { previous, log } = this.#deps;
    if (previous && previous.size > 0) this.#apply([...previous.values()], []);
    const problem = await this.#checkFolder();
    if (problem) {
      this.#setState(problem.state, problem.message);
      this.#apply([], [...this.#records.values()]);
      return;
    }
    try {
      if (this.#deps.isWatching ?? true) await this.#watch();
      if (this.#stopped) return;
      const result = await scanRoot(this.path, { previous, read: this.#deps.read, signal: this.#abort.signal });
      this.#isFirstScan = false;
      if (this.#stopped) return;
      for (const [folder, images] of result.images) this.#images.set(folder, images);
      // What the watcher saw go away while the scan was reading is gone, whatever the scan found; what
      // it read meanwhile is newer than the scan's copy, and stays.
      const records = result.records.filter(
        (record) => !this.#wasRemovedDuringScan(record.path) && !this.#readDuringScan.has(record.path),
      );
      const found = new Map(records.map((record) => [record.path, record]));
      const removed = [...this.#records.values()].filter(
        (record) => !found.has(record.path) && !this.#readDuringScan.has(record.path),
      );
      this.#goneDuringScan.clear();
      this.#readDuringScan.clear();
      const upserted = records.filter((record) => this.#records.get(record.path) !== record);
      this.#apply(upserted, removed);
      const skipped = result.problems.map((item) => item.path || '(the folder itself)');
      this.#setState(
        this.#watcher ? 'watching' : 'scanned',
        skipped.length > 0
          ? `Some folders could not be read and were skipped: ${skipped.slice(0, 3).join(', ')}${skipped.length > 3 ? '…' : ''}.`
          : null,
      );
      log.debug('root scanned', { path: this.path, files: result.records.length, read: result.readCount });
    } catch (error) {
      this.#isFirstScan = false;
      this.#goneDuringScan.clear();
      this.#readDuringScan.clear();
      if (this.#stopped) return; // stopped mid-scan: nothing to report
      log.warn('root scan failed', { path: this.path, error });
      this.#setState(
        'error',
        `ComfyDesk could not read this folder (${systemErrorCode(error) ?? 'unknown error'}). Check that it is reachable and readable.`,
      );
    }
  }

  async #checkFolder(): Promise<{ state: 'missing' | 'error'; message: string } | undefined> {
    try {
      const stats = await stat(this.path);
      if (!stats.isDirectory()) return { state: 'error', message: 'This is a file, not a folder.' };
      return undefined;
    } catch (error) {
      const code = systemErrorCode(error);
      if (code === 'ENOENT')
        return {
          state: 'missing',
          message: 'The folder does not exist (any more). Create it, reconnect its drive, or remove it here.',
        };
      return {
        state: 'error',
        message:
          code === 'EACCES' || code === 'EPERM'
            ? 'ComfyDesk is not allowed to read this folder.'
            : `The folder cannot be read (${code ?? 'unknown error'}).`,
      };
    }
  }

  #relative(absolute: string): string {
    return relative(this.path, absolute).split(sep).join('/');
  }

  async #watch(): Promise<void> {
    const watcher = watch(this.path, {
      ignoreInitial: true,
      followSymlinks: true,
      depth: MAX_DEPTH,
      // Only below the root: the root itself may sit in a hidden folder (~/.config/ComfyDesk).
      ignored: (absolute, stats) => {
        const rel = this.#relative(absolute);
        if (rel === '' || rel.startsWith('..')) return false;
        const parts = rel.split('/');
        if (parts.some(isHiddenName)) return true;
        const name = parts[parts.length - 1]!;
        return stats?.isFile() === true && !isWorkflowFileName(name) && !isThumbnailName(name);
      },
    });
    this.#watcher = watcher;
    this.#disposer.add(() => watcher.close());
    watcher.on('add', (absolute) => this.#onFile(this.#relative(absolute), 'add'));
    watcher.on('change', (absolute) => this.#onFile(this.#relative(absolute), 'change'));
    watcher.on('unlink', (absolute) => this.#onFile(this.#relative(absolute), 'unlink'));
    watcher.on('addDir', (absolute) => void this.#onAddDir(this.#relative(absolute)));
    watcher.on('unlinkDir', (absolute) => this.#onUnlinkDir(this.#relative(absolute)));
    watcher.on('error', (error) => this.#deps.log.warn('watch error', { path: this.path, error }));
    // A root stopped before chokidar is ready must not leave its start waiting forever.
    await new Promise<void>((resolve) => {
      watcher.once('ready', resolve);
      this.#abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  #onFile(rel: string, event: 'add' | 'change' | 'unlink'): void {
    if (this.#stopped || rel === '' || rel.startsWith('..')) return;
    const slash = rel.lastIndexOf('/');
    const folder = slash >= 0 ? rel.slice(0, slash) : '';
    const name = rel.slice(slash + 1);
    if (isWorkflowFileName(name)) {
      if (event === 'unlink') {
        this.#cancel(rel);
        if (this.#isFirstScan) this.#goneDuringScan.add(rel);
        const record = this.#records.get(rel);
        if (record) this.#apply([], [record]);
      } else {
        this.#schedule(rel);
      }
      return;
    }
    if (!isThumbnailName(name)) return;
    const images = this.#images.get(folder) ?? new Set<string>();
    if (event === 'unlink') images.delete(name);
    else images.add(name);
    this.#images.set(folder, images);
    // Only the thumbnail of the workflow with the same base name changes; no file is read again.
    const updated: WorkflowRecord[] = [];
    for (const record of this.#records.values()) {
      if (!record.path.startsWith(folder === '' ? '' : `${folder}/`)) continue;
      const thumbnail = thumbnailFor(record.path, images);
      if (thumbnail !== record.thumbnail && record.path.lastIndexOf('/') === slash)
        updated.push({ ...record, thumbnail });
    }
    if (updated.length > 0) this.#apply(updated, []);
  }

  async #onAddDir(rel: string): Promise<void> {
    if (this.#stopped || rel === '' || rel.startsWith('..')) return;
    // chokidar reports files of a new folder itself; walking it too catches files moved in before its watch began.
    try {
      const folders = await walkRoot(join(this.path, rel));
      for (const folder of folders) {
        const prefix = folder.folder === '' ? rel : `${rel}/${folder.folder}`;
        if (folder.images.length > 0) this.#images.set(prefix, new Set(folder.images));
        for (const path of folder.workflows) this.#schedule(`${rel}/${path}`);
      }
    } catch (error) {
      this.#deps.log.debug('new folder vanished before it was read', { rel, error });
    }
  }

  #onUnlinkDir(rel: string): void {
    if (this.#stopped || rel === '') return;
    const prefix = `${rel}/`;
    const removed = [...this.#records.values()].filter((record) => record.path.startsWith(prefix));
    // Files below it that are waiting to be read or being read have no record yet: stop those too.
    for (const path of new Set([
      ...removed.map((record) => record.path),
      ...this.#timers.keys(),
      ...this.#reads.keys(),
    ]))
      if (path.startsWith(prefix)) this.#cancel(path);
    if (this.#isFirstScan) this.#goneDuringScan.add(prefix);
    for (const folder of [...this.#images.keys()])
      if (folder === rel || folder.startsWith(prefix)) this.#images.delete(folder);
    if (removed.length > 0) this.#apply([], removed);
  }

  #schedule(rel: string, delayMs = this.#deps.debounceMs ?? 200): void {
    clearTimeout(this.#timers.get(rel));
    this.#timers.set(
      rel,
      setTimeout(() => {
        this.#timers.delete(rel);
        void this.#readChanged(rel);
      }, delayMs),
    );
  }

  #cancel(rel: string): void {
    clearTimeout(this.#timers.get(rel));
    this.#timers.delete(rel);
    this.#retries.delete(rel);
    this.#reads.delete(rel);
  }

  #wasRemovedDuringScan(rel: string): boolean {
    if (this.#goneDuringScan.has(rel)) return true;
    for (const gone of this.#goneDuringScan) if (gone.endsWith('/') && rel.startsWith(gone)) return true;
    return false;
  }

  async #readChanged(rel: string): Promise<void> {
    const slash = rel.lastIndexOf('/');
    const images = this.#images.get(slash >= 0 ? rel.slice(0, slash) : '') ?? new Set<string>();
    const token = Symbol(rel);
    this.#reads.set(rel, token);
    const record = await scanFile(this.path, rel, thumbnailFor(rel, images), this.#deps.read ?? readWorkflowFile);
    // The file or its folder went away while it was read: what was read must not bring it back.
    if (this.#reads.get(rel) !== token) return;
    this.#reads.delete(rel);
    if (this.#stopped || this.#timers.has(rel)) return; // stopped, or changed again while being read: the next read counts
    if (!record) {
      if (this.#isFirstScan) this.#goneDuringScan.add(rel);
      const existing = this.#records.get(rel);
      if (existing) this.#apply([], [existing]);
      return;
    }
    // A writer that pauses longer than the debounce leaves a cut-short file: look again shortly instead of reporting it.
    const incomplete = record.error?.code === 'truncated' || record.error?.code === 'empty';
    const retries = this.#retries.get(rel) ?? 0;
    if (incomplete && retries < MAX_INCOMPLETE_RETRIES && Date.now() - record.modifiedMs < 5_000) {
      this.#retries.set(rel, retries + 1);
      this.#schedule(rel, (this.#deps.debounceMs ?? 200) * 2);
      return;
    }
    this.#retries.delete(rel);
    if (this.#isFirstScan) this.#readDuringScan.add(rel);
    const existing = this.#records.get(rel);
    if (
      existing &&
      existing.modifiedMs === record.modifiedMs &&
      existing.fileSizeBytes === record.fileSizeBytes &&
      existing.thumbnail === record.thumbnail
    )
      return;
    this.#apply([record], []);
  }

  #apply(upserted: WorkflowRecord[], removed: WorkflowRecord[]): void {
    for (const record of removed) this.#records.delete(record.path);
    for (const record of upserted) this.#records.set(record.path, record);
    if (upserted.length > 0 || removed.length > 0) {
      this.#deps.onChange(upserted, removed);
      this.#deps.onStatus();
    }
  }

  #setState(state: RootStatus['state'], message: string | null): void {
    this.#state = state;
    this.#message = message;
    this.#deps.onStatus();
  }
}
