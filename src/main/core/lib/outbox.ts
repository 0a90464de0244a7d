/** Runs `run` after `delayMs` and answers a function that cancels it. */
export type WindowTimer = (run: () => void, delayMs: number) => () => void;

/** How long envelopes are gathered into one message once one has gone out, ms (about a display frame). */
export const OUTBOX_WINDOW_MS = 16;

export interface OutboxOptions<T> {
  /** Sends what waited, in order, as one message (one item, or several). */
  send: (batch: readonly T[]) => void;
  /** @default OUTBOX_WINDOW_MS */
  windowMs?: number;
  /** @default setTimeout */
  timer?: WindowTimer;
}

const systemTimer: WindowTimer = (run, delayMs) => {
  const handle = setTimeout(run, delayMs);
  return () => clearTimeout(handle);
};

/**
 * One window's outgoing envelopes, sent as few messages as keeps them prompt. A farm's 16 servers
 * report progress hundreds of times a second, and a page pays for every message it receives as a
 * task of its own (about a quarter of a millisecond of its main thread, most of it in the browser
 * before any script runs), so a message per event crowds the page's frames.
 *
 * An envelope that comes after a quiet spell goes out at once, alone, exactly as before. Envelopes
 * that follow within `windowMs` wait for the window's end and go out together as one message, in the
 * order they came. `flush` sends what waits at once: a transport calls it before a response, so
 * nothing is reordered and a call is never held back.
 */
export class Outbox<T> {
  readonly #send: (batch: readonly T[]) => void;
  readonly #windowMs: number;
  readonly #timer: WindowTimer;
  #waiting: T[] = [];
  /** Cancels the open window; undefined when nothing has gone out for a window. */
  #cancelWindow: (() => void) | undefined;
  #isClosed = false;

  constructor(options: OutboxOptions<T>) {
    this.#send = options.send;
    this.#windowMs = options.windowMs ?? OUTBOX_WINDOW_MS;
    this.#timer = options.timer ?? systemTimer;
  }

  /** An event: out now after a quiet spell, else with the others at the window's end. */
  push(envelope: T): void {
    if (this.#isClosed) return;
    this.#waiting.push(envelope);
    if (!this.#cancelWindow) this.flush();
  }

  /** Sends whatever waits now, as one message (nothing when nothing waits). */
  flush(): void {
    if (this.#isClosed || this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#send(waiting);
    // A window opens after every message, so a steady stream goes out once per window.
    this.#cancelWindow?.();
    this.#cancelWindow = this.#timer(() => {
      this.#cancelWindow = undefined;
      this.flush();
    }, this.#windowMs);
  }

  /** Drops whatever waits and stops the window (the receiver is gone). */
  close(): void {
    this.#isClosed = true;
    this.#waiting = [];
    this.#cancelWindow?.();
    this.#cancelWindow = undefined;
  }
}

/** A WebSocket text frame for a batch of JSON envelopes: the envelope itself, or a JSON array of them. */
export function jsonFrame(batch: readonly string[]): string {
  return batch.length === 1 ? batch[0]! : `[${batch.join(',')}]`;
}
