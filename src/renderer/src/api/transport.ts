import type { RequestEnvelope } from '@shared/protocol';

/** The state of the link between this window and the core. */
export type LinkState = 'connecting' | 'open' | 'closed';

/**
 * What the API client needs from a transport: send a request envelope, receive whatever comes back
 * (responses and events, not yet validated), and report the link's state. Both transports — IPC
 * and WebSocket — implement exactly this; components never see either.
 */
export interface ClientTransport {
  readonly state: LinkState;
  /** Sends a request; throws when the link is not open so the call can fail at once. */
  send(envelope: RequestEnvelope): void;
  onMessage(listener: (message: unknown) => void): () => void;
  onState(listener: (state: LinkState) => void): () => void;
  close(): void;
}

/** A tiny listener set shared by the transports. */
export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(value: T): void {
    for (const listener of this.#set) {
      try {
        listener(value);
      } catch (error) {
        console.error('listener failed', error);
      }
    }
  }

  clear(): void {
    this.#set.clear();
  }
}

/**
 * Hands on what one message from the core carries: one envelope, or a burst of them gathered into an
 * array (the core sends events that come faster than a display frame together), each alone, in order.
 */
export function emitEnvelopes(messages: Listeners<unknown>, message: unknown): void {
  if (Array.isArray(message)) for (const item of message) messages.emit(item);
  else messages.emit(message);
}
