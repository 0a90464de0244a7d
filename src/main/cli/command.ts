import { InvalidArgumentError } from 'commander';
import { reportFailure, type CliIo } from './io';

/** Handed to every subcommand's register function. */
export interface CommandContext {
  io: CliIo;
  rendererDir: string;
  /** The built worker thread of `scan` (out/main/scan-worker.js); without it `scan` uses one thread. */
  scanWorkerPath?: string;
  /** The built engine process of prompt enhancement (out/main/llm-worker.js); without it the LLM runs in this process. */
  llmWorkerPath?: string;
  /**
   * Runs a command body and records its exit code; errors are reported the same way everywhere
   * (stderr, JSON when asked) so subcommands never print errors themselves.
   */
  run(asJson: boolean | undefined, body: () => Promise<number>): Promise<void>;
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('must be a whole number from 0 to 65535.');
  return port;
}

export function parsePositiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('must be a whole number of 1 or more.');
  return number;
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
