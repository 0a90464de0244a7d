import WebSocket from 'ws';
import type { Core } from '../core/create-core';
import type { RequestEnvelope } from '@shared/protocol';
// The renderer's own client and WebSocket transport: plain TypeScript, shared so the CLI speaks the
// contract exactly as a window does (validation of every answer and event, timeouts, `disconnected`).
import { ApiClient } from '../../renderer/src/api/client';
import { Listeners, type ClientTransport, type LinkState } from '../../renderer/src/api/transport';
import { createWsTransport, type WebSocketLike } from '../../renderer/src/api/ws-transport';
import type { Logger } from '../core/lib/logger';

export { ApiClient, ApiError } from '../../renderer/src/api/client';
export type { LinkState } from '../../renderer/src/api/transport';

/**
 * A client of the core running in this process, through its router and event bus, with every
 * message round-tripped through JSON as it would be on the wire: a CLI command that owns the data
 * folder uses the contract exactly like one attached to another process.
 */
export function createCoreTransport(core: Pick<Core, 'router' | 'events'>): ClientTransport {
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  let state: LinkState = 'open';
  const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));
  const offEvents = core.events.onAny((event, payload) => {
    if (state === 'open') messages.emit(wire({ kind: 'event', event, payload }));
  });
  return {
    get state() {
      return state;
    },
    send(envelope: RequestEnvelope) {
      if (state !== 'open') throw new Error('not connected');
      void core.router.handle(wire(envelope), { clientId: 'cli', transport: 'local' }).then((response) => {
        if (state === 'open') messages.emit(wire(response));
      });
    },
    onMessage: (listener) => messages.add(listener),
    onState: (listener) => states.add(listener),
    close() {
      offEvents();
      state = 'closed';
      states.emit('closed');
      messages.clear();
      states.clear();
    },
  };
}

/**
 * A client of the process that owns the data folder, over its local endpoint (the same WebSocket
 * transport serve mode's page uses). The `ws` package sends no Origin header, which the endpoint
 * requires of local programs.
 */
export function connectToOwner(endpoint: { url: string; token: string }, log: Logger): ApiClient {
  const url = `${endpoint.url}?token=${encodeURIComponent(endpoint.token)}`;
  const transport = createWsTransport({
    url,
    createSocket: (address) => new WebSocket(address) as unknown as WebSocketLike,
    initialDelayMs: 100,
    maxDelayMs: 1000,
  });
  return new ApiClient(transport, {
    timeoutMs: 60_000,
    onInvalidMessage: (problem) => log.warn('invalid message from ComfyDesk', { problem }),
  });
}

/** A client of a core in this process. */
export function connectToCore(core: Pick<Core, 'router' | 'events'>, log: Logger): ApiClient {
  return new ApiClient(createCoreTransport(core), {
    timeoutMs: 60_000,
    onInvalidMessage: (problem) => log.warn('invalid message from the core', { problem }),
  });
}
