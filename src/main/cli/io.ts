import type { SerializedError } from '@shared/contract/errors';
import { isAppError } from '../core/lib/errors';
import { RouterCallError } from '../core/router-call-error';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves when the user asks to stop (Ctrl+C, SIGTERM); long-running commands await it. */
  interrupted: Promise<NodeJS.Signals>;
}

/** Exit codes shared by every subcommand (documented in the README). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
} as const;

/** A failure a command reports to the user: message on stderr, the given exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(message: string, options: { exitCode?: number; code?: string; details?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.code = options.code ?? 'failed';
    this.details = options.details;
  }
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

export function writeLine(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}

/** Any thrown value as the serialised shape the CLI prints. */
export function toCliFailure(error: unknown): SerializedError & { exitCode: number } {
  if (error instanceof CliError) {
    return {
      code: error.code as SerializedError['code'],
      userMessage: error.message,
      exitCode: error.exitCode,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error instanceof RouterCallError) return { ...error.error, exitCode: ExitCode.failed };
  if (isAppError(error)) return { ...error.toJSON(), exitCode: ExitCode.failed };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', userMessage: message, exitCode: ExitCode.failed };
}

/**
 * Errors always go to stderr: as one line of text, or with --json as one JSON object, so a script
 * reading stdout never mistakes an error for a result.
 */
export function reportFailure(io: CliIo, error: unknown, asJson: boolean): number {
  const failure = toCliFailure(error);
  if (asJson) {
    io.stderr.write(
      `${JSON.stringify({ error: { code: failure.code, message: failure.userMessage, ...(failure.details ? { details: failure.details } : {}) } })}\n`,
    );
  } else {
    io.stderr.write(`comfydesk: ${failure.userMessage}\n`);
  }
  return failure.exitCode;
}
