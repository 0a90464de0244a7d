import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AppError } from '../lib/errors';
import type { Unsubscribe } from '../lib/emitter';
import type {
  ComfyClientDeps,
  FileRef,
  QueuePromptInput,
  QueueRoutes,
  QueueSnapshot,
  QueuedPrompt,
  RequestOptions,
  UploadInput,
} from './api-types';
import { ComfyHttp } from './comfy-http';
import { ComfySocket, type ComfySocketEvents } from './comfy-socket';
import { NOT_MODEL_FILE, NOT_MODEL_FOLDERS } from './api-types';
import { notComfyUi, promptRejection } from './http-errors';
import { CANONICAL_UUID, JobsApiCancelled, historyEntryFromJob, isFinishedJobStatus } from './jobs-api';
import {
  HistoryResponse,
  PromptAccepted,
  PromptRejected,
  SystemStats,
  UploadResult,
  UserDataFile,
  type HistoryEntry,
} from './messages';
import { parseObjectInfo, type ObjectInfo, type ObjectInfoProblem } from './object-info';
import { QueueRoutesReader } from './queue-routes';

export type {
  ComfyClientDeps,
  FetchLike,
  FileRef,
  QueueItem,
  QueuePromptInput,
  QueueRoutes,
  QueueSnapshot,
  QueuedPrompt,
  RequestOptions,
  UploadInput,
} from './api-types';
export { promptRejection } from './http-errors';

/**
 * A client for one ComfyUI server: every REST endpoint the app needs, with deadlines, abort and
 * errors that carry ComfyUI's own messages, plus the live event socket. Core code only: no Electron.
 */
export class ComfyClient {
  readonly clientId: string;
  readonly baseUrl: string;
  readonly #deps: ComfyClientDeps;
  readonly #http: ComfyHttp;
  readonly #queue: QueueRoutesReader;
  readonly #socket: ComfySocket;
  #objectInfo: Promise<{ objectInfo: ObjectInfo; problems: ObjectInfoProblem[] }> | undefined;
  /** Whether the server has `/api/jobs`; asked once, and again after the socket reconnects (the server may have been upgraded). */
  #routes: Promise<QueueRoutes> | undefined;

  constructor(deps: ComfyClientDeps) {
    this.#deps = deps;
    this.baseUrl = deps.baseUrl.replace(/\/+$/, '');
    this.clientId = deps.clientId ?? randomUUID();
    this.#http = new ComfyHttp(deps, this.baseUrl);
    this.#queue = new QueueRoutesReader(this.#http);
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
    const response = await this.#http.request('/prompt', { method: 'POST', json: body }, options);
    if (response.status === 400) {
      const rejected = PromptRejected.safeParse(await this.#http.json(response, '/prompt'));
      if (!rejected.success) throw notComfyUi(this.#http.url('/prompt'), "an error without ComfyUI's error shape");
      throw promptRejection(rejected.data);
    }
    await this.#http.ensureOk(response, '/prompt');
    const accepted = this.#http.parse(PromptAccepted, await this.#http.json(response, '/prompt'), '/prompt');
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
        ? await this.#queue.queueFromJobs(options)
        : await this.#queue.queueFromLegacy(options);
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
      const response = await this.#http.request(path, { method: 'POST' }, options);
      await this.#http.ensureOk(response, path);
      return this.#http.parse(JobsApiCancelled, await this.#http.json(response, path), path).cancelled;
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
      const probing = this.#queue.probeRoutes(options);
      this.#routes = probing;
      probing.catch(() => {
        if (this.#routes === probing) this.#routes = undefined; // a failed probe is asked again next time
      });
    }
    return this.#routes;
  }

  /** Removes pending jobs (running ones are ignored by ComfyUI: interrupt those). */
  async deleteFromQueue(promptIds: string[], options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty('/queue', { delete: promptIds }, options);
  }

  /** Drops every pending job on the server — every client's. */
  async clearQueue(options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty('/queue', { clear: true }, options);
  }

  /** Interrupts `promptId` if it is the one running (a no-op otherwise); without an id, whatever runs. */
  async interrupt(promptId?: string, options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty('/interrupt', promptId ? { prompt_id: promptId } : {}, options);
  }

  // ---- history ----

  /**
   * One history entry, or undefined while it is not written yet (ComfyUI answers `{}`). Newer servers
   * answer from `/api/jobs/{id}`, which gives the same prompt, outputs and status.
   */
  async getHistory(promptId: string, options: RequestOptions = {}): Promise<HistoryEntry | undefined> {
    if ((await this.queueRoutes(options)) === 'jobs-api') {
      const job = await this.#queue.jobDetail(promptId, options);
      return job && isFinishedJobStatus(job.status) ? historyEntryFromJob(job) : undefined;
    }
    const history = this.#http.parse(
      HistoryResponse,
      await this.#http.getJson(`/history/${encodeURIComponent(promptId)}`, options),
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
    const history = this.#http.parse(HistoryResponse, await this.#http.getJson(path, options), '/history');
    return Object.entries(history).map(([promptId, entry]) => ({ promptId, entry }));
  }

  async deleteHistory(promptIds: string[], options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty('/history', { delete: promptIds }, options);
  }

  async clearHistory(options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty('/history', { clear: true }, options);
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
      const loading = this.#http
        .getJson('/object_info', {
          timeoutMs: this.#deps.objectInfoTimeoutMs ?? 60_000,
          ...options,
        })
        .then((raw) => {
          try {
            return parseObjectInfo(raw);
          } catch {
            throw notComfyUi(this.#http.url('/object_info'), 'object_info is not an object');
          }
        });
      this.#objectInfo = loading;
      loading.catch(() => {
        if (this.#objectInfo === loading) this.#objectInfo = undefined; // a failed load is not cached
      });
    }
    return this.#objectInfo;
  }

  /**
   * Node definitions read fresh for a few classes (`GET /object_info/{class}`), not from the cache:
   * a loader's file list (LoadImage's input folder) changes whenever someone uploads. A class the
   * server does not know is left out.
   */
  async getNodeDefinitions(classTypes: readonly string[], options: RequestOptions = {}): Promise<ObjectInfo> {
    const answers = await Promise.all(
      [...new Set(classTypes)].map((classType) =>
        this.#http.getJson(`/object_info/${encodeURIComponent(classType)}`, options),
      ),
    );
    const definitions: ObjectInfo = {};
    for (const answer of answers) {
      const { objectInfo } = parseObjectInfo(answer);
      Object.assign(definitions, objectInfo);
    }
    return definitions;
  }

  /**
   * Writes a file into the server's user data folder (`POST /userdata/{file}`, the path as one
   * segment with `/` encoded, protocol doc §2): `workflows/…` is what ComfyUI's own workflow browser
   * lists. Answers the path the server stored, relative to the user folder.
   */
  async saveUserData(
    path: string,
    body: string,
    options: RequestOptions & { overwrite?: boolean } = {},
  ): Promise<{ path: string; size: number; modified: number }> {
    const route = `/userdata/${encodeURIComponent(path)}?overwrite=${options.overwrite === false ? 'false' : 'true'}&full_info=true`;
    const response = await this.#http.request(route, { method: 'POST', body }, options);
    if (response.status === 409)
      throw new AppError('invalid_input', `${path} already exists on the server.`, { details: { path } });
    await this.#http.ensureOk(response, route);
    return this.#http.parse(UserDataFile, await this.#http.json(response, route), route);
  }

  /** Files under a folder of the server's user data (`GET /userdata?dir=…`), relative to it; empty when it does not exist. */
  async listUserData(dir: string, options: RequestOptions & { recurse?: boolean } = {}): Promise<string[]> {
    const route = `/userdata?dir=${encodeURIComponent(dir)}${options.recurse ? '&recurse=true' : ''}`;
    const response = await this.#http.request(route, { method: 'GET' }, options);
    if (response.status === 404) return [];
    await this.#http.ensureOk(response, route);
    return this.#http.stringList(await this.#http.json(response, route), route);
  }

  /** Model folder keys (checkpoints, loras, vae, …). */
  async listModelFolders(options: RequestOptions = {}): Promise<string[]> {
    return this.#http.stringList(await this.#http.getJson('/models', options), '/models');
  }

  /** Files in one model folder, relative to it, with the server's own path separator. */
  async listModels(folder: string, options: RequestOptions = {}): Promise<string[]> {
    const path = `/models/${encodeURIComponent(folder)}`;
    const response = await this.#http.request(path, { method: 'GET' }, options);
    if (response.status === 404)
      throw new AppError('not_found', `ComfyUI has no model folder "${folder}".`, { details: { folder } });
    await this.#http.ensureOk(response, path);
    return this.#http.stringList(await this.#http.json(response, path), path);
  }

  /**
   * Every model folder with its model files, in the server's folder order (folders that fail to
   * list are left out). `custom_nodes` is not a model folder — ComfyUI lists every file of the node
   * packs there (`__init__.py`…) — and code or text files in any folder are not models either.
   */
  async listAllModels(options: RequestOptions = {}): Promise<Record<string, string[]>> {
    const folders = (await this.listModelFolders(options)).filter((folder) => !NOT_MODEL_FOLDERS.has(folder));
    const files = await Promise.all(folders.map((folder) => this.listModels(folder, options).catch(() => undefined)));
    return Object.fromEntries(
      folders.flatMap((folder, index) => {
        const listed = files[index];
        return listed ? [[folder, listed.filter((file) => !NOT_MODEL_FILE.test(file))]] : [];
      }),
    );
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
    const response = await this.#http.request(
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
    await this.#http.ensureOk(response, '/view');
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
    return this.#http.parse(SystemStats, await this.#http.getJson('/system_stats', options), '/system_stats');
  }

  /** Server feature flags (`supports_preview_metadata`, `max_upload_size`, …). */
  async features(options: RequestOptions = {}): Promise<Record<string, unknown>> {
    const raw = await this.#http.getJson('/features', options);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw notComfyUi(this.#http.url('/features'), 'features is not an object');
    return raw as Record<string, unknown>;
  }

  /** Asks the worker to unload models and/or free memory after the current prompt. */
  async free(input: { unloadModels?: boolean; freeMemory?: boolean }, options: RequestOptions = {}): Promise<void> {
    await this.#http.postEmpty(
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
    return this.#http.request(path, { method: init.method ?? 'GET', json: init.json, raw: init.isInternal }, options);
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
    await this.#http.ensureOk(response, path);
    return this.#http.json(response, path, options.timeoutMs);
  }

  /** The full URL of an API path (for messages and for opening ComfyUI). */
  url(path = '/'): string {
    return this.#http.url(path).toString();
  }

  // ---- plumbing ----

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
    const response = await this.#http.request(
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
    await this.#http.ensureOk(response, path);
    return this.#http.parse(UploadResult, await this.#http.json(response, path), path);
  }
}
