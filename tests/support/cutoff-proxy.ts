import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * A reverse proxy on 127.0.0.1 that behaves like RunPod's HTTP proxy (Cloudflare in front): a
 * request whose upstream has not answered within `cutoffMs` gets HTTP 524, and a WebSocket with no
 * frame in either direction for `cutoffMs` is closed. The real cut-off is 100 s
 * (https://docs.runpod.io/pods/configuration/expose-ports, "Proxy limitations and behavior"); tests
 * use a short one.
 */
export interface CutoffProxy {
  readonly url: string;
  /** WebSocket frames relayed or answered, by kind. */
  readonly frames: { pings: number; messages: number };
  /** WebSockets the proxy closed for being idle. */
  readonly idleClosures: number;
  /** Answer every HTTP request with this status instead of forwarding it (e.g. 524). */
  answerWith(status: number | undefined): void;
  stop(): Promise<void>;
}

export async function startCutoffProxy(options: { upstream: string; cutoffMs: number }): Promise<CutoffProxy> {
  const upstream = new URL(options.upstream);
  const frames = { pings: 0, messages: 0 };
  let idleClosures = 0;
  let fixedStatus: number | undefined;
  const sockets = new Set<WebSocket>();

  const server: Server = createServer((request, response) => {
    if (fixedStatus !== undefined) {
      response.writeHead(fixedStatus, { 'Content-Type': 'text/plain' });
      response.end(`error code: ${fixedStatus}`);
      return;
    }
    let answered = false;
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: upstream.host },
      },
      (upstreamResponse: IncomingMessage) => {
        answered = true;
        clearTimeout(cutoff);
        response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(response);
      },
    );
    const cutoff = setTimeout(() => {
      if (answered) return;
      forward.destroy();
      response.writeHead(524, { 'Content-Type': 'text/plain' });
      response.end('error code: 524');
    }, options.cutoffMs);
    forward.on('error', () => {
      clearTimeout(cutoff);
      if (!response.headersSent) response.writeHead(502).end();
    });
    request.pipe(forward);
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (client) => {
      sockets.add(client);
      const target = new WebSocket(`ws://${upstream.host}${request.url ?? '/'}`);
      sockets.add(target);
      let idle: NodeJS.Timeout;
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idleClosures += 1;
          client.terminate();
          target.terminate();
        }, options.cutoffMs);
      };
      touch();
      client.on('ping', () => {
        frames.pings += 1;
        touch();
      });
      client.on('message', (data, isBinary) => {
        frames.messages += 1;
        touch();
        if (target.readyState === WebSocket.OPEN) target.send(data, { binary: isBinary });
      });
      target.on('message', (data, isBinary) => {
        frames.messages += 1;
        touch();
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
      const close = () => {
        clearTimeout(idle);
        client.terminate();
        target.terminate();
        sockets.delete(client);
        sockets.delete(target);
      };
      client.on('close', close);
      target.on('close', close);
      client.on('error', close);
      target.on('error', close);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    frames,
    get idleClosures() {
      return idleClosures;
    },
    answerWith(status) {
      fixedStatus = status;
    },
    async stop() {
      for (const socket of sockets) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
