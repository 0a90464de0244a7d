import type { ComfydeskBridge } from '@shared/bridge';
import type { RequestEnvelope } from '@shared/protocol';
import { Listeners, type ClientTransport, type LinkState } from './transport';

/**
 * The Electron transport over the preload's bridge. IPC cannot drop like a socket, so the link
 * is always open; a rejected invoke still ends its call with an error response.
 */
export function createIpcTransport(bridge: ComfydeskBridge): ClientTransport {
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  let state: LinkState = 'open';
  // A burst of events comes as one message holding an array of envelopes, in order.
  const unsubscribe = bridge.subscribe((message) => {
    if (Array.isArray(message)) for (const item of message) messages.emit(item);
    else messages.emit(message);
  });

  return {
    get state() {
      return state;
    },
    send(envelope: RequestEnvelope) {
      bridge.invoke(envelope).then(
        (response) => messages.emit(response),
        () =>
          messages.emit({
            kind: 'response',
            id: envelope.id,
            ok: false,
            error: {
              code: 'internal',
              userMessage: 'The main process did not answer this request. The log has details.',
            },
          }),
      );
    },
    onMessage: (listener) => messages.add(listener),
    onState: (listener) => states.add(listener),
    close() {
      unsubscribe();
      state = 'closed';
      states.emit(state);
      messages.clear();
      states.clear();
    },
  };
}
