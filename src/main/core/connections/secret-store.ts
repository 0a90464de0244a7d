import type { SecretStorageKind } from '@shared/domain/connection';

/**
 * Where connection secrets (SSH key passphrases, proxy tokens) live. The desktop app backs it with
 * Electron's safeStorage (the OS keychain); serve mode and the CLI have no keychain, so they keep
 * secrets in memory for the session only. Secrets are never written to settings and never logged.
 */
export interface SecretStore {
  readonly kind: SecretStorageKind;
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): void;
}

/** Secrets held in this process only: gone when it exits (serve mode, CLI, tests). */
export class MemorySecretStore implements SecretStore {
  readonly kind = 'session-memory' as const;
  readonly #values = new Map<string, string>();

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: string): void {
    this.#values.set(key, value);
  }

  delete(key: string): void {
    this.#values.delete(key);
  }
}

/** The secret names a profile may have. */
export const SECRET_NAMES = ['passphrase', 'headerValue', 'apiKey'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/** The secret store key of one secret of one profile. */
export function secretKey(profileId: string, name: SecretName): string {
  return `connection:${profileId}:${name}`;
}
