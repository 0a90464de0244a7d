import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One file the server offers and how it misbehaves. */
export interface ServedFile {
  /** The bytes, or a file on disk (for big files in the bench). */
  content: Buffer | { path: string };
  /** Answer 401 unless `Authorization: Bearer <token>` is sent (a gated model). */
  token?: string;
  /** Answer a 200 HTML login page instead (a login wall). */
  isLoginPage?: boolean;
  /** After sending this many body bytes, stop sending and keep the connection open (a stall), for the next N responses. */
  stallAfterBytes?: number;
  stallCount?: number;
  /** After sending this many body bytes, destroy the connection, for the next N responses. */
  dropAfterBytes?: number;
  dropCount?: number;
  /** Ignore Range and always send the whole file. */
  ignoresRange?: boolean;
  /** Answer with a redirect to this path on the same server first (as Hugging Face's `resolve/` does). */
  redirectTo?: string;
  /** Send the body in chunks with this pause between them, ms (lets a test pause mid-transfer). */
  chunkDelayMs?: number;
}

/** What the server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
  /** Which program asked (`curl/…`, `Wget/…`, `node` for ComfyDesk's own fetch). */
  userAgent: string | undefined;
}

/**
 * A real HTTP file server on 127.0.0.1 for transfer tests: Range (206, Content-Range, 416), HEAD,
 * 404 for unknown paths, 401 without the right token, a 200 HTML login page, a stall, a dropped
 * connection mid-transfer, a redirect — changeable between requests.
 */
export class TestFileServer {
  readonly requests: SeenRequest[] = [];
  readonly files = new Map<string, ServedFile>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  serve(path: string, file: ServedFile | Buffer): this {
    this.files.set(path, Buffer.isBuffer(file) ? { content: file } : file);
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => this.#handle(request, response));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Ends every stalled or open response (the connection drops). */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const range = request.headers.range;
    const authorization = request.headers.authorization;
    const method = request.method ?? 'GET';
    this.requests.push({ method, path, range, authorization, userAgent: request.headers['user-agent'] });
    const file = this.files.get(path);
    if (!file) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
      return;
    }
    if (file.redirectTo) {
      response.writeHead(302, { location: file.redirectTo }).end();
      return;
    }
    if (file.token && authorization !== `Bearer ${file.token}`) {
      response.writeHead(401, { 'content-type': 'text/plain' }).end('Access to this model is restricted.');
      return;
    }
    if (file.isLoginPage) {
      const page = '<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please log in</body></html>';
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) });
      response.end(method === 'HEAD' ? undefined : page);
      return;
    }
    const size = Buffer.isBuffer(file.content) ? file.content.length : statSync(file.content.path).size;
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': file.ignoresRange ? 'none' : 'bytes',
      etag: '"v1"',
    };
    const match = range && !file.ignoresRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (match) {
      const start = Number(match[1]);
      if (start >= size) {
        response.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
      headers['content-length'] = String(end - start + 1);
      response.writeHead(206, headers);
      if (method === 'HEAD') return void response.end();
      return void this.#send(response, file, start, end + 1);
    }
    headers['content-length'] = String(size);
    response.writeHead(200, headers);
    if (method === 'HEAD') return void response.end();
    void this.#send(response, file, 0, size);
  }

  async #send(response: ServerResponse, file: ServedFile, start: number, end: number): Promise<void> {
    const stallAt = (file.stallCount ?? 1) > 0 ? file.stallAfterBytes : undefined;
    if (stallAt !== undefined) file.stallCount = (file.stallCount ?? 1) - 1;
    const dropAt = (file.dropCount ?? 1) > 0 ? file.dropAfterBytes : undefined;
    if (dropAt !== undefined) file.dropCount = (file.dropCount ?? 1) - 1;
    if (!Buffer.isBuffer(file.content) && stallAt === undefined && dropAt === undefined && !file.chunkDelayMs) {
      createReadStream(file.content.path, { start, end: end - 1, highWaterMark: 1024 * 1024 }).pipe(response);
      return;
    }
    const content = Buffer.isBuffer(file.content) ? file.content : Buffer.alloc(0);
    const chunkSize = 64 * 1024;
    const limit = Math.min(stallAt ?? Infinity, dropAt ?? Infinity);
    let sent = 0;
    let offset = start;
    while (offset < end) {
      if (response.destroyed) return;
      if (sent >= limit) {
        if (dropAt !== undefined && sent >= dropAt) response.socket?.destroy();
        return; // a stall: nothing more is sent and the connection stays open
      }
      const chunk = content.subarray(offset, offset + Math.min(chunkSize, end - offset, limit - sent));
      const isWritten = response.write(chunk);
      sent += chunk.length;
      offset += chunk.length;
      if (!isWritten) await new Promise((resolve) => response.once('drain', resolve));
      if (file.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, file.chunkDelayMs));
    }
    response.end();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
