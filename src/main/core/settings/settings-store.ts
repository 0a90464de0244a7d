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
