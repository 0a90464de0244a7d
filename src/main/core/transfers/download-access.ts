import type { TokenProvider, TokenStatus } from '@shared/domain/transfer';
import type { SecretStore } from '../connections/secret-store';
import type { Logger } from '../lib/logger';
import { tokenHeaders, tokenProviderOf } from './http-answers';
import { probeHttp, type HttpProbe } from './url-probe';

const SECRET_PREFIX = 'transfers:token:';
const PROBE_TTL_MS = 10 * 60_000;

export interface DownloadAccessDeps {
  secrets: SecretStore;
  log: Logger;
  now: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Tokens from the environment (`HF_TOKEN`, `CIVITAI_TOKEN`) and a Hugging Face mirror (`HF_ENDPOINT`). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * Access to download addresses: the user's tokens (kept as secrets, or from the environment), the
 * headers a download sends with them, and HEAD probes from this machine, cached for a while.
 */
export class DownloadAccess {
  readonly #deps: DownloadAccessDeps;
  readonly #probes = new Map<string, { at: number; probe: Promise<HttpProbe | undefined> }>();

  constructor(deps: DownloadAccessDeps) {
    this.#deps = deps;
  }

  tokens(): TokenStatus {
    return {
      huggingface: this.token('huggingface') !== undefined,
      civitai: this.token('civitai') !== undefined,
      storage: this.#deps.secrets.kind,
    };
  }

  setToken(provider: TokenProvider, token: string): TokenStatus {
    const value = token.trim();
    if (value) this.#deps.secrets.set(`${SECRET_PREFIX}${provider}`, value);
    else this.#deps.secrets.delete(`${SECRET_PREFIX}${provider}`);
    this.#probes.clear();
    return this.tokens();
  }

  token(provider: TokenProvider): string | undefined {
    const stored = this.#deps.secrets.get(`${SECRET_PREFIX}${provider}`);
    if (stored) return stored;
    const env = this.#deps.env ?? process.env;
    const value =
      provider === 'huggingface'
        ? (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)
        : (env.CIVITAI_TOKEN ?? env.CIVITAI_API_TOKEN);
    return value?.trim() || undefined;
  }

  /** Hosts that stand for Hugging Face (`HF_ENDPOINT`). */
  mirrorHosts(): string[] {
    const endpoint = (this.#deps.env ?? process.env).HF_ENDPOINT;
    try {
      return endpoint ? [new URL(endpoint).hostname] : [];
    } catch {
      return [];
    }
  }

  providerOf(url: string): TokenProvider | undefined {
    return tokenProviderOf(url, this.mirrorHosts());
  }

  headersFor(url: string): Record<string, string> {
    const provider = this.providerOf(url);
    return provider ? tokenHeaders(this.token(provider)) : {};
  }

  /** A HEAD from this machine (undefined when it cannot reach the address), cached for ten minutes unless `fresh`. */
  async probe(url: string, fresh = false): Promise<HttpProbe | undefined> {
    const cached = this.#probes.get(url);
    if (!fresh && cached && this.#deps.now() - cached.at < PROBE_TTL_MS) return cached.probe;
    const probe = probeHttp(this.#deps.fetch ?? globalThis.fetch, url, this.headersFor(url)).catch((error: unknown) => {
      this.#deps.log.debug('download address not reachable from here', { url, error });
      return undefined;
    });
    this.#probes.set(url, { at: this.#deps.now(), probe });
    return probe;
  }
}
