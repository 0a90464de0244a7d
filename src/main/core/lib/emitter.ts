import type { Logger } from './logger';

export type Unsubscribe = () => void;

/**
 * A small typed event emitter. A listener that throws is logged, never propagated: one broken
 * subscriber must not stop the others or the service that emits.
 */
export class Emitter<M extends object> {
  readonly #listeners = new Map<keyof M, Set<(payload: never) => void>>();
  readonly #anyListeners = new Set<<K extends keyof M>(name: K, payload: M[K]) => void>();
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  on<K extends keyof M>(name: K, listener: (payload: M[K]) => void): Unsubscribe {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    const entry = listener as (payload: never) => void;
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Listen to every event; transports use this to forward the whole table. */
  onAny(listener: <K extends keyof M>(name: K, payload: M[K]) => void): Unsubscribe {
    this.#anyListeners.add(listener);
    return () => this.#anyListeners.delete(listener);
  }

  emit<K extends keyof M>(name: K, payload: M[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      this.#call(name, () => (listener as (p: M[K]) => void)(payload));
    }
    for (const listener of this.#anyListeners) {
      this.#call(name, () => listener(name, payload));
    }
  }

  listenerCount(): number {
    let count = this.#anyListeners.size;
    for (const set of this.#listeners.values()) count += set.size;
    return count;
  }

  #call(name: keyof M, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log?.error('event listener threw', { event: String(name), error });
    }
  }
}
