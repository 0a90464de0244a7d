import WebSocket from 'ws';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import type { Logger } from '../lib/logger';
import { backoffDelayMs, type BackoffOptions } from '@shared/backoff';
import { BinaryFrameError, decodeBinaryFrame } from './binary-frames';
import { parseComfyMessage, type ComfyEvent } from './messages';

/** What the socket tells its owner. */
export interface ComfySocketEvents {
  /** Every parsed message and decoded binary frame, in arrival order. */
  event: ComfyEvent;
  /** The socket (re)opened; `isReconnect` is true after a drop. A fresh `status` follows. */
  open: { isReconnect: boolean };
  /** The socket closed; `retryInMs` is when the next attempt starts (undefined once stopped). */
  closed: { code: number; reason: string; retryInMs: number | undefined };
}

/** What the socket needs: where, as whom, and its timing. */
export interface ComfySocketDeps {
  /** ComfyUI's base URL (http or https; a path prefix is kept). */
  baseUrl: string;
  /** Our client id: the same for every reconnect, so the server keeps routing our prompts' events here. */
  clientId: string;
  /** Extra headers (a protected proxy's auth header). */
  headers?: Record<string, string>;
  log: Logger;
  /** Flags sent as the first message of every connection. Send only what we decode. @default { supports_preview_metadata: true } */
  featureFlags?: Record<string, unknown>;
  backoff?: BackoffOptions;
  /** Ping period; a ping unanswered for a whole period ends the socket (dead tunnels, sleeping proxies). @default 20000 */
  pingIntervalMs?: number;
  /** @default 10000 */
  handshakeTimeoutMs?: number;
}

/** The WebSocket URL for a base URL: `/api/ws?clientId=…` on the same host, ws or wss. */
export function socketUrl(baseUrl: string, clientId: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/ws`;
  url.search = `?clientId=${encodeURIComponent(clientId)}`;
  url.hash = '';
  return url.toString();
}

/**
 * ComfyUI's event socket (`/api/ws?clientId=…`). Sends the feature-flag handshake first on every
 * connection, parses JSON messages into typed events, decodes binary preview and text frames,
 * ignores unknown types, and reconnects with backoff and jitter under the same client id.
 */
export class ComfySocket {
  readonly #deps: ComfySocketDeps;
  readonly #emitter: Emitter<ComfySocketEvents>;
  #socket: WebSocket | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #hasOpened = false;
  #running = false;
  #serverFlags: Record<string, unknown> = {};

  constructor(deps: ComfySocketDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  get isOpen(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** The server's feature flags from its handshake reply (empty until it answered). */
  get serverFlags(): Record<string, unknown> {
    return this.#serverFlags;
  }

  on<K extends keyof ComfySocketEvents>(name: K, listener: (payload: ComfySocketEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      socket.removeAllListeners();
      socket.on('error', () => undefined); // a late error from a closing socket must not crash the process
      socket.terminate();
    }
  }

  /** Skips the remaining backoff and tries now (e.g. the SSH tunnel just came back). */
  reconnectNow(): void {
    if (!this.#running || this.isOpen || this.#socket) return;
    clearTimeout(this.#retryTimer);
    this.#connect();
  }

  #connect(): void {
    if (!this.#running) return;
    const { baseUrl, clientId, headers, log } = this.#deps;
    const socket = new WebSocket(socketUrl(baseUrl, clientId), {
      headers,
      handshakeTimeout: this.#deps.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.#socket = socket;
    let isAlive = true;

    socket.on('open', () => {
      this.#attempt = 0;
      // The handshake must be the first text message, or the server never stores our flags (§3.1).
      socket.send(
        JSON.stringify({ type: 'feature_flags', data: this.#deps.featureFlags ?? { supports_preview_metadata: true } }),
      );
      const isReconnect = this.#hasOpened;
      this.#hasOpened = true;
      clearInterval(this.#pingTimer);
      this.#pingTimer = setInterval(() => {
        if (!isAlive) {
          log.warn('comfy socket missed a ping; reconnecting');
          socket.terminate();
          return;
        }
        isAlive = false;
        socket.ping();
      }, this.#deps.pingIntervalMs ?? 20_000);
      this.#pingTimer.unref();
      this.#emitter.emit('open', { isReconnect });
    });
    socket.on('pong', () => (isAlive = true));
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      isAlive = true;
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) this.#onBinary(buffer);
      else this.#onText(buffer.toString('utf8'));
    });
    socket.on('error', (error) => log.debug('comfy socket error', { error: error.message }));
    socket.on('unexpected-response', (_request, response) => {
      log.warn('comfy socket refused', { status: response.statusCode });
      socket.terminate();
    });
    socket.on('close', (code, reason) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      clearInterval(this.#pingTimer);
      if (!this.#running) return;
      const retryInMs = backoffDelayMs(this.#attempt, this.#deps.backoff);
      this.#attempt += 1;
      this.#retryTimer = setTimeout(() => this.#connect(), retryInMs);
      this.#retryTimer.unref();
      this.#emitter.emit('closed', { code, reason: reason.toString('utf8'), retryInMs });
    });
  }

  #onText(text: string): void {
    const parsed = parseComfyMessage(text);
    if (!parsed.ok) {
      if (parsed.reason === 'invalid')
        this.#deps.log.warn('malformed ComfyUI message ignored', { type: parsed.type, problem: parsed.problem });
      return;
    }
    if (parsed.event.type === 'feature_flags') this.#serverFlags = parsed.event.data;
    this.#emitter.emit('event', parsed.event);
  }

  #onBinary(buffer: Buffer): void {
    try {
      const frame = decodeBinaryFrame(buffer);
      if (frame.kind === 'preview') this.#emitter.emit('event', { type: 'preview', data: frame.preview });
      else if (frame.kind === 'text') this.#emitter.emit('event', { type: 'text', data: frame.text });
    } catch (error) {
      if (error instanceof BinaryFrameError)
        this.#deps.log.warn('malformed binary frame ignored', { problem: error.message });
      else throw error;
    }
  }
}
