import type { SerializedError } from '@shared/contract/errors';

/**
 * A command that answered with an error, thrown by `Router.call`. In a module of its own so code
 * that only needs to recognise it (the CLI's error reporting) does not load the whole contract.
 */
export class RouterCallError extends Error {
  readonly error: SerializedError;
  constructor(error: SerializedError) {
    super(error.userMessage);
    this.name = 'RouterCallError';
    this.error = error;
  }
}
