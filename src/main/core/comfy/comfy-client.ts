import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Unsubscribe } from '../lib/emitter';
import type { BackoffOptions } from '@shared/backoff';
import { ComfySocket, type ComfySocketEvents } from './comfy-socket';
import { describeAddress, notComfyUi, requestFailure } from './http-errors';
import {
  HistoryResponse,
  PromptAccepted,
  PromptRejected,
  QueueResponse,
  SystemStats,
  UploadResult,
  type HistoryEntry,
  type NodeErrors,
} from './messages';
import {
  CANONICAL_UUID,
  JobsApiCancelled,
  JobsApiDetail,
  JobsApiList,
  historyEntryFromJob,
  isFinishedJobStatus,
  type JobsApiDetail as JobDetail,
} from './jobs-api';
import { parseObjectInfo, type ObjectInfo, type ObjectInfoProblem } from './object-info';
import { isRunPodProxyUrl, RUNPOD_PROXY_TIMEOUT_SECONDS } from '@shared/domain/pod';

/** The part of fetch the client uses (injectable for tests). */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** What a ComfyClient needs; one client per server. */
export interface ComfyClientDeps {
  /** ComfyUI's base URL, e.g. http://127.0.0.1:8188 or https://pod-8188.proxy.runpod.net (a path prefix is kept). */
  baseUrl: string;
  /** Extra headers sent with every request and the socket (a protected proxy's auth header). Never logged. */
  headers?: Record<string, string>;
  /** The socket's client id; keep it across reconnects. @default a random UUID */
  clientId?: string;
  log: Logger;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Deadline of ordinary requests. @default 15000 */
  timeoutMs?: number;
  /** Deadline of `/object_info`, which lists model files and can take seconds on big installs. @default 60000 */
  objectInfoTimeoutMs?: number;
  /**
   * The longest any request waits for the server to start answering. A RunPod proxy cuts a request
   * that has no answer after 100 s (HTTP 524), so behind one nothing may wait that long: slow work is
   * polled instead. A body that streams (a large output) is not cut by this.
   * @default 90000 for a RunPod proxy address (`*.proxy.runpod.net`), no extra limit otherwise
   */
  responseDeadlineMs?: number;
  socket?: { backoff?: BackoffOptions; pingIntervalMs?: number; featureFlags?: Record<string, unknown> };
}

/** Per-request options: a caller's abort signal and deadline. */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the client's deadline for this request. */
  timeoutMs?: number;
}

/** What `POST /prompt` takes (protocol doc §2.1). */
export interface QueuePromptInput {
  /** The API prompt: `{ "<node id>": { class_type, inputs } }`. */
  prompt: Record<string, unknown>;
  /** Our own id for the prompt. @default crypto.randomUUID() — lowercase UUID, accepted by every server version. */
  promptId?: string;
  /** Stored with the job and echoed in /queue and /history (e.g. `extra_pnginfo`). `client_id` is added for us. */
  extraData?: Record<string, unknown>;
  /** Jump the queue. */
  front?: boolean;
  /** Explicit priority; lower runs first. */
  number?: number;
  /** Only run these output node ids. */
  partialExecutionTargets?: string[];
}

/** What POST /prompt answered for an accepted prompt. */
export interface QueuedPrompt {
  promptId: string;
  number: number;
  /** Non-empty when some outputs were dropped for failing validation: surface these as a warning. */
  nodeErrors: NodeErrors;
}

/** One job in ComfyUI's queue. */
export interface QueueItem {
  number: number;
  promptId: string;
  prompt: Record<string, unknown>;
  extraData: Record<string, unknown>;
  /** The output node ids it will run (from `/queue`; the jobs API of newer servers does not list them). */
  outputsToExecute?: string[];
  /** The `client_id` it was queued with (absent for other tools that sent none). */
  clientId?: string;
}

/** Which queue and history routes a server offers: the jobs API of newer servers, or only the older routes. */
export type QueueRoutes = 'jobs-api' | 'legacy';

/** ComfyUI's whole queue: every client's jobs. */
export interface QueueSnapshot {
  running: QueueItem[];
  /** Sorted in execution order (ComfyUI returns its raw heap). */
  pending: QueueItem[];
}

/** A file reference in ComfyUI's input/output/temp folders. */
export interface FileRef {
  filename: string;
  subfolder?: string;
  type?: 'input' | 'output' | 'temp';
}

/** A file to upload to ComfyUI's input (or temp/output) folder. */
export interface UploadInput {
  data: Blob | Buffer | Uint8Array;
  filename: string;
  /** @default 'input' */
  type?: 'input' | 'temp' | 'output';
  subfolder?: string;
  /** Replace a file of the same name instead of getting `name (1).ext`. */
  overwrite?: boolean;
}

/**
 * A client for one ComfyUI server: every REST endpoint the app needs, with deadlines, abort and
 * errors that carry ComfyUI's own messages, plus the live event socket. Core code only: no Electron.
 */
export class ComfyClient {
  readonly clientId: string;
  readonly baseUrl: string;
  readonly #deps: ComfyClientDeps;
  readonly #fetch: FetchLike;
  readonly #socket: ComfySocket;
  #objectInfo: Promise<{ objectInfo: ObjectInfo; problems: ObjectInfoProblem[] }> | undefined;
  /** Whether the server has `/api/jobs`; asked once, and again after the socket reconnects (the server may have been upgraded). */
  #routes: Promise<QueueRoutes> | undefined;
  /** The prompt and extra data of queued jobs, read once per job from `/api/jobs/{id}` (they never change while queued). */
  readonly #queuedDetails = new Map<string, JobDetail>();

  constructor(deps: ComfyClientDeps) {
    this.#deps = deps;
    this.baseUrl = deps.baseUrl.replace(/\/+$/, '');
    this.clientId = deps.clientId ?? randomUUID();
    this.#fetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.#socket = new ComfySocket({
      baseUrl: this.baseUrl,
      clientId: this.clientId,
      headers: deps.headers,
      log: deps.log.child('socket'),
      backoff: deps.socket?.backoff,
      pingIntervalMs: deps.socket?.pingIntervalMs,
      featureFlags: deps.socket?.featureFlags,
    });
    // A reconnect may be a restarted (or upgraded) server: ask again which routes it has.
    this.#socket.on('open', ({ isReconnect }) => {
      if (isReconnect) this.#routes = undefined;
    });
  }

  // ---- socket ----

  /** Opens the event socket (and keeps it open, reconnecting after drops). */
  connect(): void {
    this.#socket.start();
  }

  /** Closes the socket and forgets cached data. Safe to call twice. */
  close(): void {
    this.#socket.stop();
  }

  get isSocketOpen(): boolean {
    return this.#socket.isOpen;
  }

  /** The server's feature flags from the socket handshake. */
  get serverFlags(): Record<string, unknown> {
    return this.#socket.serverFlags;
  }

  /** `event` (every message and frame), `open` (with isReconnect), `closed`. */
  on<K extends keyof ComfySocketEvents>(name: K, listener: (payload: ComfySocketEvents[K]) => void): Unsubscribe {
    return this.#socket.on(name, listener);
  }

  /** Retries the socket now instead of waiting out the backoff. */
  reconnectNow(): void {
    this.#socket.reconnectNow();
  }

  // ---- prompts and queue ----

  /** Queues a prompt with our client id. Validation failures become `comfy_invalid_prompt` with ComfyUI's `node_errors`. */
  async queuePrompt(input: QueuePromptInput, options: RequestOptions = {}): Promise<QueuedPrompt> {
    const promptId = input.promptId ?? randomUUID();
    if (!CANONICAL_UUID.test(promptId))
      throw new AppError(
        'invalid_input',
        `The prompt id "${promptId.slice(0, 80)}" is not a lowercase UUID; newer ComfyUI servers refuse any other id.`,
        { details: { promptId } },
      );
    const body: Record<string, unknown> = { prompt: input.prompt, client_id: this.clientId, prompt_id: promptId };
    if (input.extraData) body.extra_data = input.extraData;
    if (input.front !== undefined) body.front = input.front;
    if (input.number !== undefined) body.number = input.number;
    if (input.partialExecutionTargets) body.partial_execution_targets = input.partialExecutionTargets;
    const response = await this.#request('/prompt', { method: 'POST', json: body }, options);
    if (response.status === 400) {
      const rejected = PromptRejected.safeParse(await this.#json(response, '/prompt'));
      if (!rejected.success) throw notComfyUi(this.#url('/prompt'), "an error without ComfyUI's error shape");
      throw promptRejection(rejected.data);
    }
    await this.#ensureOk(response, '/prompt');
    const accepted = this.#parse(PromptAccepted, await this.#json(response, '/prompt'), '/prompt');
    return { promptId: accepted.prompt_id, number: accepted.number, nodeErrors: accepted.node_errors };
  }

  /**
   * Running and pending jobs of every client on this server; pending sorted by execution order.
   * Newer servers answer from `/api/jobs` (a short list, then each new job's prompt once); older ones
   * from `/queue`, which sends every queued prompt on every call.
   */
  async getQueue(options: RequestOptions = {}): Promise<QueueSnapshot> {
    const snapshot =
      (await this.queueRoutes(options)) === 'jobs-api'
        ? await this.#queueFromJobs(options)
        : await this.#queueFromLegacy(options);
    snapshot.pending.sort(
      (a, b) => a.number - b.number || (a.promptId < b.promptId ? -1 : a.promptId > b.promptId ? 1 : 0),
    );
    return snapshot;
  }

  /**
   * Cancels one job whatever its state: interrupts it if it runs, removes it if it waits. Newer
   * servers do this in one atomic call (`POST /api/jobs/{id}/cancel`); on older ones the queue is
   * read first. Resolves to whether a job was running or waiting under that id.
   */
  async cancelJob(promptId: string, options: RequestOptions = {}): Promise<boolean> {
    if ((await this.queueRoutes(options)) === 'jobs-api') {
      const path = `/jobs/${encodeURIComponent(promptId)}/cancel`;
      const response = await this.#request(path, { method: 'POST' }, options);
      await this.#ensureOk(response, path);
      return this.#parse(JobsApiCancelled, await this.#json(response, path), path).cancelled;
    }
    const queue = await this.getQueue(options);
    if (queue.running.some((item) => item.promptId === promptId)) {
      await this.interrupt(promptId, options);
      return true;
    }
    if (queue.pending.some((item) => item.promptId === promptId)) {
      await this.deleteFromQueue([promptId], options);
      return true;
    }
    return false;
  }

  /** Whether the server offers the jobs API (newer servers) or only `/queue` and `/history` (0.3.x). */
  async queueRoutes(options: RequestOptions = {}): Promise<QueueRoutes> {
    if (!this.#routes) {
      const probing = this.#probeRoutes(options);
      this.#routes = probing;
      probing.catch(() => {
        if (this.#routes === probing) this.#routes = undefined; // a failed probe is asked again next time
      });
    }
    return this.#routes;
  }

  async #probeRoutes(options: RequestOptions): Promise<QueueRoutes> {
    const path = '/jobs?limit=1';
    const response = await this.#request(path, { method: 'GET' }, options);
    if (response.status === 404 || response.status === 405) {
      await response.arrayBuffer().catch(() => undefined);
      return 'legacy';
    }
    await this.#ensureOk(response, path);
    // Something else may answer /api/jobs (a custom node's route, a web page): keep to the routes every server has.
    const raw = await this.#json(response, path).catch(() => undefined);
    return JobsApiList.safeParse(raw).success ? 'jobs-api' : 'legacy';
  }

  async #queueFromLegacy(options: RequestOptions): Promise<QueueSnapshot> {
    const raw = this.#parse(QueueResponse, await this.#getJson('/queue', options), '/queue');
    const toItem = (tuple: z.infer<typeof QueueResponse>['queue_running'][number]): QueueItem => {
      const [number, promptId, prompt, extraData, outputsToExecute] = tuple;
      const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
      return { number, promptId, prompt, extraData, outputsToExecute, ...(clientId ? { clientId } : {}) };
    };
    return { running: raw.queue_running.map(toItem), pending: raw.queue_pending.map(toItem) };
  }

  async #queueFromJobs(options: RequestOptions): Promise<QueueSnapshot> {
    const path = '/jobs?status=in_progress,pending';
    const list = this.#parse(JobsApiList, await this.#getJson(path, options), '/jobs');
    const live = new Set(list.jobs.map((job) => job.id));
    for (const id of this.#queuedDetails.keys()) if (!live.has(id)) this.#queuedDetails.delete(id);
    // Each job's prompt is read once; a few at a time so a batch of 100 does not open 100 requests.
    const unknown = list.jobs.filter((job) => !this.#queuedDetails.has(job.id));
    for (let start = 0; start < unknown.length; start += 4) {
      const details = await Promise.all(unknown.slice(start, start + 4).map((job) => this.#jobDetail(job.id, options)));
      for (const detail of details)
        if (detail && !isFinishedJobStatus(detail.status)) this.#queuedDetails.set(detail.id, detail);
    }
    const running: QueueItem[] = [];
    const pending: QueueItem[] = [];
    for (const job of list.jobs) {
      const detail = this.#queuedDetails.get(job.id);
      if (!detail) continue; // it finished between the list and its detail
      const extraData = detail.workflow.extra_data;
      const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
      const item: QueueItem = {
        number: job.priority,
        promptId: job.id,
        prompt: detail.workflow.prompt,
        extraData,
        ...(clientId ? { clientId } : {}),
      };
      (job.status === 'in_progress' ? running : pending).push(item);
    }
    return { running, pending };
  }

  /** One job from `/api/jobs/{id}`, or undefined when the server does not know it. */
  async #jobDetail(promptId: string, options: RequestOptions): Promise<JobDetail | undefined> {
    const path = `/jobs/${encodeURIComponent(promptId)}`;
    const response = await this.#request(path, { method: 'GET' }, options);
    if (response.status === 404) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    await this.#ensureOk(response, path);
    return this.#parse(JobsApiDetail, await this.#json(response, path), '/jobs/{id}');
  }

  /** Removes pending jobs (running ones are ignored by ComfyUI: interrupt those). */
  async deleteFromQueue(promptIds: string[], options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty('/queue', { delete: promptIds }, options);
  }

  /** Drops every pending job on the server — every client's. */
  async clearQueue(options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty('/queue', { clear: true }, options);
  }

  /** Interrupts `promptId` if it is the one running (a no-op otherwise); without an id, whatever runs. */
  async interrupt(promptId?: string, options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty('/interrupt', promptId ? { prompt_id: promptId } : {}, options);
  }

  // ---- history ----

  /**
   * One history entry, or undefined while it is not written yet (ComfyUI answers `{}`). Newer servers
   * answer from `/api/jobs/{id}`, which gives the same prompt, outputs and status.
   */
  async getHistory(promptId: string, options: RequestOptions = {}): Promise<HistoryEntry | undefined> {
    if ((await this.queueRoutes(options)) === 'jobs-api') {
      const job = await this.#jobDetail(promptId, options);
      return job && isFinishedJobStatus(job.status) ? historyEntryFromJob(job) : undefined;
    }
    const history = this.#parse(
      HistoryResponse,
      await this.#getJson(`/history/${encodeURIComponent(promptId)}`, options),
      '/history',
    );
    return history[promptId];
  }

  /**
   * History entries, oldest first. `maxItems` alone gives the newest N. Always paginate: entries can be
   * large. Kept on `/history` for every server: the jobs API lists jobs without their outputs, so a page
   * from it would cost one more request per entry.
   */
  async listHistory(
    query: { maxItems?: number; offset?: number } = {},
    options: RequestOptions = {},
  ): Promise<Array<{ promptId: string; entry: HistoryEntry }>> {
    const params = new URLSearchParams();
    if (query.maxItems !== undefined) params.set('max_items', String(Math.trunc(query.maxItems)));
    if (query.offset !== undefined) params.set('offset', String(Math.trunc(query.offset)));
    const path = `/history${params.size > 0 ? `?${params.toString()}` : ''}`;
    const history = this.#parse(HistoryResponse, await this.#getJson(path, options), '/history');
    return Object.entries(history).map(([promptId, entry]) => ({ promptId, entry }));
  }

  async deleteHistory(promptIds: string[], options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty('/history', { delete: promptIds }, options);
  }

  async clearHistory(options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty('/history', { clear: true }, options);
  }

  // ---- nodes and models ----

  /**
   * Every node definition, cached for this server until `refresh` is asked (model lists and
   * installed nodes change: refresh before converting a workflow).
   */
  async getObjectInfo(
    options: RequestOptions & { refresh?: boolean } = {},
  ): Promise<{ objectInfo: ObjectInfo; problems: ObjectInfoProblem[] }> {
    if (options.refresh || !this.#objectInfo) {
      const loading = this.#getJson('/object_info', {
        timeoutMs: this.#deps.objectInfoTimeoutMs ?? 60_000,
        ...options,
      }).then((raw) => {
        try {
          return parseObjectInfo(raw);
        } catch {
          throw notComfyUi(this.#url('/object_info'), 'object_info is not an object');
        }
      });
      this.#objectInfo = loading;
      loading.catch(() => {
        if (this.#objectInfo === loading) this.#objectInfo = undefined; // a failed load is not cached
      });
    }
    return this.#objectInfo;
  }

  /** Model folder keys (checkpoints, loras, vae, …). */
  async listModelFolders(options: RequestOptions = {}): Promise<string[]> {
    return this.#stringList(await this.#getJson('/models', options), '/models');
  }

  /** Files in one model folder, relative to it, with the server's own path separator. */
  async listModels(folder: string, options: RequestOptions = {}): Promise<string[]> {
    const path = `/models/${encodeURIComponent(folder)}`;
    const response = await this.#request(path, { method: 'GET' }, options);
    if (response.status === 404)
      throw new AppError('not_found', `ComfyUI has no model folder "${folder}".`, { details: { folder } });
    await this.#ensureOk(response, path);
    return this.#stringList(await this.#json(response, path), path);
  }

  /** Every model folder with its files, in the server's folder order (folders that fail to list are left out). */
  async listAllModels(options: RequestOptions = {}): Promise<Record<string, string[]>> {
    const folders = await this.listModelFolders(options);
    const files = await Promise.all(folders.map((folder) => this.listModels(folder, options).catch(() => undefined)));
    return Object.fromEntries(folders.flatMap((folder, index) => (files[index] ? [[folder, files[index]]] : [])));
  }

  // ---- files ----

  /** Uploads an input file (image, video, audio). Use the returned `name`: ComfyUI may rename it. */
  async uploadImage(input: UploadInput, options: RequestOptions = {}): Promise<z.infer<typeof UploadResult>> {
    return this.#upload('/upload/image', input, undefined, options);
  }

  /** Uploads a mask whose alpha replaces the alpha of `originalRef`. */
  async uploadMask(
    input: UploadInput & { originalRef: FileRef },
    options: RequestOptions = {},
  ): Promise<z.infer<typeof UploadResult>> {
    return this.#upload('/upload/mask', input, input.originalRef, options);
  }

  /** A file from ComfyUI's folders as a streaming Response (for large videos). The caller reads or cancels its body. */
  async view(file: FileRef, options: RequestOptions = {}): Promise<Response> {
    const params = new URLSearchParams({
      filename: file.filename,
      subfolder: file.subfolder ?? '',
      type: file.type ?? 'output',
    });
    const path = `/view?${params.toString()}`;
    const response = await this.#request(
      path,
      { method: 'GET' },
      { ...options, timeoutMs: options.timeoutMs ?? 120_000 },
    );
    if (response.status === 404)
      throw new AppError(
        'not_found',
        `ComfyUI has no file ${file.filename}${file.subfolder ? ` in ${file.subfolder}` : ''} (${file.type ?? 'output'}).`,
        { details: { ...file } },
      );
    await this.#ensureOk(response, '/view');
    return response;
  }

  /** A file's bytes and content type. */
  async viewBytes(file: FileRef, options: RequestOptions = {}): Promise<{ bytes: Buffer; contentType: string }> {
    const response = await this.view(file, options);
    return {
      bytes: Buffer.from(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  // ---- system ----

  /** Version, OS and devices (GPU name, VRAM). */
  async systemStats(options: RequestOptions = {}): Promise<z.infer<typeof SystemStats>> {
    return this.#parse(SystemStats, await this.#getJson('/system_stats', options), '/system_stats');
  }

  /** Server feature flags (`supports_preview_metadata`, `max_upload_size`, …). */
  async features(options: RequestOptions = {}): Promise<Record<string, unknown>> {
    const raw = await this.#getJson('/features', options);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw notComfyUi(this.#url('/features'), 'features is not an object');
    return raw as Record<string, unknown>;
  }

  /** Asks the worker to unload models and/or free memory after the current prompt. */
  async free(input: { unloadModels?: boolean; freeMemory?: boolean }, options: RequestOptions = {}): Promise<void> {
    await this.#postEmpty(
      '/free',
      { unload_models: input.unloadModels ?? false, free_memory: input.freeMemory ?? false },
      options,
    );
  }

  /**
   * A route outside ComfyUI's own API as the raw response: `/internal/*` (served without the `/api`
   * prefix) or a custom node's routes (ComfyUI-Manager). The caller checks the status and reads or
   * cancels the body.
   */
  async route(
    path: string,
    init: { method?: string; json?: unknown; isInternal?: boolean } = {},
    options: RequestOptions = {},
  ): Promise<Response> {
    return this.#request(path, { method: init.method ?? 'GET', json: init.json, raw: init.isInternal }, options);
  }

  /**
   * GETs a JSON route that not every server has (ComfyUI-Manager's, `/internal/*`, experimental
   * ones): undefined when the server answers 404 or 405. `/internal` routes are not served under
   * `/api`, so they are asked with `isInternal`.
   */
  async getOptionalJson(path: string, options: RequestOptions & { isInternal?: boolean } = {}): Promise<unknown> {
    const response = await this.route(path, { isInternal: options.isInternal }, options);
    if (response.status === 404 || response.status === 405) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    await this.#ensureOk(response, path);
    return this.#json(response, path, options.timeoutMs);
  }

  /** The full URL of an API path (for messages and for opening ComfyUI). */
  url(path = '/'): string {
    return this.#url(path).toString();
  }

  // ---- plumbing ----

  #url(path: string, raw = false): URL {
    // Every route is served under /api too; the protocol doc recommends it (custom-node routes and the frontend cannot shadow it).
    return new URL(`${this.baseUrl}${raw ? '' : '/api'}${path}`);
  }

  async #request(
    path: string,
    init: { method: string; json?: unknown; body?: FormData; raw?: boolean },
    options: RequestOptions,
  ): Promise<Response> {
    const url = this.#url(path, init.raw);
    const timeoutMs = options.timeoutMs ?? this.#deps.timeoutMs ?? 15_000;
    // Behind a proxy that cuts silent requests, give up first and say why (the body may stream on).
    const answerMs = Math.min(timeoutMs, this.#responseDeadlineMs);
    const answer = new AbortController();
    const answerTimer = answerMs < timeoutMs ? setTimeout(() => answer.abort(), answerMs) : undefined;
    const signals = [AbortSignal.timeout(timeoutMs), answer.signal, ...(options.signal ? [options.signal] : [])];
    const headers: Record<string, string> = { ...this.#deps.headers };
    let body: string | FormData | undefined;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      body = init.body;
    }
    try {
      return await this.#fetch(url, {
        method: init.method,
        headers,
        body,
        signal: AbortSignal.any(signals),
        redirect: 'follow',
      });
    } catch (error) {
      if (answer.signal.aborted && !options.signal?.aborted)
        throw new AppError(
          'comfy_timeout',
          `ComfyUI at ${describeAddress(url)} did not start answering ${path.split('?')[0]} within ${Math.round(answerMs / 1000)} s. The proxy in front of it cuts requests after ${RUNPOD_PROXY_TIMEOUT_SECONDS} s, so ComfyDesk stopped waiting; the server may be overloaded — try again.`,
          { cause: error, details: { url: url.origin + url.pathname, deadlineMs: answerMs } },
        );
      throw requestFailure(error, url, timeoutMs);
    } finally {
      clearTimeout(answerTimer);
    }
  }

  /** See `ComfyClientDeps.responseDeadlineMs`. */
  get #responseDeadlineMs(): number {
    return this.#deps.responseDeadlineMs ?? (isRunPodProxyUrl(this.baseUrl) ? 90_000 : Number.POSITIVE_INFINITY);
  }

  async #getJson(path: string, options: RequestOptions): Promise<unknown> {
    const response = await this.#request(path, { method: 'GET' }, options);
    await this.#ensureOk(response, path);
    return this.#json(response, path, options.timeoutMs);
  }

  async #postEmpty(path: string, json: unknown, options: RequestOptions): Promise<void> {
    const response = await this.#request(path, { method: 'POST', json }, options);
    await this.#ensureOk(response, path);
    await response.arrayBuffer().catch(() => undefined); // ComfyUI answers these with an empty body
  }

  async #json(response: Response, path: string, timeoutMs?: number): Promise<unknown> {
    const type = response.headers.get('content-type') ?? '';
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw requestFailure(error, this.#url(path), timeoutMs ?? this.#deps.timeoutMs ?? 15_000);
    }
    if (/text\/html/i.test(type) || /^\s*</.test(text)) throw notComfyUi(this.#url(path), 'it sent a web page');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw notComfyUi(this.#url(path), `${path} is not JSON`);
    }
  }

  async #ensureOk(response: Response, path: string): Promise<void> {
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    const where = describeAddress(this.#url(path));
    if (response.status === 401 || response.status === 403) {
      throw new AppError(
        'comfy_http_error',
        `${where} refused access (HTTP ${response.status}). If the server sits behind a protected proxy, add its token in Settings › Connections.`,
        {
          details: { status: response.status, path },
        },
      );
    }
    if (response.status === 404) throw notComfyUi(this.#url(path), `${path} does not exist there`);
    if (response.status === 524)
      throw new AppError(
        'comfy_timeout',
        `The proxy in front of ComfyUI at ${where} gave up waiting for an answer to ${path.split('?')[0]} (HTTP 524: no answer within ${RUNPOD_PROXY_TIMEOUT_SECONDS} s). The server is busy or stuck; try again, or reach it over SSH.`,
        { details: { status: 524, path } },
      );
    throw new AppError(
      'comfy_http_error',
      `ComfyUI at ${where} answered HTTP ${response.status} to ${path}${text && !/^\s*</.test(text) ? `: ${text.trim().slice(0, 300)}` : ''}.`,
      {
        details: { status: response.status, path, body: text.slice(0, 2000) },
      },
    );
  }

  #parse<S extends z.ZodType>(schema: S, raw: unknown, path: string): z.output<S> {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw notComfyUi(this.#url(path), `${path} has an unexpected shape`);
    return parsed.data;
  }

  #stringList(raw: unknown, path: string): string[] {
    if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string'))
      throw notComfyUi(this.#url(path), `${path} is not a list of names`);
    return raw as string[];
  }

  async #upload(
    path: string,
    input: UploadInput,
    originalRef: FileRef | undefined,
    options: RequestOptions,
  ): Promise<z.infer<typeof UploadResult>> {
    const form = new FormData();
    const blob = input.data instanceof Blob ? input.data : new Blob([input.data]);
    form.set('image', blob, input.filename);
    form.set('type', input.type ?? 'input');
    if (input.subfolder) form.set('subfolder', input.subfolder);
    if (input.overwrite) form.set('overwrite', 'true');
    if (originalRef)
      form.set(
        'original_ref',
        JSON.stringify({
          filename: originalRef.filename,
          subfolder: originalRef.subfolder ?? '',
          type: originalRef.type ?? 'input',
        }),
      );
    const response = await this.#request(
      path,
      { method: 'POST', body: form },
      { ...options, timeoutMs: options.timeoutMs ?? 120_000 },
    );
    if (response.status === 413)
      throw new AppError(
        'comfy_http_error',
        `${input.filename} is larger than ComfyUI accepts (its --max-upload-size).`,
        { details: { status: 413, filename: input.filename } },
      );
    await this.#ensureOk(response, path);
    return this.#parse(UploadResult, await this.#json(response, path), path);
  }
}

/** A 400 from POST /prompt as an AppError whose message names the failing nodes and ComfyUI's own words. */
export function promptRejection(rejected: z.infer<typeof PromptRejected>): AppError {
  const error =
    typeof rejected.error === 'string'
      ? { type: 'error', message: rejected.error, details: '', extra_info: {} }
      : rejected.error;
  const lines = Object.entries(rejected.node_errors).flatMap(([nodeId, node]) =>
    node.errors.map(
      (item) => `node ${nodeId} (${node.class_type}): ${item.message}${item.details ? ` — ${item.details}` : ''}`,
    ),
  );
  const head = `ComfyUI rejected the prompt: ${error.message}${error.details && lines.length === 0 ? ` (${error.details})` : ''}`;
  const userMessage =
    lines.length > 0
      ? `${head}. ${lines.slice(0, 5).join('; ')}${lines.length > 5 ? `; and ${lines.length - 5} more` : ''}.`
      : `${head}.`;
  return new AppError('comfy_invalid_prompt', userMessage, { details: { error, nodeErrors: rejected.node_errors } });
}
