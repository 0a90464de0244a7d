import { renameSync } from 'node:fs';
import { Settings, type SettingsPatch } from '@shared/domain/settings';
import type { NoticeCenter } from '../app/notice-center';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { NotSettingsError, notAnObject, type SettingsStore } from './settings-store';

interface SettingsEvents {
  changed: Settings;
}

export interface SettingsServiceDeps {
  store: SettingsStore;
  notices: NoticeCenter;
  log: Logger;
  now?: () => Date;
  /** Moves a damaged file aside; injectable so tests need no real file. @default fs.renameSync */
  moveFile?: (from: string, to: string) => void;
  /**
   * Checks a change needs beyond its schema (the outputs folder against the disk), run before it is
   * saved; each problem is reported like a schema issue. @default none
   */
  check?: (next: Settings, previous: Settings) => SettingsIssue[];
}

/** A problem with one setting, by its dotted path (`generation.outputsDir`). */
export interface SettingsIssue {
  path: string;
  message: string;
}

/**
 * Owns the settings: reads them once at start, validates every change, writes them back, and
 * tells listeners. A damaged settings file is never wiped: it is moved aside as
 * `<file>.corrupt-<date>` and the user is told where it went.
 */
export class SettingsService {
  readonly #deps: SettingsServiceDeps;
  readonly #emitter: Emitter<SettingsEvents>;
  #current: Settings = Settings.parse({});
  #started = false;

  constructor(deps: SettingsServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#current = this.#load();
  }

  async stop(): Promise<void> {
    this.#started = false;
  }

  get(): Settings {
    return this.#current;
  }

  /** Merges each section of `patch` one level deep, validates, persists and announces the result. */
  update(patch: SettingsPatch): Settings {
    const merged: Record<string, unknown> = { ...this.#current };
    for (const [section, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      const base = merged[section];
      merged[section] = isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
    }
    const parsed = Settings.safeParse(merged);
    const issues: SettingsIssue[] = parsed.success
      ? (this.#deps.check?.(parsed.data, this.#current) ?? [])
      : parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    if (!parsed.success || issues.length > 0) {
      // A problem only the disk could tell is named in the message itself; schema problems sit beside their fields.
      const only = parsed.success && issues.length === 1 ? issues[0]!.message : undefined;
      throw new AppError(
        'invalid_input',
        only ? `${only} Nothing was changed.` : 'Those settings are not valid; nothing was changed.',
        {
          details: { issues },
        },
      );
    }
    this.#persist(parsed.data);
    this.#current = parsed.data;
    this.#emitter.emit('changed', parsed.data);
    return parsed.data;
  }

  on<K extends keyof SettingsEvents>(name: K, listener: (payload: SettingsEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  #persist(settings: Settings): void {
    try {
      this.#deps.store.write(settings);
    } catch (error) {
      throw new AppError(
        'io_error',
        `Your settings could not be saved to ${this.#deps.store.location}. They apply until ComfyDesk closes.`,
        { cause: error },
      );
    }
  }

  #load(): Settings {
    const { store, log } = this.#deps;
    let raw: unknown;
    try {
      raw = store.read();
    } catch (error) {
      log.warn('settings file unreadable', { location: store.location, error });
      const movedTo = this.#moveAside();
      this.#tellMovedAside(error instanceof NotSettingsError ? 'is not a settings file' : 'could not be read', movedTo);
      return Settings.parse({});
    }
    // Valid JSON that is not an object ([1,2], a number) is as unusable as a damaged file: moved aside, not salvaged.
    const holds = raw === undefined ? undefined : notAnObject(raw);
    if (holds) {
      log.warn('settings file is not an object', { location: store.location, holds });
      const movedTo = this.#moveAside();
      this.#tellMovedAside('is not a settings file', movedTo);
      return Settings.parse({});
    }
    const parsed = Settings.safeParse(raw ?? {});
    if (parsed.success) return parsed.data;

    // Keep every section that still parses; fall back to defaults only for the broken ones.
    log.warn('settings file has invalid values', { issues: parsed.error.issues });
    const salvaged: Record<string, unknown> = {};
    if (isPlainObject(raw)) {
      for (const [key, schema] of Object.entries(Settings.shape)) {
        const section = schema.safeParse(raw[key]);
        if (section.success) salvaged[key] = section.data;
      }
    }
    const movedTo = this.#copyAside(raw);
    const settings = Settings.parse(salvaged);
    this.#tellMovedAside('had values ComfyDesk does not understand; those were reset', movedTo);
    this.#persistQuietly(settings);
    return settings;
  }

  #stamp(): string {
    return (this.#deps.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  }

  #moveAside(): string | undefined {
    const { store, log } = this.#deps;
    const target = `${store.location}.corrupt-${this.#stamp()}`;
    try {
      (this.#deps.moveFile ?? renameSync)(store.location, target);
      return target;
    } catch (error) {
      log.error('could not move damaged settings aside', { error });
      return undefined;
    }
  }

  /** The file parsed but had invalid values: keep a copy of the original before rewriting it. */
  #copyAside(raw: unknown): string | undefined {
    const moved = this.#moveAside();
    if (moved === undefined && isPlainObject(raw))
      this.#deps.log.warn('original settings kept only in the log', { raw });
    return moved;
  }

  #persistQuietly(settings: Settings): void {
    try {
      this.#deps.store.write(settings);
    } catch (error) {
      this.#deps.log.error('could not rewrite settings', { error });
    }
  }

  #tellMovedAside(problem: string, movedTo: string | undefined): void {
    const where = movedTo ? ` The original was kept as ${movedTo}.` : '';
    this.#deps.notices.raise('warning', `Your settings file ${problem}, so defaults are in use.${where}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
