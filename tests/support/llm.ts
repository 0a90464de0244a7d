import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Schedule } from '../../src/main/core/llm/llm-service';

/**
 * Timers under a test's control: nothing fires until the test says so. Used for the idle unload
 * and the time limit, so those tests wait for events instead of for the clock.
 */
export class ManualSchedule {
  readonly pending: Array<{ delayMs: number; callback: () => void }> = [];

  readonly schedule: Schedule = (callback, delayMs) => {
    const entry = { delayMs, callback };
    this.pending.push(entry);
    return () => {
      const index = this.pending.indexOf(entry);
      if (index >= 0) this.pending.splice(index, 1);
    };
  };

  /** Fires (and removes) every pending timer with this delay; returns how many fired. */
  fire(delayMs: number): number {
    const due = this.pending.filter((entry) => entry.delayMs === delayMs);
    for (const entry of due) {
      this.pending.splice(this.pending.indexOf(entry), 1);
      entry.callback();
    }
    return due.length;
  }

  has(delayMs: number): boolean {
    return this.pending.some((entry) => entry.delayMs === delayMs);
  }
}

async function listen(server: Server, sockets: Set<Socket>): Promise<{ port: number; close: () => Promise<void> }> {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** How the file server misbehaves, changeable between requests. */
export interface FileServerBehaviour {
  /** Answer Range requests with 206 (true) or ignore them and send the whole file (false). @default true */
  supportsRange: boolean;
  /** Destroy the connection after sending this many body bytes, for the next N responses. */
  dropAfterBytes?: number;
  dropCount?: number;
  /** Answer every request with this status (e.g. 404) instead of the file. */
  status?: number;
  /** Send the body in chunks with a pause between them, in ms (lets a test cancel mid-transfer). */
  chunkDelayMs?: number;
  /** ETag sent with the file; changing it makes If-Range requests get the whole file. @default '"v1"' */
  etag: string;
}

/**
 * A static file server on 127.0.0.1 with HTTP Range support (206, Content-Range, If-Range, 416)
 * that can drop connections mid-transfer, ignore ranges or refuse — the download tests' peer.
 */
export class RangeFileServer {
  readonly requests: Array<{ path: string; range: string | undefined; ifRange: string | undefined }> = [];
  readonly behaviour: FileServerBehaviour = { supportsRange: true, etag: '"v1"' };
  #files = new Map<string, Buffer>();
  #server: Server | undefined;
  #close: (() => Promise<void>) | undefined;
  port = 0;

  /** Serves `content` at `path`. */
  serve(path: string, content: Buffer): this {
    this.#files.set(path, content);
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async start(): Promise<void> {
    this.#server = createServer((request, response) => this.#handle(request, response));
    const { port, close } = await listen(this.#server, new Set());
    this.port = port;
    this.#close = close;
  }

  async stop(): Promise<void> {
    await this.#close?.();
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const range = request.headers.range;
    const ifRange = request.headers['if-range'] as string | undefined;
    this.requests.push({ path, range, ifRange });
    const { behaviour } = this;
    const file = this.#files.get(path);
    if (behaviour.status) {
      response.writeHead(behaviour.status, { 'content-type': 'text/plain' }).end('refused');
      return;
    }
    if (!file) {
      response.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    let status = 200;
    const headers: Record<string, string> = {
      etag: behaviour.etag,
      'accept-ranges': behaviour.supportsRange ? 'bytes' : 'none',
      'content-type': 'application/octet-stream',
    };
    const useRange = range && behaviour.supportsRange && (ifRange === undefined || ifRange === behaviour.etag);
    if (useRange) {
      const match = /^bytes=(\d+)-$/.exec(range);
      start = match ? Number(match[1]) : 0;
      if (start >= file.length) {
        response.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${file.length - 1}/${file.length}`;
    }
    const body = file.subarray(start);
    headers['content-length'] = String(body.length);
    response.writeHead(status, headers);
    const dropAt =
      behaviour.dropAfterBytes !== undefined && (behaviour.dropCount ?? 1) > 0 ? behaviour.dropAfterBytes : undefined;
    if (dropAt !== undefined) behaviour.dropCount = (behaviour.dropCount ?? 1) - 1;
    void this.#send(response, body, dropAt);
  }

  async #send(response: ServerResponse, body: Buffer, dropAt: number | undefined): Promise<void> {
    const chunkSize = 16 * 1024;
    let sent = 0;
    while (sent < body.length) {
      if (response.destroyed) return;
      const end = Math.min(body.length, sent + chunkSize, dropAt ?? Number.POSITIVE_INFINITY);
      if (end > sent) {
        const ok = response.write(body.subarray(sent, end));
        sent = end;
        if (!ok) await new Promise((resolve) => response.once('drain', resolve));
      }
      if (dropAt !== undefined && sent >= dropAt) {
        // Flush what was written, then cut the connection as a flaky network would.
        await new Promise((resolve) => setImmediate(resolve));
        response.socket?.destroy();
        return;
      }
      if (this.behaviour.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, this.behaviour.chunkDelayMs));
    }
    response.end();
  }
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** One scripted answer of the fake OpenAI-compatible server. */
export interface FakeCompletion {
  /** Streamed as one SSE event each. */
  chunks: string[];
  /** Pause before each chunk, in ms. */
  delayMs?: number;
  /** Cut the connection after this many chunks. */
  dropAfter?: number;
}

/**
 * A small OpenAI-compatible server (the part Ollama, llama.cpp's server and LM Studio share):
 * `GET /v1/models` and streaming `POST /v1/chat/completions` as server-sent events.
 */
export class FakeOpenAiServer {
  readonly requests: Array<{
    path: string;
    authorization: string | undefined;
    body: Record<string, unknown> | undefined;
  }> = [];
  /** Answers in order; the last one repeats. */
  completions: FakeCompletion[] = [{ chunks: ['A red fox', ' in fresh snow', ', golden light'] }];
  models = ['qwen2.5:1.5b-instruct', 'llama3.2:3b'];
  /** When set, every request is refused with this status and an OpenAI-style error body. */
  refuse: { status: number; message: string } | undefined;
  /** Sent as a JSON document instead of a stream when true (a server that ignores `stream`). */
  ignoreStream = false;
  /** Streams an `error` event instead of content. */
  streamError: string | undefined;
  /** Resolves when a streaming response's connection closed before the end. */
  readonly closedEarly: Array<Promise<void>> = [];
  #server: Server | undefined;
  #close: (() => Promise<void>) | undefined;
  port = 0;

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<void> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    const { port, close } = await listen(this.#server, new Set());
    this.port = port;
    this.#close = close;
  }

  async stop(): Promise<void> {
    await this.#close?.();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of request) raw += String(chunk);
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    this.requests.push({ path, authorization: request.headers.authorization, body });
    if (this.refuse) {
      response
        .writeHead(this.refuse.status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: this.refuse.message, type: 'invalid_request_error' } }));
      return;
    }
    if (path === '/v1/models' && request.method === 'GET') {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ object: 'list', data: this.models.map((id) => ({ id, object: 'model' })) }));
      return;
    }
    if (path !== '/v1/chat/completions' || request.method !== 'POST') {
      response
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const index = this.requests.filter((entry) => entry.path === '/v1/chat/completions').length - 1;
    const completion = this.completions[Math.min(index, this.completions.length - 1)]!;
    if (this.ignoreStream) {
      const text = completion.chunks.join('');
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { completion_tokens: completion.chunks.length },
        }),
      );
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    let closed!: () => void;
    this.closedEarly.push(new Promise<void>((resolve) => (closed = resolve)));
    let finished = false;
    response.on('close', () => {
      if (!finished) closed();
    });
    if (this.streamError) {
      response.write(`data: ${JSON.stringify({ error: { message: this.streamError } })}\n\n`);
      finished = true;
      response.end();
      return;
    }
    response.write(': keep-alive\n\n');
    for (const [position, chunk] of completion.chunks.entries()) {
      if (completion.dropAfter !== undefined && position >= completion.dropAfter) {
        response.socket?.destroy();
        return;
      }
      if (completion.delayMs) await new Promise((resolve) => setTimeout(resolve, completion.delayMs));
      if (response.destroyed) return;
      // Split one event over two writes, as real servers' TCP segments sometimes do.
      const event = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: chunk }, finish_reason: null }] })}\n\n`;
      response.write(event.slice(0, 10));
      response.write(event.slice(10));
    }
    response.write(
      `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { completion_tokens: completion.chunks.length + 1 } })}\n\n`,
    );
    response.write('data: [DONE]\n\n');
    finished = true;
    response.end();
  }
}
