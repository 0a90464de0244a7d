import type { SafeStorage } from 'electron';
import type { SecretStorageKind } from '@shared/domain/connection';
import { MemorySecretStore, type SecretStore } from '../core/connections/secret-store';
import type { Logger } from '../core/lib/logger';

/** Where the encrypted values are kept (a separate electron-store file, never settings.json). */
export interface EncryptedValues {
  read(): Record<string, string>;
  write(values: Record<string, string>): void;
}

type SafeStorageLike = Pick<
  SafeStorage,
  'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync' | 'getSelectedStorageBackend'
>;

/**
 * Secrets encrypted by Electron's safeStorage (Keychain on macOS, DPAPI on Windows, the Secret
 * Service or KWallet on Linux). Values are decrypted once at start into memory so reads are
 * synchronous; writes are encrypted and persisted in the background.
 */
export class SafeStorageSecretStore implements SecretStore {
  readonly kind: SecretStorageKind = 'os-keychain';
  readonly #values = new Map<string, string>();
  readonly #encrypted: Record<string, string>;
  readonly #deps: { safeStorage: SafeStorageLike; file: EncryptedValues; log: Logger };
  #writes: Promise<void> = Promise.resolve();

  private constructor(deps: { safeStorage: SafeStorageLike; file: EncryptedValues; log: Logger }) {
    this.#deps = deps;
    this.#encrypted = { ...deps.file.read() };
  }

  /** Opens the store and decrypts what it holds; a value that no longer decrypts (another machine's key) is dropped and logged by name only. */
  static async open(deps: {
    safeStorage: SafeStorageLike;
    file: EncryptedValues;
    log: Logger;
  }): Promise<SafeStorageSecretStore> {
    const store = new SafeStorageSecretStore(deps);
    for (const [key, value] of Object.entries(store.#encrypted)) {
      try {
        store.#values.set(key, (await deps.safeStorage.decryptStringAsync(Buffer.from(value, 'base64'))).result);
      } catch {
        deps.log.warn('a stored secret could not be decrypted and was dropped', { key });
        delete store.#encrypted[key];
      }
    }
    return store;
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: string): void {
    this.#values.set(key, value);
    this.#persist(async () => {
      this.#encrypted[key] = (await this.#deps.safeStorage.encryptStringAsync(value)).toString('base64');
    });
  }

  delete(key: string): void {
    this.#values.delete(key);
    this.#persist(async () => {
      delete this.#encrypted[key];
    });
  }

  /** Resolves when every write so far reached the file. */
  flushed(): Promise<void> {
    return this.#writes;
  }

  #persist(change: () => Promise<void>): void {
    this.#writes = this.#writes
      .then(change)
      .then(() => this.#deps.file.write({ ...this.#encrypted }))
      .catch((error: unknown) =>
        this.#deps.log.error('could not save an encrypted secret', {
          error: error instanceof Error ? error.message : 'unknown',
        }),
      );
  }
}

/**
 * The desktop app's secret store: safeStorage when the OS offers real encryption. On Linux without
 * a keyring Electron falls back to a hard-coded key (`basic_text`), which is not protection, so
 * secrets are then kept in memory for the session only and the Connections screen says so.
 */
export async function createDesktopSecretStore(deps: {
  safeStorage: SafeStorageLike;
  file: EncryptedValues;
  platform: string;
  log: Logger;
}): Promise<SecretStore> {
  const isAvailable = await deps.safeStorage.isAsyncEncryptionAvailable().catch(() => false);
  const isWeak = deps.platform === 'linux' && deps.safeStorage.getSelectedStorageBackend() === 'basic_text';
  if (!isAvailable || isWeak) {
    deps.log.warn('no OS keychain: connection secrets are kept for this session only', { platform: deps.platform });
    return new MemorySecretStore();
  }
  return SafeStorageSecretStore.open(deps);
}
