import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { SERVE_MEDIA_PREFIX, WS_PATH } from '@shared/bridge';
import type { Core } from '../core/create-core';
import { AppError, systemErrorCode } from '../core/lib/errors';
import type { Logger } from '../core/lib/logger';
import {
  SECURITY_HEADERS,
  cookieName,
  createToken,
  isAllowedHostHeader,
  isAllowedOrigin,
  readCookie,
  tokensEqual,
} from './security';
import { resolveMediaFile, sendMediaFile } from './media-files';
import { attachWsTransport } from './ws-transport';

export interface ServeOptions {
  core: Pick<Core, 'router' | 'events'>;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** Generated outputs, served under /media/ to the page (same token rules); read per request, as settings may move it. */
  mediaDir?: () => string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8082 */
  port?: number;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  log: Logger;
}

export const DEFAULT_SERVE_PORT = 8082;

/** Where serve mode exposes the outputs folder to the page. */
export const MEDIA_PREFIX = SERVE_MEDIA_PREFIX;

/**
 * Serve mode: the built renderer over HTTP and the contract over a WebSocket at /ws, both behind a
 * per-run token. The token arrives once in the URL; the server then sets a same-site cookie so the
 * page's own scripts and images load, while the WebSocket must always present the token itself.
 */
export class ServeServer {
  readonly token: string;
  readonly #options: ServeOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #detachTransport: (() => void) | undefined;
  #port = 0;

  constructor(options: ServeOptions) {
    this.#options = options;
    this.#log = options.log;
    this.token = options.token ?? createToken();
  }

  get host(): string {
    return this.#options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.#port;
  }

  /** The address to open, token included. */
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    const shown = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
    return `http://${shown}:${this.#port}/?token=${this.token}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const { rendererDir } = this.#options;
    if (!existsSync(rendererDir)) {
      throw new AppError('not_found', `The app's web files are missing (${rendererDir}). Run "npm run build" first.`);
    }
    const statics = sirv(rendererDir, {
      etag: true,
      dev: false,
      dotfiles: false,
      setHeaders: (res) => setHeaders(res),
    });
    const server = createServer((request, response) => this.#handleHttp(request, response, statics));
    // Large enough for an input file handed over as base64 (generation.stageInput takes up to 64 MB).
    const wss = new WebSocketServer({ noServer: true, maxPayload: 96 * 1024 * 1024 });
    server.on('upgrade', (request, socket, head) => this.#handleUpgrade(request, socket, head, wss));
    this.#detachTransport = attachWsTransport({
      wss,
      router: this.#options.core.router,
      events: this.#options.core.events,
      log: this.#log.child('ws'),
    });

    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(translateListenError(error, this.host, this.#options.port ?? DEFAULT_SERVE_PORT)),
      );
      server.listen(this.#options.port ?? DEFAULT_SERVE_PORT, this.host, () => resolve());
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    this.#server = server;
    this.#wss = wss;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    const wss = this.#wss;
    this.#server = undefined;
    this.#wss = undefined;
    this.#detachTransport?.();
    this.#detachTransport = undefined;
    if (wss) {
      for (const socket of wss.clients) socket.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const socket of wss.clients) socket.terminate();
    }
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  #isAuthorized(request: IncomingMessage, url: URL): 'query' | 'cookie' | false {
    if (tokensEqual(this.token, url.searchParams.get('token'))) return 'query';
    if (tokensEqual(this.token, readCookie(request, cookieName(this.#port)))) return 'cookie';
    return false;
  }

  #handleHttp(request: IncomingMessage, response: ServerResponse, statics: ReturnType<typeof sirv>): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!isAllowedHostHeader(request.headers.host, this.host)) {
      return deny(response, 403, 'This address is not allowed to reach ComfyDesk.');
    }
    const auth = this.#isAuthorized(request, url);
    if (!auth) {
      return deny(response, 401, 'ComfyDesk needs the link printed by "comfydesk serve" (it ends with ?token=…).');
    }
    if (auth === 'query') {
      response.setHeader('Set-Cookie', `${cookieName(this.#port)}=${this.token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return deny(response, 405, 'Only GET is served here.');
    }
    if (url.pathname.startsWith(MEDIA_PREFIX)) {
      // The raw path, decoded once per segment here: a generic static server would decode it with
      // decodeURI, which leaves %2B, %26, %23… encoded, so outputs named with + & # … were 404.
      const dir = this.#options.mediaDir?.();
      const encoded = (request.url ?? '').split('?')[0]!.slice(MEDIA_PREFIX.length);
      const file = dir ? resolveMediaFile(dir, encoded) : undefined;
      if (!file || !sendMediaFile(request, response, file, setHeaders))
        return deny(response, 404, 'That output is no longer on disk.');
      return;
    }
    statics(request, response, () => deny(response, 404, 'Not found.'));
  }

  #handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, wss: WebSocketServer): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const refuse = (status: number, reason: string) => {
      this.#log.warn('websocket refused', { status, reason, origin: request.headers.origin });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== WS_PATH) return refuse(404, 'Not Found');
    if (!isAllowedHostHeader(request.headers.host, this.host)) return refuse(403, 'Forbidden');
    if (!isAllowedOrigin(request.headers.origin, request.headers.host)) return refuse(403, 'Forbidden');
    if (!tokensEqual(this.token, url.searchParams.get('token'))) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }
}

function setHeaders(response: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
}

function deny(response: ServerResponse, status: number, message: string): void {
  setHeaders(response);
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(`${message}\n`);
}

function translateListenError(error: unknown, host: string, port: number): AppError {
  const code = systemErrorCode(error);
  if (code === 'EADDRINUSE') {
    return new AppError(
      'io_error',
      `Port ${port} on ${host} is already in use. Stop the other program or pick another port with --port.`,
      { cause: error },
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new AppError('io_error', `This machine has no address ${host} to listen on. Check --host.`, {
      cause: error,
    });
  }
  if (code === 'EACCES') {
    return new AppError(
      'permission_denied',
      `Listening on port ${port} needs more privileges. Pick a port above 1024 with --port.`,
      { cause: error },
    );
  }
  return new AppError('io_error', `Serve mode could not listen on ${host}:${port}.`, { cause: error });
}
