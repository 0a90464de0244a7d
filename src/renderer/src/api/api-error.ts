import type { ErrorCode, SerializedError } from '@shared/contract/errors';

/**
 * A failed call, with the same code and user message the core produced. In a module of its own so
 * code that only needs to recognise it (the CLI's error reporting) does not load the contract.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(error: SerializedError) {
    super(error.userMessage);
    this.name = 'ApiError';
    this.code = error.code;
    this.userMessage = error.userMessage;
    this.details = error.details;
  }
}
