import type { BackoffOptions } from '@shared/backoff';
import type { Logger } from '../lib/logger';
import type { NodeErrors } from './messages';

// What ComfyClient takes and returns (protocol doc §2), apart from the parsed messages in ./messages.

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

/** Folders `/models` lists that hold no models: the node packs' own code. */
export const NOT_MODEL_FOLDERS: ReadonlySet<string> = new Set(['custom_nodes']);
/** Files a model folder may hold that are not models: code, notes, and caches of Python and git. */
export const NOT_MODEL_FILE =
  /(^|[\\/])(__pycache__|\.git)([\\/]|$)|(^|[\\/])__init__\.py$|\.(py|pyc|pyi|md|txt|rst|js|mjs|ts|html|css|toml|ini|cfg|lock|sh|bat|ps1)$/i;
