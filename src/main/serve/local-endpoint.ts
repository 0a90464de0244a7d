import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { WS_PATH } from '@shared/bridge';
import type { Core } from '../core/create-core';
import type { OwnerEndpoint } from '../core/app/owner-lock';
import { Emitter, type Unsubscribe } from '../core/lib/emitter';
import type { Logger } from '../core/lib/logger';
import { SECURITY_HEADERS, createToken, isAllowedHostHeader, tokensEqual } from './security';
import { attachWsTransport, closeEndpoint } from './ws-transport';

export interface LocalEndpointOptions {
  core: Pick<Core, 'router' | 'events'>;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  log: Logger;
}

/**
 * The owner's door for other ComfyDesk processes on this machine: the contract over a WebSocket at
 * /ws on 127.0.0.1 (a free port), guarded by a per-run token that only the lock file in the data
 * folder tells. It serves no pages, and it refuses anything a browser sends (every browser request
 * carries an Origin), so only local programs such as the `comfydesk` CLI can use it. The desktop app
 * and a CLI command that owns the data folder open one; serve mode's own /ws plays the same part.
 */
export class LocalEndpoint {
  readonly token: string;
  readonly #options: LocalEndpointOptions;
  readonly #clients = new Emitter<{ count: number }>();
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #detach: (() => void) | undefined;
  #port = 0;
  #count = 0;

  constructor(options: LocalEndpointOptions) {
    this.#options = options;
    this.token = options.token ?? createToken();
  }

  get port(): number {
    return this.#port;
  }

  /** What goes into the lock file: the address people see and the contract's URL with its token. */
  get published(): OwnerEndpoint {
    return {
      url: `http://127.0.0.1:${this.#port}`,
      endpoint: { url: `ws://127.0.0.1:${this.#port}${WS_PATH}`, token: this.token },
    };
  }

  /** Clients connected now (a CLI owner stays until the commands using it are done). */
  get clientCount(): number {
    return this.#count;
  }

  /** Told whenever the number of connected clients changes. */
  onClients(listener: (count: number) => void): Unsubscribe {
    return this.#clients.on('count', listener);
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const wss = new WebSocketServer({ noServer: true, maxPayload: 96 * 1024 * 1024 });
    const server = createServer((_request, response) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end("This is ComfyDesk's local endpoint for the comfydesk command; it serves no pages.\n");
    });
    server.on('upgrade', (request, socket, head) => this.#upgrade(request, socket, head, wss));
    wss.on('connection', (socket) => {
      this.#setCount(this.#count + 1);
      socket.on('close', () => this.#setCount(this.#count - 1));
    });
    this.#detach = attachWsTransport({
      wss,
      router: this.#options.core.router,
      events: this.#options.core.events,
      log: this.#options.log.child('ws'),
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
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
    this.#detach?.();
    this.#detach = undefined;
    await closeEndpoint(server, wss, 'ComfyDesk is stopping');
  }

  #setCount(count: number): void {
    this.#count = count;
    this.#clients.emit('count', count);
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, wss: WebSocketServer): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const refuse = (status: number, reason: string) => {
      this.#options.log.warn('local endpoint refused a connection', { status, reason });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== WS_PATH) return refuse(404, 'Not Found');
    if (!isAllowedHostHeader(request.headers.host, '127.0.0.1')) return refuse(403, 'Forbidden');
    // Browsers always send an Origin; local programs do not. No web page has any business here.
    if (request.headers.origin !== undefined) return refuse(403, 'Forbidden');
    if (!tokensEqual(this.token, url.searchParams.get('token'))) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }
}
