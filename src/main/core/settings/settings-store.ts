import { readFileSync } from 'node:fs';

/**
 * Where settings live. The Electron shell backs it with electron-store, serve mode and the CLI with
 * conf; both write the same JSON file, so the desktop app and serve mode share one configuration.
 */
export interface SettingsStore {
  /** The file behind the store, for messages and for moving a damaged file aside. */
  readonly location: string;
  /** The stored object. Throws when the file exists but cannot be read or parsed. */
  read(): unknown;
  write(value: Record<string, unknown>): void;
}

/** The part of conf / electron-store the adapter uses (electron-store extends conf). */
export interface ConfLike {
  readonly path: string;
  store: Record<string, unknown>;
}

/** What a settings file holds when it parses but is not settings: `[1,2]`, `"text"`, `42`, `null`. */
export class NotSettingsError extends Error {
  constructor(location: string, holds: string) {
    super(`${location} holds ${holds}, not settings (an object)`);
    this.name = 'NotSettingsError';
  }
}

/** What a parsed JSON value is, in words, when it is not an object. */
export function notAnObject(value: unknown): string | undefined {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? undefined : `a single ${typeof value}`;
}

/**
 * conf reads any JSON that is not an object as an empty store, and the next write replaces the file:
 * `[1,2]` would be lost without a word. Such a file is refused here, so it is moved aside like a
 * damaged one. Files that do not parse are left to conf, which refuses them itself.
 */
function refuseNonObjectFile(location: string): void {
  let text: string;
  try {
    text = readFileSync(location, 'utf8');
  } catch {
    return; // no file yet (or unreadable: conf reports it)
  }
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return;
  }
  const holds = notAnObject(value);
  if (holds) throw new NotSettingsError(location, holds);
}

/**
 * Adapts a conf-style store. The store is created lazily, and again after a failure, because conf
 * reads its file while constructing and a damaged file must be moved aside before a retry.
 */
export function confSettingsStore(create: () => ConfLike, location: string): SettingsStore {
  let conf: ConfLike | undefined;
  const open = (): ConfLike => (conf ??= create());
  return {
    location,
    read() {
      try {
        if (!conf) refuseNonObjectFile(location);
        return open().store;
      } catch (error) {
        conf = undefined;
        throw error;
      }
    },
    write(value) {
      open().store = value;
    },
  };
}

/** An in-memory store for tests and for `--ephemeral` runs. */
export class MemorySettingsStore implements SettingsStore {
  readonly location = '(memory)';
  value: unknown;
  failNextRead: Error | undefined;

  constructor(initial?: unknown) {
    this.value = initial;
  }

  read(): unknown {
    if (this.failNextRead) {
      const error = this.failNextRead;
      this.failNextRead = undefined;
      throw error;
    }
    return this.value ?? {};
  }

  write(value: Record<string, unknown>): void {
    this.value = structuredClone(value);
  }
}
