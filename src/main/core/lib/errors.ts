import { randomBytes } from 'node:crypto';
import type { ErrorCode, SerializedError } from '@shared/contract/errors';
import type { Logger } from './logger';

export interface AppErrorOptions {
  /** Technical message for logs. */
  message?: string;
  /** Serialisable facts for the UI. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The one error type of ComfyDesk. `userMessage` is what a person reads; `message` and `cause`
 * stay in the main process and its logs.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, userMessage: string, options: AppErrorOptions = {}) {
    super(options.message ?? userMessage, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.userMessage = userMessage;
    this.details = options.details;
  }

  toJSON(): SerializedError {
    return serializeKnown(this);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

function serializeKnown(error: AppError): SerializedError {
  return error.details === undefined
    ? { code: error.code, userMessage: error.userMessage }
    : { code: error.code, userMessage: error.userMessage, details: error.details };
}

/**
 * Turns anything thrown into the serialised shape that may cross the bridge. Unknown errors become
 * `internal` with a short reference the user can quote; the full cause goes to the log.
 */
export function serializeError(error: unknown, log?: Logger): SerializedError {
  if (isAppError(error)) return serializeKnown(error);
  const ref = randomBytes(2).toString('hex');
  log?.error('unexpected error', { ref, error });
  return {
    code: 'internal',
    userMessage: `Something went wrong; the log has details (ref ${ref}).`,
    details: { ref },
  };
}

/** Node's system error codes (ENOENT, ENOSPC…) without a cast at every call site. */
export function systemErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Translates a file-system failure into an AppError a person can act on. */
export function fileError(error: unknown, action: string, path: string): AppError {
  const code = systemErrorCode(error);
  switch (code) {
    case 'ENOSPC':
      return new AppError(
        'disk_full',
        `The disk is full, so ComfyDesk could not ${action} ${path}. Free some space and try again.`,
        { cause: error, details: { path } },
      );
    case 'EACCES':
    case 'EPERM':
      return new AppError(
        'permission_denied',
        `ComfyDesk is not allowed to ${action} ${path}. Check the folder's permissions.`,
        { cause: error, details: { path } },
      );
    case 'ENOENT':
      return new AppError('not_found', `${path} does not exist.`, { cause: error, details: { path } });
    default:
      return new AppError('io_error', `ComfyDesk could not ${action} ${path}${code ? ` (${code})` : ''}.`, {
        cause: error,
        details: { path },
      });
  }
}
