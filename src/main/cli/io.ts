import type { SerializedError } from '@shared/contract/errors';
import { isAppError } from '../core/lib/errors';
import { RouterCallError } from '../core/router-call-error';
import { ApiError } from '../../renderer/src/api/api-error';

/** Why a command is asked to stop early: a signal, or the reader of its output went away (`| head`). */
export type StopReason = NodeJS.Signals | 'output-closed';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * Resolves when the command should stop: Ctrl+C, SIGTERM, SIGHUP, or its output was closed by the
   * program reading it. Long-running commands await it.
   */
  interrupted: Promise<StopReason>;
}

/** Exit codes shared by every subcommand (documented in `--help` and the README). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
  /** The program reading the output closed it (e.g. `| head -1`), so the command stopped. */
  outputClosed: 141,
} as const;

/** The exit code for a command that stopped because of `reason`. */
export function stoppedCode(reason: StopReason): number {
  return reason === 'output-closed' ? ExitCode.outputClosed : ExitCode.interrupted;
}

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0    done',
  '  1    failed (the message says why and what to do)',
  '  2    usage error: unknown command, missing or bad option value',
  '  130  interrupted (Ctrl+C, SIGTERM); a running job is cancelled first',
  '  141  the output was closed by the program reading it (e.g. | head); a running job is cancelled first',
].join('\n');

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

/** False once a stream can take no more (its reader closed it): writing then would only raise EPIPE again. */
function isWritable(stream: NodeJS.WritableStream): boolean {
  const state = stream as { destroyed?: boolean; writableEnded?: boolean };
  return state.destroyed !== true && state.writableEnded !== true;
}

export function writeJson(io: CliIo, value: unknown): void {
  if (isWritable(io.stdout)) io.stdout.write(`${JSON.stringify(value)}\n`);
}

export function writeLine(stream: NodeJS.WritableStream, text = ''): void {
  if (isWritable(stream)) stream.write(`${text}\n`);
}

/** Writes without a newline (progress bars redrawn in place), skipping a closed stream. */
export function writeText(stream: NodeJS.WritableStream, text: string): void {
  if (isWritable(stream)) stream.write(text);
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
  if (error instanceof ApiError)
    return {
      code: error.code,
      userMessage: error.userMessage,
      exitCode: ExitCode.failed,
      ...(error.details ? { details: error.details } : {}),
    };
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
    writeLine(
      io.stderr,
      JSON.stringify({
        error: {
          code: failure.code,
          message: failure.userMessage,
          ...(failure.details ? { details: failure.details } : {}),
        },
      }),
    );
  } else {
    writeLine(io.stderr, `comfydesk: ${failure.userMessage}`);
  }
  return failure.exitCode;
}
