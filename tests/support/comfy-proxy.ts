import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/**
 * What the proxy does with a `POST /prompt`:
 * - `forward`: passes it on and answers (a plain proxy);
 * - `hold`: passes it on but never answers (the server queues it; the client waits — then dies);
 * - `cut-after`: passes it on, then closes the client's connection instead of answering;
 * - `cut-before`: closes the client's connection without passing it on (it never arrives).
 */
export type PromptMode = 'forward' | 'hold' | 'cut-after' | 'cut-before';

export interface ComfyProxy {
  readonly url: string;
  /** The bodies of every `POST /prompt` the proxy received, in order (whatever it did with them). */
  readonly prompts: Array<{ prompt_id?: string; client_id?: string }>;
  /** Sets what happens to the next prompts: until changed, or to the next `times` of them (then `forward`). */
  setPromptMode(mode: PromptMode, options?: { times?: number }): void;
  /** Resolves with the server's answer once a prompt was passed on and its answer held or cut. */
  nextWithheldAnswer(): Promise<{ prompt_id: string }>;
  stop(): Promise<void>;
}

/**
 * An HTTP + WebSocket proxy in front of a ComfyUI (test) server on 127.0.0.1, port 0, that can
 * withhold or cut the answer to `POST /prompt` — the moment between send and answer where a crash
 * or a dropped link leaves a client unsure whether its prompt was queued.
 */
export async function startComfyProxy(target: string): Promise<ComfyProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const waiters: Array<(answer: { prompt_id: string }) => void> = [];
  const prompts: ComfyProxy['prompts'] = [];
  let mode: PromptMode = 'forward';
  let timesLeft = Infinity;

  const withheld = (answer: { prompt_id: string }) => waiters.splice(0).forEach((resolve) => resolve(answer));

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    onAnswer: (status: number, headers: object, data: Buffer) => void,
  ) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => onAnswer(answer.statusCode ?? 502, answer.headers, Buffer.concat(chunks)));
      },
    );
    out.on('error', () => req.socket.destroy());
    out.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const isPrompt = req.method === 'POST' && /\/prompt$/.test(new URL(req.url ?? '/', 'http://x').pathname);
    const reply = (status: number, headers: object, data: Buffer) => {
      res.writeHead(status, headers as Record<string, string>);
      res.end(data);
    };
    if (!isPrompt || mode === 'forward') {
      if (isPrompt) prompts.push(JSON.parse(body.toString()) as ComfyProxy['prompts'][number]);
      forward(req, body, reply);
      return;
    }
    prompts.push(JSON.parse(body.toString()) as ComfyProxy['prompts'][number]);
    const current = mode;
    timesLeft -= 1;
    if (timesLeft <= 0) mode = 'forward';
    if (current === 'cut-before') {
      req.socket.destroy();
      return;
    }
    forward(req, body, (_status, _headers, data) => {
      if (current === 'cut-after') req.socket.destroy();
      withheld(JSON.parse(data.toString()) as { prompt_id: string });
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // The event socket goes through untouched: the upgrade request is replayed upstream and the bytes piped.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const out = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let index = 0; index < req.rawHeaders.length; index += 2)
        lines.push(`${req.rawHeaders[index]}: ${req.rawHeaders[index + 1]}`);
      out.write(`${lines.join('\r\n')}\r\n\r\n`);
      out.write(head);
      out.pipe(socket);
      socket.pipe(out);
    });
    sockets.add(out);
    out.on('close', () => {
      sockets.delete(out);
      socket.destroy();
    });
    socket.on('close', () => out.destroy());
    out.on('error', () => socket.destroy());
    socket.on('error', () => out.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    prompts,
    setPromptMode: (next, options = {}) => {
      mode = next;
      timesLeft = options.times ?? Infinity;
    },
    nextWithheldAnswer: () => new Promise((resolve) => waiters.push(resolve)),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
