/** Runs `run` after `delayMs` and answers a function that cancels it. */
export type WindowTimer = (run: () => void, delayMs: number) => () => void;

/** How long envelopes are gathered into one frame once one has gone out, ms (about a display frame). */
export const OUTBOX_WINDOW_MS = 16;

export interface SocketOutboxOptions {
  /** Writes one text frame to the socket. */
  send: (frame: string) => void;
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
 * One socket's outgoing envelopes (already JSON), written as few frames as keeps them prompt. A
 * farm's 16 servers report progress hundreds of times a second, and a browser pays for every frame
 * it receives as a task of its own (about a quarter of a millisecond of the page's main thread, most
 * of it in the browser before any script runs), so a frame per event crowds the page's frames.
 *
 * An envelope that comes after a quiet spell goes out at once, alone, exactly as before. Envelopes
 * that follow within `windowMs` wait for the window's end and go out together as one frame holding
 * a JSON array of them, in the order they came. A response goes out at once with whatever waits
 * before it, so nothing is reordered and a call is never held back.
 */
export class SocketOutbox {
  readonly #send: (frame: string) => void;
  readonly #windowMs: number;
  readonly #timer: WindowTimer;
  #waiting: string[] = [];
  /** Cancels the open window; undefined when the socket has been quiet for a window. */
  #cancelWindow: (() => void) | undefined;
  #isClosed = false;

  constructor(options: SocketOutboxOptions) {
    this.#send = options.send;
    this.#windowMs = options.windowMs ?? OUTBOX_WINDOW_MS;
    this.#timer = options.timer ?? systemTimer;
  }

  /** An event: out now after a quiet spell, else with the others at the window's end. */
  push(envelope: string): void {
    if (this.#isClosed) return;
    this.#waiting.push(envelope);
    if (!this.#cancelWindow) this.#flush();
  }

  /** A response: out now, after whatever was waiting, in the same frame. */
  pushNow(envelope: string): void {
    if (this.#isClosed) return;
    this.#waiting.push(envelope);
    this.#flush();
  }

  /** Drops whatever waits and stops the window (the socket is gone). */
  close(): void {
    this.#isClosed = true;
    this.#waiting = [];
    this.#cancelWindow?.();
    this.#cancelWindow = undefined;
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    if (waiting.length > 0) this.#send(waiting.length === 1 ? waiting[0]! : `[${waiting.join(',')}]`);
    // A window opens after every frame, so a steady stream goes out once per window.
    this.#cancelWindow?.();
    this.#cancelWindow = this.#timer(() => {
      this.#cancelWindow = undefined;
      if (this.#waiting.length > 0) this.#flush();
    }, this.#windowMs);
  }
}
