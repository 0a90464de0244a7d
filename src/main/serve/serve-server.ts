import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';
import sirv from 'sirv';
import { WebSocketServer } from 'ws';
import { SERVE_MEDIA_PREFIX, SERVE_UPLOAD_PATH, WS_PATH } from '@shared/bridge';
import type { Core } from '../core/create-core';
import { AppError, serializeError, systemErrorCode } from '../core/lib/errors';
import { realFileInside } from '../core/lib/inside-folder';
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
import { sendFile } from './send-file';
import { attachWsTransport, closeEndpoint } from './ws-transport';

export interface ServeOptions {
  /** The core; with `staged`, input files can be uploaded to `/upload`. */
  core: Pick<Core, 'router' | 'events'> & Partial<Pick<Core, 'staged'>>;
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

/**
 * The largest WebSocket message the page may send. Files never travel as messages (they are
 * uploaded to `/upload`), so every command fits in far less. @default 1 MiB
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

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
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
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
    await closeEndpoint(server, wss, 'server shutting down');
  }

  #isAuthorized(request: IncomingMessage, url: URL): 'query' | 'cookie' | 'header' | false {
    if (tokensEqual(this.token, url.searchParams.get('token'))) return 'query';
    if (tokensEqual(this.token, readCookie(request, cookieName(this.#port)))) return 'cookie';
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (tokensEqual(this.token, bearer)) return 'header';
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
    if (url.pathname === SERVE_UPLOAD_PATH) return void this.#handleUpload(request, response, url);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return deny(response, 405, 'Only GET is served here.');
    }
    if (url.pathname.startsWith(MEDIA_PREFIX)) return void this.#handleMedia(request, response, url);
    statics(request, response, () => deny(response, 404, 'Not found.'));
  }

  /**
   * A saved output. The path is decoded once and checked by its real path, so neither `..` nor a
   * symlink that leaves the outputs folder reaches another file.
   */
  async #handleMedia(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const dir = this.#options.mediaDir?.();
    let relativePath: string;
    try {
      relativePath = decodeURIComponent(url.pathname.slice(MEDIA_PREFIX.length));
    } catch {
      return deny(response, 404, 'Not found.');
    }
    try {
      const file = dir ? await realFileInside(dir, relativePath) : undefined;
      if (!file) return deny(response, 404, 'That output is no longer on disk.');
      setHeaders(response);
      await sendFile(request, response, file);
    } catch (error) {
      this.#log.warn('output could not be served', { path: relativePath, error });
      if (!response.headersSent) deny(response, 404, 'That output is no longer on disk.');
      else response.destroy();
    }
  }

  /**
   * `POST /upload?name=…` with the file as the body and its type as Content-Type: an input file for
   * a run, streamed to the staging folder (never held in memory) and answered with its handle.
   * Too large a file gets 413 and leaves nothing on disk.
   */
  async #handleUpload(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const staged = this.#options.core.staged;
    if (request.method !== 'POST') return deny(response, 405, 'Upload a file with POST.');
    // Another site's page cannot post here: a browser names the page's origin, which must be ours.
    if (!isAllowedOrigin(request.headers.origin, request.headers.host)) {
      return deny(response, 403, 'This page is not allowed to upload to ComfyDesk.');
    }
    if (!staged) return deny(response, 404, 'Not found.');
    const name = url.searchParams.get('name')?.trim() ?? '';
    if (name === '' || name.length > 255) {
      return sendError(response, new AppError('invalid_input', 'Name the file with ?name=… (up to 255 characters).'));
    }
    const mime = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const declared = request.headers['content-length'];
    // The body goes through a pass-through, so a refusal stops the reading without tearing down the
    // socket before the answer is sent.
    const body = new PassThrough();
    request.pipe(body);
    try {
      const input = await staged.stageStream(name, mime, body, {
        declaredBytes: declared === undefined ? undefined : Number(declared),
      });
      sendJson(response, 201, input);
    } catch (error) {
      request.unpipe(body);
      body.destroy();
      if (!(error instanceof AppError) || error.code !== 'input_too_large')
        this.#log.warn('upload refused', { name, error });
      sendError(response, error, this.#log);
    }
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

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  input_too_large: 413,
  invalid_input: 400,
  cancelled: 400,
  disk_full: 507,
  permission_denied: 500,
  io_error: 500,
};

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  setHeaders(response);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(JSON.stringify(body));
}

/** An error as the contract shapes it, so the page shows the same message a command would. */
function sendError(response: ServerResponse, error: unknown, log?: Logger): void {
  const serialized = serializeError(error, log);
  const status = STATUS_BY_CODE[serialized.code] ?? 500;
  // A refused body may still be arriving: close the connection instead of reading it all.
  sendJson(response, status, serialized, status === 413 ? { Connection: 'close' } : {});
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
