import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { EventMap } from '@shared/contract/events';
import type { EventEnvelope, ResponseEnvelope } from '@shared/protocol';
import type { Emitter } from '../core/lib/emitter';
import { Outbox, jsonFrame } from '../core/lib/outbox';
import type { Logger } from '../core/lib/logger';
import type { Router } from '../core/router';

const PING_INTERVAL_MS = 30_000;

/**
 * The WebSocket transport: JSON text frames in, envelopes through the router, responses and every
 * contract event out. It moves envelopes; it does not think. Out, a frame holds one envelope or,
 * when events come faster than one a display frame, a JSON array of them in order (see Outbox).
 */
export function attachWsTransport(deps: {
  wss: WebSocketServer;
  router: Router;
  events: Emitter<EventMap>;
  log: Logger;
}): () => void {
  const { wss, router, events, log } = deps;
  const alive = new WeakSet<WebSocket>();
  const outboxes = new Map<WebSocket, Outbox<string>>();

  wss.on('connection', (socket) => {
    const context = { clientId: randomUUID(), transport: 'ws' as const };
    const outbox = new Outbox<string>({
      send: (batch) => {
        if (socket.readyState === socket.OPEN) socket.send(jsonFrame(batch));
      },
    });
    outboxes.set(socket, outbox);
    socket.on('close', () => {
      outbox.close();
      outboxes.delete(socket);
    });
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    socket.on('message', (data, isBinary) => {
      let message: unknown;
      try {
        message = isBinary
          ? undefined
          : JSON.parse(
              Buffer.isBuffer(data)
                ? data.toString()
                : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString(),
            );
      } catch {
        message = undefined;
      }
      router.handle(message, context).then(
        (response: ResponseEnvelope) => {
          // Out at once, after (and with) the events that came before it.
          outbox.push(JSON.stringify(response));
          outbox.flush();
        },
        (error: unknown) => log.error('router failed', { error }),
      );
    });
    socket.on('error', (error) => log.warn('client socket error', { error }));
  });

  const unsubscribe = events.onAny((event, payload) => {
    const frame = JSON.stringify({ kind: 'event', event, payload } satisfies EventEnvelope);
    for (const socket of wss.clients) {
      if (socket.readyState === socket.OPEN) outboxes.get(socket)?.push(frame);
    }
  });

  // Browsers answer pings; a socket that misses one interval is gone (sleeping laptop, dead tunnel).
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, PING_INTERVAL_MS);
  pinger.unref();

  return () => {
    clearInterval(pinger);
    unsubscribe();
    for (const outbox of outboxes.values()) outbox.close();
    outboxes.clear();
  };
}

/**
 * Closes a contract endpoint: its sockets are told why (close code 1001) and dropped if they linger,
 * then the HTTP server stops with every open connection. Serve mode and the local endpoint share it.
 */
export async function closeEndpoint(
  server: Server | undefined,
  wss: WebSocketServer | undefined,
  reason: string,
): Promise<void> {
  if (wss) {
    for (const socket of wss.clients) socket.close(1001, reason);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const socket of wss.clients) socket.terminate();
  }
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
