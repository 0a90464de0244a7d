import type { ComfydeskBridge } from '@shared/bridge';
import type { RequestEnvelope } from '@shared/protocol';
import { emitEnvelopes, Listeners, type ClientTransport, type LinkState } from './transport';

/**
 * The Electron transport over the preload's bridge. IPC cannot drop like a socket, so the link
 * is always open; a rejected invoke still ends its call with an error response.
 */
export function createIpcTransport(bridge: ComfydeskBridge): ClientTransport {
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  let state: LinkState = 'open';
  const unsubscribe = bridge.subscribe((message) => emitEnvelopes(messages, message));

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
