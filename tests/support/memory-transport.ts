import type { Core } from '../../src/main/core/create-core';
import { Listeners, type ClientTransport, type LinkState } from '../../src/renderer/src/api/transport';
import type { RequestEnvelope } from '../../src/shared/protocol';

/**
 * An in-memory transport pair: the client side of the API talks straight to a core's router and
 * event bus, with JSON round-tripping so nothing passes by reference. `drop()` and `restore()`
 * simulate a lost link.
 */
export function createMemoryTransport(core: Pick<Core, 'router' | 'events'>) {
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  let state: LinkState = 'open';
  const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  const offEvents = core.events.onAny((event, payload) => {
    if (state === 'open') messages.emit(clone({ kind: 'event', event, payload }));
  });
  const setState = (next: LinkState) => {
    state = next;
    states.emit(next);
  };

  const transport: ClientTransport = {
    get state() {
      return state;
    },
    send(envelope: RequestEnvelope) {
      if (state !== 'open') throw new Error('not connected');
      void core.router.handle(clone(envelope), { clientId: 'memory', transport: 'local' }).then((response) => {
        if (state === 'open') messages.emit(clone(response));
      });
    },
    onMessage: (listener) => messages.add(listener),
    onState: (listener) => states.add(listener),
    close() {
      offEvents();
      setState('closed');
    },
  };
  return {
    transport,
    drop: () => setState('connecting'),
    restore: () => setState('open'),
  };
}
