import { z } from 'zod';
import { backoffDelayMs, type BackoffOptions } from '@shared/backoff';
import { PodDesiredStatus, RUNPOD_API_URL, type Pod } from '@shared/domain/pod';
import type { FetchLike } from '../comfy/comfy-client';
import { AppError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

// RunPod's REST API v1, only what ComfyDesk uses (https://docs.runpod.io/api-reference, OpenAPI at
// https://rest.runpod.io/v1/openapi.json):
//   GET  /pods                 → Pod[]            (api-reference/pods/GET/pods)
//   GET  /pods/{podId}         → Pod, 404         (api-reference/pods/GET/pods/podId)
//   POST /pods/{podId}/stop    → 200              (api-reference/pods/POST/pods/podId/stop)
//   POST /pods/{podId}/start   → 200              (api-reference/pods/POST/pods/podId/start)
// Authentication is `Authorization: Bearer <API key>`; errors carry `{"message": "..."}`.

/** A pod as the API sends it, read leniently: only the fields ComfyDesk shows are checked. */
const RawPod = z
  .object({
    id: z.string().min(1),
    name: z.string().nullish(),
    desiredStatus: z.string(),
    // The schema says number, its own example a string ("0.74"): take both.
    costPerHr: z.union([z.number(), z.string()]).nullish(),
    gpu: z.object({ displayName: z.string().nullish(), count: z.number().nullish() }).loose().nullish(),
    machine: z.object({ gpuDisplayName: z.string().nullish() }).loose().nullish(),
    publicIp: z.string().nullish(),
    portMappings: z.record(z.string(), z.union([z.number(), z.string()])).nullish(),
    ports: z.array(z.string()).nullish(),
    image: z.string().nullish(),
    lastStatusChange: z.string().nullish(),
  })
  .loose();

/** A pod from the API as ComfyDesk's `Pod`. */
export function toPod(raw: z.infer<typeof RawPod>): Pod {
  const cost = raw.costPerHr === undefined || raw.costPerHr === null ? null : Number(raw.costPerHr);
  const status = PodDesiredStatus.safeParse(raw.desiredStatus);
  const mappings: Record<string, number> = {};
  for (const [internal, external] of Object.entries(raw.portMappings ?? {})) {
    const port = Number(external);
    if (Number.isInteger(port) && port > 0) mappings[internal] = port;
  }
  return {
    id: raw.id,
    name: raw.name?.trim() || raw.id,
    // An unknown status is treated as not running: nothing is started or billed on a guess.
    desiredStatus: status.success ? status.data : 'EXITED',
    costPerHr: cost !== null && Number.isFinite(cost) ? cost : null,
    gpuName: raw.gpu?.displayName ?? raw.machine?.gpuDisplayName ?? null,
    gpuCount: raw.gpu?.count ?? null,
    publicIp: raw.publicIp || null,
    portMappings: mappings,
    ports: raw.ports ?? [],
    image: raw.image ?? null,
    lastStatusChange: raw.lastStatusChange ?? null,
  };
}

/** What the API client needs. */
export interface RunPodApiDeps {
  /** The account's API key; sent as a bearer token, never logged. */
  apiKey: string;
  /** @default https://rest.runpod.io/v1 */
  baseUrl?: string;
  fetch?: FetchLike;
  log: Logger;
  /** Deadline of one request. @default 20000 */
  timeoutMs?: number;
  /** Tries of a rate-limited (429) or briefly failing (502/503/504) request before giving up. @default 4 */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Waits between tries (tests pass one that does not sleep). @default setTimeout */
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The longest a Retry-After is honoured before giving up and telling the user. */
const MAX_RETRY_AFTER_MS = 30_000;

/**
 * RunPod's REST API for one API key: list pods, read one, stop and start it. Rate limiting (429) is
 * retried with the server's Retry-After or backoff; a bad key, an unknown pod and an unreachable API
 * become AppErrors a person can act on.
 */
export class RunPodApi {
  readonly #deps: RunPodApiDeps;
  readonly #fetch: FetchLike;
  readonly baseUrl: string;

  constructor(deps: RunPodApiDeps) {
    this.#deps = deps;
    this.#fetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.baseUrl = (deps.baseUrl ?? RUNPOD_API_URL).replace(/\/+$/, '');
  }

  /** Every pod of the account (Serverless workers left out, as the API does by default). */
  async listPods(signal?: AbortSignal): Promise<Pod[]> {
    const raw = await this.#call('GET', '/pods', signal);
    const parsed = z.array(RawPod).safeParse(raw);
    if (!parsed.success) throw this.#unexpected('/pods');
    return parsed.data.map(toPod);
  }

  async getPod(podId: string, signal?: AbortSignal): Promise<Pod> {
    const raw = await this.#call('GET', `/pods/${encodeURIComponent(podId)}`, signal, podId);
    const parsed = RawPod.safeParse(raw);
    if (!parsed.success) throw this.#unexpected('/pods/{podId}');
    return toPod(parsed.data);
  }

  /** Asks RunPod to stop the pod (its volume is kept; billing for the GPU ends once it has stopped). */
  async stopPod(podId: string, signal?: AbortSignal): Promise<void> {
    await this.#call('POST', `/pods/${encodeURIComponent(podId)}/stop`, signal, podId);
  }

  /** Asks RunPod to start (resume) a stopped pod. */
  async startPod(podId: string, signal?: AbortSignal): Promise<void> {
    await this.#call('POST', `/pods/${encodeURIComponent(podId)}/start`, signal, podId);
  }

  async #call(method: 'GET' | 'POST', path: string, signal: AbortSignal | undefined, podId?: string): Promise<unknown> {
    const attempts = Math.max(1, this.#deps.attempts ?? 4);
    for (let attempt = 0; ; attempt += 1) {
      const response = await this.#send(method, path, signal);
      const text = await response.text().catch(() => '');
      if (response.ok) {
        if (!text.trim()) return undefined;
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw this.#unexpected(path);
        }
      }
      const isRetryable =
        response.status === 429 || response.status === 502 || response.status === 503 || response.status === 504;
      const retryAfterMs = retryAfter(response.headers.get('retry-after'));
      if (isRetryable && attempt + 1 < attempts && (retryAfterMs ?? 0) <= MAX_RETRY_AFTER_MS) {
        const delay =
          retryAfterMs ?? backoffDelayMs(attempt, this.#deps.backoff ?? { initialDelayMs: 1000, maxDelayMs: 10_000 });
        this.#deps.log.debug('RunPod API asked us to wait', { status: response.status, delayMs: delay });
        await (this.#deps.wait ?? wait)(delay, signal);
        continue;
      }
      throw this.#failure(response.status, text, path, podId, retryAfterMs);
    }
  }

  async #send(method: string, path: string, signal: AbortSignal | undefined): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(this.#deps.timeoutMs ?? 20_000);
    try {
      return await this.#fetch(url, {
        method,
        headers: { Authorization: `Bearer ${this.#deps.apiKey}`, Accept: 'application/json' },
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw new AppError('cancelled', 'The request to RunPod was cancelled.', { cause: error });
      const code = systemErrorCode((error as { cause?: unknown }).cause) ?? systemErrorCode(error);
      const timedOut = (error as { name?: unknown }).name === 'TimeoutError';
      throw new AppError(
        'runpod_unreachable',
        timedOut
          ? "RunPod's API did not answer in time. Check your internet connection and try again."
          : `RunPod's API could not be reached${code ? ` (${code})` : ''}. Check your internet connection and try again.`,
        { cause: error, details: { url: `${this.baseUrl}${path.split('?')[0]}` } },
      );
    }
  }

  #failure(
    status: number,
    text: string,
    path: string,
    podId: string | undefined,
    retryAfterMs: number | undefined,
  ): AppError {
    const message = apiMessage(text);
    const details = { status, path, ...(message ? { message } : {}) };
    if (status === 401 || status === 403)
      return new AppError(
        'runpod_unauthorized',
        status === 401
          ? 'RunPod refused the API key (HTTP 401). Create a key in RunPod › Settings › API Keys and enter it again.'
          : `RunPod refused this request (HTTP 403): the API key lacks the permission${message ? ` (${message})` : ''}. Give the key read and write access to pods.`,
        { details },
      );
    if (status === 429)
      return new AppError(
        'runpod_rate_limited',
        `RunPod is limiting how often ComfyDesk may ask (HTTP 429). ${retryAfterMs ? `It asked to wait ${Math.ceil(retryAfterMs / 1000)} s; ` : ''}try again in a minute.`,
        { details },
      );
    if (status === 404 && podId)
      return new AppError(
        'pod_not_found',
        `RunPod has no pod ${podId} in this account. It may have been terminated; pick another pod in Settings › Connections.`,
        { details: { ...details, podId } },
      );
    if (status === 400 && podId)
      return new AppError(
        'runpod_error',
        `RunPod refused the request for pod ${podId}${message ? `: ${message.replace(/\.$/, '')}` : ''}.`,
        {
          details: { ...details, podId },
        },
      );
    return new AppError(
      'runpod_error',
      `RunPod's API answered HTTP ${status}${message ? `: ${message}` : ''}. Try again later.`,
      { details },
    );
  }

  #unexpected(path: string): AppError {
    return new AppError(
      'runpod_error',
      `RunPod's API sent an answer ComfyDesk does not understand (${path}). The API may have changed; check for a ComfyDesk update.`,
      { details: { path } },
    );
  }
}

/** The `message` of an API error body, if it has one. */
function apiMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null) {
      const { message, error } = body as { message?: unknown; error?: unknown };
      if (typeof message === 'string') return message.slice(0, 300);
      if (typeof error === 'string') return error.slice(0, 300);
    }
  } catch {
    // not JSON
  }
  const trimmed = text.trim();
  return trimmed && !trimmed.startsWith('<') ? trimmed.slice(0, 300) : undefined;
}

/** Retry-After as ms: delta seconds or an HTTP date. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AppError('cancelled', 'The request to RunPod was cancelled.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
