import type { RequestEnvelope } from '@shared/protocol';
import { backoffDelayMs } from '@shared/backoff';
import { emitEnvelopes, Listeners, type ClientTransport, type LinkState } from './transport';

/** The part of the WebSocket API this transport uses (browsers and Node 22 both provide it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface WsTransportOptions {
  url: string;
  createSocket?: (url: string) => WebSocketLike;
  /** First reconnect delay. @default 250 */
  initialDelayMs?: number;
  /** Longest reconnect delay. @default 10000 */
  maxDelayMs?: number;
  /** @default Math.random */
  random?: () => number;
}

const OPEN = 1;

/**
 * The WebSocket transport of serve mode. It reconnects by itself with exponential backoff and
 * jitter (so many tabs do not hammer a restarting server in step) and reports each state change.
 * A frame holds one envelope or an array of them (the server gathers bursts of events into one
 * frame); each is handed on alone, in order.
 */
export function createWsTransport(options: WsTransportOptions): ClientTransport {
  const createSocket = options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as WebSocketLike);
  const initialDelayMs = options.initialDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const random = options.random ?? Math.random;
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  let state: LinkState = 'connecting';
  let socket: WebSocketLike | undefined;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const setState = (next: LinkState) => {
    if (next === state) return;
    state = next;
    states.emit(next);
  };

  const scheduleReconnect = () => {
    if (closed) return;
    const delay = backoffDelayMs(attempt, { initialDelayMs, maxDelayMs, random });
    attempt += 1;
    retryTimer = setTimeout(connect, delay);
  };

  function connect(): void {
    if (closed) return;
    setState('connecting');
    let current: WebSocketLike;
    try {
      current = createSocket(options.url);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = current;
    current.onopen = () => {
      attempt = 0;
      setState('open');
    };
    current.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        message = event.data;
      }
      emitEnvelopes(messages, message);
    };
    current.onerror = () => undefined; // a close event always follows; reconnect happens there
    current.onclose = () => {
      if (socket !== current) return;
      socket = undefined;
      setState(closed ? 'closed' : 'connecting');
      scheduleReconnect();
    };
  }

  connect();

  return {
    get state() {
      return state;
    },
    send(envelope: RequestEnvelope) {
      if (!socket || socket.readyState !== OPEN) throw new Error('not connected');
      socket.send(JSON.stringify(envelope));
    },
    onMessage: (listener) => messages.add(listener),
    onState: (listener) => states.add(listener),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      const current = socket;
      socket = undefined;
      current?.close(1000, 'client closing');
      setState('closed');
      messages.clear();
      states.clear();
    },
  };
}
