import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  annotatedFileExists,
  PromptExecutor,
  type ExecutionHost,
  type InjectedFailure,
  type PromptNode,
  type QueueTuple,
} from './executor';
import { ManagerEmulation, type ManagerOptions } from './manager';
import { loadObjectInfo, type NodeDefinition } from './object-info';
import { validatePrompt } from './validate';
import { historyJob, isCanonicalUuid, listJobs, queueJob } from './jobs';
import { MODEL_INPUT_FOLDERS } from '../../../src/main/core/generation/parameters/constraints';

/** Model file extensions ComfyUI lists (folder_paths.supported_pt_extensions). */
const MODEL_EXTENSIONS = new Set(['.ckpt', '.pt', '.pt2', '.bin', '.pth', '.safetensors', '.pkl', '.sft']);
/**
 * Folders whose extension filter differs (folder_paths.py): configs lists YAML files, and
 * custom_nodes has an empty filter, which ComfyUI reads as "every file" (`__init__.py` included).
 */
const FOLDER_EXTENSIONS: Record<string, ReadonlySet<string> | 'all'> = {
  configs: new Set(['.yaml']),
  custom_nodes: 'all',
};
/** Input files a loader lists, by its upload flag (folder_paths.filter_files_content_types: by MIME family). */
const CONTENT_EXTENSIONS: Record<string, RegExp> = {
  image: /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i,
  video: /\.(mp4|webm|mov|mkv|avi|m4v|gif)$/i,
  audio: /\.(wav|mp3|flac|ogg|opus|m4a|aac)$/i,
};
/** The folder keys a stock 0.3.64 answers to GET /models, in its order (transcript O). */
export const MODEL_FOLDERS = [
  'checkpoints',
  'configs',
  'loras',
  'vae',
  'text_encoders',
  'diffusion_models',
  'clip_vision',
  'style_models',
  'embeddings',
  'diffusers',
  'vae_approx',
  'controlnet',
  'gligen',
  'upscale_models',
  'custom_nodes',
  'hypernetworks',
  'photomaker',
  'classifiers',
  'model_patches',
  'audio_encoders',
];
/**
 * Where a stock 0.3.64 keeps each folder key, relative to its base directory, in its order
 * (`GET /internal/folder_paths` on the real server): the first is where new files go.
 */
const FOLDER_DIRS: Record<string, string[]> = {
  checkpoints: ['models/checkpoints', 'output/checkpoints'],
  configs: ['models/configs'],
  loras: ['models/loras', 'output/loras'],
  vae: ['models/vae', 'output/vae'],
  text_encoders: ['models/text_encoders', 'models/clip', 'output/clip'],
  diffusion_models: ['models/unet', 'models/diffusion_models', 'output/diffusion_models'],
  clip_vision: ['models/clip_vision'],
  style_models: ['models/style_models'],
  embeddings: ['models/embeddings'],
  diffusers: ['models/diffusers'],
  vae_approx: ['models/vae_approx'],
  controlnet: ['models/controlnet', 'models/t2i_adapter'],
  gligen: ['models/gligen'],
  upscale_models: ['models/upscale_models'],
  custom_nodes: ['custom_nodes'],
  hypernetworks: ['models/hypernetworks'],
  photomaker: ['models/photomaker'],
  classifiers: ['models/classifiers'],
  model_patches: ['models/model_patches'],
  audio_encoders: ['models/audio_encoders'],
};
const SERVER_FEATURES = { supports_preview_metadata: true, max_upload_size: 104857600 };
const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.flac': 'audio/flac',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.json': 'application/json',
  '.txt': 'text/plain',
};

/** How to start the emulated ComfyUI. */
export interface ComfyServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Base folder for input/output/temp/models; a temporary one (removed on stop) when absent. */
  dataDir?: string;
  /** ms every ordinary node takes. @default 0 */
  nodeMs?: number;
  /** Overrides PeerSlowSteps' step_ms when set (tests keep runs short or long without new prompts). */
  stepMs?: number;
  /** Model files to create: folder key → relative paths. */
  models?: Record<string, string[]>;
  /**
   * Behave like a newer ComfyUI (0.38.x, read from its source): the jobs API under `/api/jobs`, client
   * prompt ids must be canonical lowercase UUIDs (400 `invalid_prompt_id`), accepted prompts get
   * `extra_data.create_time`, partner tokens are kept out of `/queue`, and a missing node class is
   * `missing_node_type`. @default false (0.3.64)
   */
  newer?: boolean;
  /** Reported by /system_stats. @default '0.3.64' ('0.38.1' when `newer`) */
  version?: string;
  /** The first device /system_stats lists. @default a CPU device like the recorded server's */
  device?: { name: string; type: string; vram_total: number; vram_free: number };
  /** Called just before each JSON message goes out (benchmarks timestamp it). */
  onJsonSent?: (type: string, data: unknown) => void;
  /** Emulate ComfyUI-Manager on this server (its legacy routes, model list and packs). */
  manager?: ManagerOptions;
  /** Answer neither `/internal/folder_paths` nor `/api/experiment/models` (a server that does not say where its folders are). */
  hidesFolderPaths?: boolean;
  /** Report folders under this base instead of the data folder, as a server on another machine would (`/workspace/ComfyUI`). */
  reportedBase?: string;
  /** Node types this server lacks (a server without a custom node pack), e.g. ['PeerSlowSteps']. */
  withoutNodes?: string[];
}

/** Everything a test can see or change about the emulated server. */
export interface ComfyTestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Raw queue state: running and pending tuples (pending is the raw heap, as ComfyUI keeps it). */
  queue(): { running: QueueTuple[]; pending: QueueTuple[] };
  /** History entries by prompt id, in completion order. */
  history(): Record<string, Record<string, unknown>>;
  /** Client ids of the sockets connected now. */
  socketClientIds(): string[];
  /** Every HTTP request the server received, in order (method and path with query). */
  readonly requests: Array<{ method: string; path: string }>;
  /** Makes the next run of a matching node fail or drop every socket. */
  injectFailure(failure: InjectedFailure): void;
  /** Delays every HTTP answer by `ms` (a slow server). */
  setResponseDelay(ms: number): void;
  setTiming(timing: { nodeMs?: number; stepMs?: number | undefined }): void;
  /** Closes every WebSocket (a dropped link), keeping the server up. */
  dropSockets(): void;
  /** Waits until nothing runs and nothing is pending. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Folder key → absolute folders on this machine (the first is where new files go); `/internal/folder_paths` reports them under `reportedBase` when set. */
  folderPaths(): Record<string, string[]>;
  /** The ComfyUI-Manager emulation, when the server was started with one. */
  readonly manager: ManagerEmulation | undefined;
  /** Stops and starts again on the same port: queue, history and temp files are gone, as after a real restart. */
  restart(): Promise<void>;
  /** Stops listening, leaving the port closed (a crashed server), until `start()`. */
  crash(): Promise<void>;
  /**
   * Becomes unreachable while keeping its queue and history (a machine whose network dropped): the
   * port closes, sockets drop, the prompt running now finishes, pending ones wait. `reconnect()`
   * listens again on the same port and goes on with the queue.
   */
  disconnect(): Promise<void>;
  reconnect(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a ComfyUI protocol server on 127.0.0.1 (port 0 by default) that behaves like ComfyUI 0.3.64. */
export async function startComfyServer(options: ComfyServerOptions = {}): Promise<ComfyTestServer> {
  const server = new EmulatedComfy(options);
  await server.start();
  return server;
}

class EmulatedComfy implements ComfyTestServer {
  readonly dataDir: string;
  readonly requests: Array<{ method: string; path: string }> = [];
  readonly #ownsDataDir: boolean;
  readonly #options: ComfyServerOptions;
  readonly #objectInfo: Record<string, NodeDefinition> = loadObjectInfo();
  readonly #dirs: ExecutionHost['dirs'];
  readonly #sockets = new Map<string, WebSocket>();
  readonly #socketFlags = new Map<string, Record<string, unknown>>();
  readonly #executor: PromptExecutor;
  readonly manager: ManagerEmulation | undefined;
  /** Node types of custom-node packs installed (through the Manager emulation) and loaded at a restart. */
  #installedNodes: Record<string, NodeDefinition> = {};
  #http: Server | undefined;
  #wss: WebSocketServer | undefined;
  #port = 0;
  #number = 0;
  #heap: QueueTuple[] = [];
  #running: QueueTuple | undefined;
  #history = new Map<string, Record<string, unknown>>();
  #interrupted = false;
  #lastNodeId: string | null = null;
  #currentClient: string | null = null;
  #failures: InjectedFailure[] = [];
  #responseDelayMs = 0;
  #timing: { nodeMs: number; stepMs: number | undefined };
  #worker: Promise<void> | undefined;
  #generation = 0;
  #timers = new Set<NodeJS.Timeout>();
  #idleWaiters: Array<() => void> = [];
  #freeMemory = false;
  #isDisconnected = false;

  constructor(options: ComfyServerOptions) {
    this.#options = options;
    this.#ownsDataDir = options.dataDir === undefined;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'comfy-test-server-'));
    this.#dirs = {
      input: join(this.dataDir, 'input'),
      output: join(this.dataDir, 'output'),
      temp: join(this.dataDir, 'temp'),
    };
    for (const dir of Object.values(this.#dirs)) mkdirSync(dir, { recursive: true });
    for (const [folder, files] of Object.entries(options.models ?? {})) {
      for (const file of files) {
        const path = join(this.dataDir, 'models', folder, file);
        mkdirSync(resolve(path, '..'), { recursive: true });
        writeFileSync(path, 'weights');
      }
    }
    for (const type of options.withoutNodes ?? []) delete this.#objectInfo[type];
    this.#timing = { nodeMs: options.nodeMs ?? 0, stepMs: options.stepMs };
    this.#executor = new PromptExecutor(this.#host());
    this.manager = options.manager
      ? new ManagerEmulation(options.manager, {
          folderPaths: () => this.folderPaths(),
          installNodes: (definitions) => (this.#installedNodes = { ...this.#installedNodes, ...definitions }),
          restart: () => this.restart(),
        })
      : undefined;
  }

  folderPaths(base: string = this.dataDir): Record<string, string[]> {
    return Object.fromEntries(
      Object.entries(FOLDER_DIRS).map(([key, dirs]) => [key, dirs.map((dir) => join(base, ...dir.split('/')))]),
    );
  }

  /** The folders as the server reports them (another machine's paths with `reportedBase`). */
  #reportedFolderPaths(): Record<string, string[]> {
    return this.folderPaths(this.#options.reportedBase ?? this.dataDir);
  }

  /** Every model file of a folder key, from all of its folders, relative to the folder it is in. */
  #modelFiles(folder: string): string[] {
    // Files seeded under models/<folder> count too (custom_nodes lives beside models/ in ComfyUI).
    const dirs = [...new Set([...(this.folderPaths()[folder] ?? []), join(this.dataDir, 'models', folder)])];
    return [...new Set(dirs.flatMap((dir) => listModelFiles(dir, FOLDER_EXTENSIONS[folder])))].sort();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /**
   * The node definitions as ComfyUI answers them now: a loader's model combo lists the files in
   * its model folder (folder_paths.get_filename_list), so a server started with `models` offers them.
   */
  #objectInfoNow(): Record<string, NodeDefinition> {
    const definitions = { ...this.#objectInfo, ...this.#installedNodes };
    for (const [classType, inputs] of Object.entries(MODEL_INPUT_FOLDERS)) {
      const definition = definitions[classType];
      if (!definition) continue;
      let copy: NodeDefinition | undefined;
      for (const [input, folder] of Object.entries(inputs)) {
        for (const category of ['required', 'optional'] as const) {
          const spec = definition.input[category]?.[input];
          if (!spec || !Array.isArray(spec[0])) continue;
          copy ??= structuredClone(definition);
          copy.input[category]![input] = [this.#modelFiles(folder), ...spec.slice(1)];
        }
      }
      if (copy) definitions[classType] = copy;
    }
    // Loaders of input files list the input folder's top-level files of their kind (nodes.py LoadImage & co).
    for (const [classType, definition] of Object.entries(definitions)) {
      let copy: NodeDefinition | undefined;
      for (const category of ['required', 'optional'] as const) {
        for (const [input, spec] of Object.entries(definition.input[category] ?? {})) {
          const options = (Array.isArray(spec) ? spec[1] : undefined) as Record<string, unknown> | undefined;
          const kinds = options?.image_upload
            ? ['image']
            : options?.video_upload
              ? ['video']
              : options?.audio_upload
                ? ['audio', 'video']
                : undefined;
          if (!kinds || !Array.isArray(spec) || options?.image_folder === 'output') continue;
          copy ??= structuredClone(definition);
          copy.input[category]![input] = [this.#inputFiles(kinds), ...spec.slice(1)];
        }
      }
      if (copy) definitions[classType] = copy;
    }
    return definitions;
  }

  /** The input folder's top-level files of some MIME families, sorted, as LoadImage lists them. */
  #inputFiles(kinds: string[]): string[] {
    return readdirSync(this.#dirs.input, { withFileTypes: true })
      .filter((entry) => entry.isFile() && kinds.some((kind) => CONTENT_EXTENSIONS[kind]!.test(entry.name)))
      .map((entry) => entry.name)
      .sort();
  }

  get port(): number {
    return this.#port;
  }

  queue(): { running: QueueTuple[]; pending: QueueTuple[] } {
    return { running: this.#running ? [this.#running] : [], pending: [...this.#heap] };
  }

  history(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.#history);
  }

  socketClientIds(): string[] {
    return [...this.#sockets.keys()];
  }

  injectFailure(failure: InjectedFailure): void {
    this.#failures.push(failure);
  }

  setResponseDelay(ms: number): void {
    this.#responseDelayMs = ms;
  }

  setTiming(timing: { nodeMs?: number; stepMs?: number | undefined }): void {
    this.#timing = {
      nodeMs: timing.nodeMs ?? this.#timing.nodeMs,
      stepMs: 'stepMs' in timing ? timing.stepMs : this.#timing.stepMs,
    };
  }

  dropSockets(): void {
    for (const socket of this.#sockets.values()) socket.terminate();
    this.#sockets.clear();
  }

  async waitForIdle(timeoutMs = 10_000): Promise<void> {
    if (!this.#running && this.#heap.length === 0) return;
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error('the test server did not become idle in time')), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolvePromise();
      });
    });
  }

  async start(): Promise<void> {
    if (this.#http) return;
    const http = createServer((request, response) => void this.#handle(request, response));
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (request, socket, head) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      if (url.pathname !== '/ws' && url.pathname !== '/api/ws') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (!originAllowed(request)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => this.#onSocket(ws, url.searchParams.get('clientId') ?? ''));
    });
    await new Promise<void>((resolvePromise, reject) => {
      http.once('error', reject);
      http.listen(this.#port || this.#options.port || 0, this.#options.host ?? '127.0.0.1', () => resolvePromise());
    });
    this.#port = (http.address() as AddressInfo).port;
    this.#http = http;
    this.#wss = wss;
  }

  async crash(): Promise<void> {
    this.#isDisconnected = false;
    this.#generation += 1; // the running prompt's worker stops at its next step
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.dropSockets();
    const http = this.#http;
    const wss = this.#wss;
    this.#http = undefined;
    this.#wss = undefined;
    wss?.close();
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolvePromise) => http.close(() => resolvePromise()));
    }
    this.#heap = [];
    this.#running = undefined;
    this.#history.clear();
    this.#lastNodeId = null;
    this.#currentClient = null;
    this.#executor.reset();
    rmSync(this.#dirs.temp, { recursive: true, force: true });
    mkdirSync(this.#dirs.temp, { recursive: true });
    this.#worker = undefined;
    this.#notifyIdle();
  }

  async disconnect(): Promise<void> {
    this.#isDisconnected = true;
    this.dropSockets();
    const http = this.#http;
    const wss = this.#wss;
    this.#http = undefined;
    this.#wss = undefined;
    wss?.close();
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolvePromise) => http.close(() => resolvePromise()));
    }
  }

  async reconnect(): Promise<void> {
    this.#isDisconnected = false;
    await this.start();
    this.#kick();
  }

  async restart(): Promise<void> {
    await this.crash();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.crash();
    if (this.#ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  // ---- websocket ----

  #onSocket(ws: WebSocket, requestedId: string): void {
    const sid = requestedId || randomUUID().replace(/-/g, '');
    // Reusing a client id replaces the old socket: it stays open but hears nothing more.
    this.#sockets.delete(sid);
    this.#sockets.set(sid, ws);
    this.#socketFlags.set(sid, {});
    send(ws, { type: 'status', data: { status: this.#queueInfo(), sid } });
    if (this.#currentClient === sid && this.#lastNodeId !== null)
      send(ws, { type: 'executing', data: { node: this.#lastNodeId } });
    let first = true;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        const message = JSON.parse(data.toString()) as { type?: unknown; data?: unknown };
        if (first && message.type === 'feature_flags') {
          this.#socketFlags.set(sid, (message.data as Record<string, unknown> | undefined) ?? {});
          send(ws, { type: 'feature_flags', data: SERVER_FEATURES });
        }
        first = false;
      } catch {
        // ComfyUI logs invalid JSON from a client and carries on.
      }
    });
    ws.on('close', () => {
      if (this.#sockets.get(sid) === ws) {
        this.#sockets.delete(sid);
        this.#socketFlags.delete(sid);
      }
    });
    ws.on('error', () => undefined);
  }

  #sendJson(type: string, data: unknown, sid: string | null): void {
    this.#options.onJsonSent?.(type, data);
    if (sid === null) for (const ws of this.#sockets.values()) send(ws, { type, data });
    else {
      const ws = this.#sockets.get(sid);
      if (ws) send(ws, { type, data });
    }
  }

  #sendBinary(frame: Buffer, sid: string | null): void {
    const targets =
      sid === null
        ? [...this.#sockets.values()]
        : [this.#sockets.get(sid)].filter((ws): ws is WebSocket => ws !== undefined);
    for (const ws of targets) if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
  }

  #queueUpdated(): void {
    this.#sendJson('status', { status: this.#queueInfo() }, null);
  }

  #queueInfo(): { exec_info: { queue_remaining: number } } {
    return { exec_info: { queue_remaining: this.#heap.length + (this.#running ? 1 : 0) } };
  }

  // ---- worker ----

  #host(): ExecutionHost {
    const timing = () => this.#timing;
    return {
      objectInfo: this.#objectInfo,
      dirs: this.#dirs,
      sendJson: (type, data, sid) => this.#sendJson(type, data, sid),
      sendBinary: (frame, sid) => this.#sendBinary(frame, sid),
      supportsPreviewMetadata: (sid) => sid !== null && this.#socketFlags.get(sid)?.supports_preview_metadata === true,
      isInterrupted: () => this.#interrupted,
      takeFailure: (nodeId, classType) => {
        const index = this.#failures.findIndex(
          (failure) =>
            (failure.nodeId === undefined || failure.nodeId === nodeId) &&
            (failure.classType === undefined || failure.classType === classType),
        );
        return index < 0 ? undefined : this.#failures.splice(index, 1)[0];
      },
      dropSockets: () => this.dropSockets(),
      setLastNodeId: (nodeId) => (this.#lastNodeId = nodeId),
      // A getter, so setTiming() applies to a run already under way.
      get timing() {
        return timing();
      },
      sleep: (ms) => this.#sleep(ms),
    };
  }

  #sleep(ms: number): Promise<void> {
    const generation = this.#generation;
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (generation !== this.#generation) reject(new Error('server stopped'));
        else resolvePromise();
      }, ms);
      this.#timers.add(timer);
    });
  }

  #kick(): void {
    if (this.#worker || this.#heap.length === 0 || this.#isDisconnected) return;
    const generation = this.#generation;
    this.#worker = (async () => {
      while (this.#heap.length > 0 && generation === this.#generation && !this.#isDisconnected) {
        const item = heapPop(this.#heap);
        this.#running = item;
        this.#queueUpdated();
        this.#interrupted = false;
        this.#currentClient = typeof item[3].client_id === 'string' ? item[3].client_id : null;
        let result;
        try {
          result = await this.#executor.run(item);
        } catch {
          return; // the server stopped mid-run: nothing is written, as after a crash
        }
        if (generation !== this.#generation) return;
        const extra = { ...item[3] };
        delete extra.auth_token_comfy_org;
        delete extra.api_key_comfy_org;
        this.#history.set(item[1], {
          prompt: [item[0], item[1], item[2], extra, item[4]],
          outputs: result.outputs,
          status: {
            status_str: result.success ? 'success' : 'error',
            completed: result.success,
            messages: result.messages,
          },
          meta: result.meta,
        });
        this.#running = undefined;
        this.#queueUpdated();
        if (this.#currentClient !== null)
          this.#sendJson('executing', { node: null, prompt_id: item[1] }, this.#currentClient);
        if (this.#freeMemory) {
          this.#executor.reset();
          this.#freeMemory = false;
        }
      }
    })().finally(() => {
      if (generation !== this.#generation) return;
      this.#worker = undefined;
      this.#notifyIdle();
      this.#kick();
    });
  }

  #notifyIdle(): void {
    if (this.#running || this.#heap.length > 0) return;
    for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  // ---- http ----

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    this.requests.push({ method: request.method ?? 'GET', path: url.pathname + url.search });
    if (this.#responseDelayMs > 0) await this.#sleep(this.#responseDelayMs).catch(() => undefined);
    if (!originAllowed(request)) return plain(response, 403, '403: Forbidden');
    // /internal/* is not aliased under /api on a real server.
    if (url.pathname === '/internal/folder_paths' && request.method === 'GET' && !this.#options.hidesFolderPaths)
      return json(response, 200, this.#reportedFolderPaths());
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
    const body = request.method === 'POST' ? await readBody(request) : Buffer.alloc(0);
    const managed = await this.manager?.handle(request.method ?? 'GET', path, body);
    if (managed)
      return typeof managed.body === 'string'
        ? plain(response, managed.status, managed.body)
        : json(response, managed.status, managed.body);
    try {
      // Newer servers register the jobs API with its /api prefix only (no bare /jobs).
      if (this.#options.newer && url.pathname.startsWith('/api/jobs'))
        return this.#jobsRoute(request.method ?? 'GET', url.pathname, url.searchParams, body, response);
      await this.#route(request.method ?? 'GET', path, url.searchParams, body, request, response);
    } catch {
      plain(response, 500, '500 Internal Server Error\n\nServer got itself in trouble');
    }
  }

  async #route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Buffer,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const jsonBody = (): Record<string, unknown> => JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (method === 'GET') {
      if (path === '/') return plain(response, 200, '<!doctype html><title>ComfyUI</title>', 'text/html');
      if (path === '/system_stats') return json(response, 200, this.#systemStats());
      if (path === '/features') return json(response, 200, SERVER_FEATURES);
      if (path === '/prompt') return json(response, 200, this.#queueInfo());
      if (path === '/queue')
        return json(response, 200, { queue_running: this.#running ? [this.#running] : [], queue_pending: this.#heap });
      if (path === '/object_info') return json(response, 200, this.#objectInfoNow());
      if (path.startsWith('/object_info/')) {
        const name = decodeURIComponent(path.slice('/object_info/'.length));
        const definitions = this.#objectInfoNow();
        return json(response, 200, definitions[name] ? { [name]: definitions[name] } : {});
      }
      if (path === '/history') return json(response, 200, this.#listHistory(query));
      if (path.startsWith('/history/')) {
        const id = decodeURIComponent(path.slice('/history/'.length));
        const entry = this.#history.get(id);
        return json(response, 200, entry ? { [id]: entry } : {});
      }
      if (path === '/models') return json(response, 200, MODEL_FOLDERS);
      if (path.startsWith('/models/')) {
        const folder = decodeURIComponent(path.slice('/models/'.length));
        if (!MODEL_FOLDERS.includes(folder)) return plain(response, 404, '404: Not Found');
        return json(response, 200, this.#modelFiles(folder));
      }
      if (path === '/userdata') return this.#listUserData(query, response);
      if (path.startsWith('/userdata/')) {
        const file = this.#userDataPath(path);
        if (typeof file !== 'string') return plain(response, file, '');
        if (!existsSync(file) || !statSync(file).isFile()) return plain(response, 404, '');
        const bytes = readFileSync(file);
        response.writeHead(200, {
          'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'Content-Length': bytes.length,
        });
        return void response.end(bytes);
      }
      if (path === '/experiment/models' && !this.#options.hidesFolderPaths)
        return json(
          response,
          200,
          Object.entries(this.#reportedFolderPaths())
            .filter(([name]) => name !== 'configs' && name !== 'custom_nodes')
            .map(([name, folders]) => ({ name, folders })),
        );
      if (path === '/embeddings' || path === '/extensions') return json(response, 200, []);
      if (path.startsWith('/experiment/models/')) {
        const folder = decodeURIComponent(path.slice('/experiment/models/'.length));
        if (!MODEL_FOLDERS.includes(folder)) return plain(response, 404, '404: Not Found');
        // Every file of every folder of the key, with the index of the folder it is in.
        const dirs = this.folderPaths()[folder] ?? [join(this.dataDir, 'models', folder)];
        return json(
          response,
          200,
          dirs.flatMap((dir, pathIndex) =>
            listModelFiles(dir).map((name) => {
              const stat = statSync(join(dir, name));
              return { name, pathIndex, modified: stat.mtimeMs / 1000, created: stat.ctimeMs / 1000, size: stat.size };
            }),
          ),
        );
      }
      if (path === '/view') return this.#view(query, response);
      return plain(response, 404, '404: Not Found');
    }
    if (method === 'POST') {
      if (path === '/prompt') return this.#postPrompt(jsonBody(), response);
      if (path === '/queue') {
        const data = jsonBody();
        if (data.clear) {
          this.#heap = [];
          this.#queueUpdated();
        }
        if (Array.isArray(data.delete)) {
          for (const id of data.delete) {
            const index = this.#heap.findIndex((item) => item[1] === id);
            if (index < 0) continue;
            if (this.#heap.length === 1) {
              this.#heap = [];
              this.#queueUpdated();
            } else {
              this.#heap.splice(index, 1);
              heapify(this.#heap);
            }
            this.#queueUpdated();
          }
        }
        this.#notifyIdle();
        return empty(response);
      }
      if (path === '/interrupt') {
        let data: Record<string, unknown>;
        try {
          data = jsonBody();
        } catch {
          data = {};
        }
        const target = typeof data.prompt_id === 'string' && data.prompt_id ? data.prompt_id : undefined;
        if (target === undefined || this.#running?.[1] === target) this.#interrupted = true;
        return empty(response);
      }
      if (path === '/free') {
        const data = jsonBody();
        if (data.free_memory) this.#freeMemory = true;
        if (data.free_memory && !this.#running) {
          this.#executor.reset();
          this.#freeMemory = false;
        }
        return empty(response);
      }
      if (path === '/history') {
        const data = jsonBody();
        if (data.clear) this.#history.clear();
        if (Array.isArray(data.delete)) for (const id of data.delete) this.#history.delete(String(id));
        return empty(response);
      }
      if (path === '/upload/image' || path === '/upload/mask') return this.#upload(path, body, request, response);
      if (path.startsWith('/userdata/')) return this.#saveUserData(path, query, body, response);
      return plain(response, 405, '405: Method Not Allowed');
    }
    if (method === 'DELETE' && path.startsWith('/userdata/')) {
      const file = this.#userDataPath(path);
      if (typeof file !== 'string') return plain(response, file, '');
      if (!existsSync(file)) return plain(response, 404, '');
      rmSync(file);
      response.writeHead(204);
      return void response.end();
    }
    return plain(response, 405, '405: Method Not Allowed');
  }

  // ---- user data (app/user_manager.py; one user, "default") ----

  get #userRoot(): string {
    return join(this.dataDir, 'user', 'default');
  }

  /**
   * `/userdata/{file}`: one path segment (`/` travels as `%2F`), decoded, kept inside the user's
   * folder (403 otherwise); its parent folder is created as ComfyUI does. A status when refused.
   */
  #userDataPath(path: string): string | number {
    const segment = path.slice('/userdata/'.length);
    if (segment === '' || segment.includes('/')) return 404;
    const file = resolve(this.#userRoot, decodeURIComponent(segment));
    if (file !== this.#userRoot && relative(this.#userRoot, file).startsWith('..')) return 403;
    mkdirSync(resolve(file, '..'), { recursive: true });
    return file;
  }

  #saveUserData(path: string, query: URLSearchParams, body: Buffer, response: ServerResponse): void {
    const file = this.#userDataPath(path);
    if (typeof file !== 'string') return plain(response, file, '');
    if (query.get('overwrite') === 'false' && existsSync(file)) return plain(response, 409, 'File already exists');
    writeFileSync(file, body);
    const relativePath = relative(this.#userRoot, file).split(sep).join('/');
    if ((query.get('full_info') ?? 'false').toLowerCase() !== 'true') return json(response, 200, relativePath);
    json(response, 200, userFileInfo(file, this.#userRoot));
  }

  #listUserData(query: URLSearchParams, response: ServerResponse): void {
    const dir = query.get('dir') ?? '';
    if (!dir) return plain(response, 400, 'Directory not provided');
    const folder = resolve(this.#userRoot, decodeURIComponent(dir));
    if (relative(this.#userRoot, folder).startsWith('..')) return plain(response, 403, 'Invalid directory');
    mkdirSync(resolve(folder, '..'), { recursive: true });
    if (!existsSync(folder)) return plain(response, 404, 'Directory not found');
    const recurse = (query.get('recurse') ?? '').toLowerCase() === 'true';
    const fullInfo = (query.get('full_info') ?? '').toLowerCase() === 'true';
    const split = (query.get('split') ?? '').toLowerCase() === 'true';
    const files: string[] = [];
    const walk = (current: string) => {
      for (const entry of readdirSync(current, { withFileTypes: true })) {
        const full = join(current, entry.name);
        if (entry.isFile()) files.push(full);
        else if (entry.isDirectory() && recurse) walk(full);
      }
    };
    walk(folder);
    json(
      response,
      200,
      files.sort().map((full) => {
        if (fullInfo) return userFileInfo(full, folder);
        const relativePath = relative(folder, full).split(sep).join('/');
        return split ? [relativePath, ...relativePath.split('/')] : relativePath;
      }),
    );
  }

  #jobsRoute(method: string, path: string, query: URLSearchParams, body: Buffer, response: ServerResponse): void {
    const running = this.#running ? [this.#running] : [];
    if (method === 'GET' && path === '/api/jobs') {
      const result = listJobs(query, running, this.#heap, this.#history as Map<string, never>);
      return json(response, result.status, result.body);
    }
    const single = /^\/api\/jobs\/([^/]+)$/.exec(path);
    if (method === 'GET' && single) {
      const id = decodeURIComponent(single[1]!);
      const entry = this.#history.get(id);
      if (entry) return json(response, 200, historyJob(id, entry as never, true));
      const item = running.find((tuple) => tuple[1] === id);
      if (item) return json(response, 200, queueJob(item, 'in_progress', true));
      const waiting = this.#heap.find((tuple) => tuple[1] === id);
      if (waiting) return json(response, 200, queueJob(waiting, 'pending', true));
      return json(response, 404, { error: 'Job not found' });
    }
    const cancelOne = /^\/api\/jobs\/([^/]+)\/cancel$/.exec(path);
    if (method === 'POST' && path === '/api/jobs/cancel') {
      let data: unknown;
      try {
        data = JSON.parse(body.toString('utf8'));
      } catch {
        return json(response, 400, { error: 'Request body must be valid JSON' });
      }
      const ids =
        typeof data === 'object' && data !== null && !Array.isArray(data)
          ? (data as { job_ids?: unknown }).job_ids
          : undefined;
      if (!Array.isArray(ids)) return json(response, 400, { error: 'job_ids must be a list' });
      const invalid = ids
        .filter((id) => !isCanonicalUuid(id))
        .map((id) => (typeof id === 'string' ? id : JSON.stringify(id)));
      if (invalid.length > 0)
        return json(response, 400, { error: 'job_ids contains invalid id(s)', invalid_ids: invalid });
      let cancelled = false;
      for (const id of ids as string[]) if (this.#cancelJob(id)) cancelled = true;
      return json(response, 200, { cancelled });
    }
    if (method === 'POST' && cancelOne)
      return json(response, 200, { cancelled: this.#cancelJob(decodeURIComponent(cancelOne[1]!)) });
    if (method === 'GET') return plain(response, 404, '404: Not Found');
    return plain(response, 405, '405: Method Not Allowed');
  }

  /** Interrupt if it runs, else dequeue if it waits; whether either happened. */
  #cancelJob(id: string): boolean {
    if (this.#running?.[1] === id) {
      this.#interrupted = true;
      return true;
    }
    const index = this.#heap.findIndex((item) => item[1] === id);
    if (index < 0) return false;
    this.#heap.splice(index, 1);
    heapify(this.#heap);
    this.#queueUpdated();
    this.#notifyIdle();
    return true;
  }

  #postPrompt(data: Record<string, unknown>, response: ServerResponse): void {
    let number: number;
    if ('number' in data) number = Number(data.number);
    else {
      number = this.#number;
      if (data.front) number = -number;
      this.#number += 1;
    }
    if (!('prompt' in data)) {
      return json(response, 400, {
        error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} },
        node_errors: {},
      });
    }
    const prompt = data.prompt as Record<string, PromptNode>;
    let promptId: string;
    if (this.#options.newer) {
      if (data.prompt_id === undefined || data.prompt_id === null) promptId = randomUUID();
      else if (isCanonicalUuid(data.prompt_id)) promptId = data.prompt_id;
      else
        return json(response, 400, {
          error: {
            type: 'invalid_prompt_id',
            message: 'prompt_id must be a valid UUID',
            details:
              'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
            extra_info: {},
          },
          node_errors: {},
        });
    } else
      promptId =
        data.prompt_id === undefined ? randomUUID() : data.prompt_id === null ? 'None' : String(data.prompt_id);
    const partial = Array.isArray(data.partial_execution_targets)
      ? data.partial_execution_targets.map(String)
      : undefined;
    const result = validatePrompt(prompt, this.#objectInfoNow(), partial, (name) =>
      annotatedFileExists(this.#dirs, name),
    );
    const extraData =
      typeof data.extra_data === 'object' && data.extra_data !== null
        ? { ...(data.extra_data as Record<string, unknown>) }
        : {};
    if ('client_id' in data) extraData.client_id = data.client_id;
    if (!result.ok) {
      const error = this.#options.newer ? missingNodeType(result.error, prompt) : result.error;
      return json(response, 400, { error, node_errors: result.nodeErrors });
    }
    if (this.#options.newer) {
      // Partner tokens are held apart from the queue item, and the accept time is recorded (ms).
      delete extraData.auth_token_comfy_org;
      delete extraData.api_key_comfy_org;
      extraData.create_time = Date.now();
    }
    heapPush(this.#heap, [number, promptId, prompt, extraData, result.outputs]);
    this.#queueUpdated();
    json(response, 200, { prompt_id: promptId, number, node_errors: result.nodeErrors });
    this.#kick();
  }

  #listHistory(query: URLSearchParams): Record<string, unknown> {
    const maxRaw = query.get('max_items');
    const offsetRaw = query.get('offset');
    const maxItems = maxRaw === null ? undefined : pyInt(maxRaw);
    let offset = offsetRaw === null ? -1 : pyInt(offsetRaw);
    const entries = [...this.#history.entries()];
    if (offset < 0 && maxItems !== undefined) offset = entries.length - maxItems;
    const out: Record<string, unknown> = {};
    let count = 0;
    entries.forEach(([id, entry], index) => {
      if (index < offset || (maxItems !== undefined && count >= maxItems)) return;
      out[id] = entry;
      count += 1;
    });
    return out;
  }

  /** GET /internal/folder_paths: every folder key with its absolute folders (models under <base>/models). */
  #systemStats(): Record<string, unknown> {
    const device = this.#options.device ?? {
      name: 'cpu',
      type: 'cpu',
      vram_total: 25276510208,
      vram_free: 24603373568,
    };
    return {
      system: {
        os: 'posix',
        ram_total: 25276510208,
        ram_free: 24603373568,
        comfyui_version: this.#options.version ?? (this.#options.newer ? '0.38.1' : '0.3.64'),
        required_frontend_version: '1.27.10',
        installed_templates_version: null,
        required_templates_version: '0.1.95',
        python_version: '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]',
        pytorch_version: '1.13.0a0',
        embedded_python: false,
        argv: ['main.py', '--cpu', '--listen', '127.0.0.1', '--port', String(this.#port)],
      },
      devices: [{ ...device, index: null, torch_vram_total: device.vram_total, torch_vram_free: device.vram_free }],
    };
  }

  #view(query: URLSearchParams, response: ServerResponse): void {
    let filename = query.get('filename') ?? '';
    let type = query.get('type') ?? 'output';
    const annotated = / \[(input|output|temp)\]$/.exec(filename);
    if (annotated) {
      type = annotated[1]!;
      filename = filename.slice(0, annotated.index);
    }
    if (!filename || filename.startsWith('/') || filename.includes('..'))
      return plain(response, 400, '', 'application/octet-stream');
    if (type !== 'input' && type !== 'output' && type !== 'temp')
      return plain(response, 400, '', 'application/octet-stream');
    const base = this.#dirs[type];
    const folder = resolve(base, query.get('subfolder') ?? '');
    if (relative(base, folder).startsWith('..')) return plain(response, 403, '', 'application/octet-stream');
    const file = join(folder, filename);
    if (!existsSync(file) || !statSync(file).isFile()) return plain(response, 404, '', 'application/octet-stream');
    const bytes = readFileSync(file);
    let contentType = MIME[extname(filename).toLowerCase()] ?? 'application/octet-stream';
    if (/html|javascript|css/.test(contentType)) contentType = 'application/octet-stream';
    response.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': bytes.length,
      'Content-Disposition': `filename="${filename}"`,
    });
    response.end(bytes);
  }

  async #upload(path: string, body: Buffer, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await new Request('http://localhost/', {
      method: 'POST',
      headers: { 'content-type': request.headers['content-type'] ?? '' },
      body,
    }).formData();
    const image = form.get('image');
    if (!(image instanceof File)) return plain(response, 400, '');
    const type = String(form.get('type') ?? 'input');
    if (type !== 'input' && type !== 'temp' && type !== 'output') throw new Error(`unknown upload type ${type}`);
    const subfolder = String(form.get('subfolder') ?? '');
    const base = this.#dirs[type];
    const folder = resolve(base, subfolder);
    if (relative(base, folder).startsWith('..') || !image.name || image.name.includes('/') || image.name.includes('..'))
      return plain(response, 400, '');
    mkdirSync(folder, { recursive: true });
    const bytes = Buffer.from(await image.arrayBuffer());
    const overwrite = ['true', '1'].includes(String(form.get('overwrite') ?? '').toLowerCase());
    let name = image.name;
    if (path === '/upload/mask') {
      // The real server composites the mask's alpha into the original; the emulation checks the reference and keeps the upload.
      const original = JSON.parse(String(form.get('original_ref') ?? '{}')) as { filename?: string };
      if (!original.filename) return plain(response, 400, '');
    } else if (!overwrite) {
      const ext = extname(name);
      const stem = name.slice(0, name.length - ext.length);
      for (let index = 1; existsSync(join(folder, name)); index += 1) {
        if (readFileSync(join(folder, name)).equals(bytes)) break;
        name = `${stem} (${index})${ext}`;
      }
    }
    writeFileSync(join(folder, name), bytes);
    json(response, 200, { name, subfolder, type });
  }
}

/** Newer servers name a missing node class `missing_node_type`, by its title, instead of `invalid_prompt`. */
function missingNodeType(
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> },
  prompt: Record<string, PromptNode>,
): typeof error {
  const id = /^Node ID '#(.+)'$/.exec(error.details)?.[1];
  if (error.type !== 'invalid_prompt' || id === undefined) return error;
  const node = prompt[id] as (PromptNode & { _meta?: { title?: string } }) | undefined;
  const classType = typeof node?.class_type === 'string' ? node.class_type : null;
  if (classType === null) {
    const title = node?._meta?.title;
    return {
      type: 'missing_node_type',
      message: `Node '${title ?? `ID #${id}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`,
      details: `Node ID '#${id}'`,
      extra_info: { node_id: id, class_type: null, node_title: title ?? null },
    };
  }
  const title = node?._meta?.title ?? classType;
  return {
    type: 'missing_node_type',
    message: `Node '${title}' not found. The custom node may not be installed.`,
    details: `Node ID '#${id}'`,
    extra_info: { node_id: id, class_type: classType, node_title: title },
  };
}

function originAllowed(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (!origin || !host) return true;
  try {
    const parsed = new URL(origin);
    if (!parsed.host) return true;
    return parsed.host === host;
  } catch {
    return true;
  }
}

function pyInt(value: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw new Error(`invalid literal for int(): ${value}`);
  return Number.parseInt(value, 10);
}

function listModelFiles(dir: string, extensions: ReadonlySet<string> | 'all' = MODEL_EXTENSIONS): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git') walk(path);
      } else if (extensions === 'all' || extensions.has(extname(entry.name).toLowerCase()))
        out.push(relative(dir, path).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** user_manager.get_file_info: the path relative to `base` with `/`, size, and times in seconds. */
function userFileInfo(file: string, base: string): { path: string; size: number; modified: number; created: number } {
  const stats = statSync(file);
  return {
    path: relative(base, file).split(sep).join('/'),
    size: stats.size,
    modified: stats.mtimeMs / 1000,
    created: stats.ctimeMs / 1000,
  };
}

function send(ws: WebSocket, message: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolvePromise(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function plain(response: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function empty(response: ServerResponse): void {
  response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 });
  response.end();
}

// Python's heapq on (number, prompt_id, …) tuples: the pending list is a heap, not sorted (§2.3).
function before(a: QueueTuple, b: QueueTuple): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function heapPush(heap: QueueTuple[], item: QueueTuple): void {
  heap.push(item);
  let index = heap.length - 1;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!before(heap[index]!, heap[parent]!)) break;
    [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
    index = parent;
  }
}

function siftDown(heap: QueueTuple[], start: number): void {
  let index = start;
  for (;;) {
    const left = index * 2 + 1;
    const right = left + 1;
    let smallest = index;
    if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
    if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
    if (smallest === index) return;
    [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
    index = smallest;
  }
}

function heapPop(heap: QueueTuple[]): QueueTuple {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    siftDown(heap, 0);
  }
  return top;
}

function heapify(heap: QueueTuple[]): void {
  for (let index = (heap.length >> 1) - 1; index >= 0; index -= 1) siftDown(heap, index);
}
