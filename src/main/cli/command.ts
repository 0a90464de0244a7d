import { InvalidArgumentError } from 'commander';
import { reportFailure, type CliIo } from './io';

/** Handed to every subcommand's register function. */
export interface CommandContext {
  io: CliIo;
  rendererDir: string;
  /** The built reader thread of `scan` (out/main/scan-worker.js); without it `scan` reads on the main thread. */
  scanWorkerPath?: string;
  /** The built engine process of prompt enhancement (out/main/llm-worker.js); without it the LLM runs in this process. */
  llmWorkerPath?: string;
  /**
   * Runs a command body and records its exit code; errors are reported the same way everywhere
   * (stderr, JSON when asked) so subcommands never print errors themselves.
   */
  run(asJson: boolean | undefined, body: () => Promise<number>): Promise<void>;
}

/** Digits only: no sign, no decimals, no exponents or hex (`1e3` and `0x10` are not what a person types). */
function wholeNumber(value: string): number | undefined {
  const trimmed = value.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

export function parsePort(value: string): number {
  const port = wholeNumber(value);
  if (port === undefined || port > 65535) throw new InvalidArgumentError('must be a whole number from 0 to 65535.');
  return port;
}

export function parsePositiveInt(value: string): number {
  const number = wholeNumber(value);
  if (number === undefined || number < 1 || !Number.isSafeInteger(number))
    throw new InvalidArgumentError('must be a whole number of 1 or more.');
  return number;
}

/** `--seed`: ComfyUI seeds are whole numbers of 0 or more (JSON numbers, so at most 2^53 − 1 here). */
export function parseSeed(value: string): number {
  const seed = wholeNumber(value);
  if (seed === undefined || !Number.isSafeInteger(seed))
    throw new InvalidArgumentError(`must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}.`);
  return seed;
}

/** A number of seconds (0.1 to 300), for timeouts. */
export function parseSeconds(value: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 300)
    throw new InvalidArgumentError('must be a number of seconds from 0.1 to 300.');
  return seconds;
}

/** Commander's collector for a repeatable option (`--workflows a --workflows b`). */
export function collectValues(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function createRunner(io: CliIo, setExitCode: (code: number) => void): CommandContext['run'] {
  return async (asJson, body) => {
    try {
      setExitCode(await body());
    } catch (error) {
      setExitCode(reportFailure(io, error, asJson ?? false));
    }
  };
}
