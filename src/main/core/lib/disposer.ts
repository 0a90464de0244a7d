import type { Logger } from './logger';

export type Teardown = () => void | Promise<void>;

/**
 * Collects teardown as resources are acquired and releases them in reverse order, once.
 * A teardown that fails is logged and the rest still run.
 */
export class Disposer {
  #teardowns: Teardown[] = [];
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  add(teardown: Teardown): void {
    this.#teardowns.push(teardown);
  }

  async dispose(): Promise<void> {
    const teardowns = this.#teardowns.reverse();
    this.#teardowns = [];
    for (const teardown of teardowns) {
      try {
        await teardown();
      } catch (error) {
        this.#log?.error('teardown failed', { error });
      }
    }
  }
}
