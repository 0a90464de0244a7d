import { Command, CommanderError } from 'commander';
import { APP_VERSION } from '../core/version';
import { createRunner, type CommandContext } from './command';
import { ExitCode, type CliIo } from './io';

type Register = (program: Command, context: CommandContext) => void;

/**
 * Every subcommand registers itself here with one line. Each one: a description, `--json` where it
 * prints results, errors through the shared runner, and an exit code from `ExitCode`.
 *
 * Loaded on demand: a run needs only its own subcommand's code, so `comfydesk scan` does not pay for
 * loading the core, the contract, SSH and the LLM runtime (that was 0.4 s of every start).
 */
const SUBCOMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./commands/serve')).registerServe,
  scan: async () => (await import('./commands/scan')).registerScan,
  intent: async () => (await import('./commands/intent')).registerIntent,
  convert: async () => (await import('./commands/convert')).registerConvert,
  status: async () => (await import('./commands/status')).registerStatus,
  models: async () => (await import('./commands/models')).registerModels,
  enhance: async () => (await import('./commands/enhance')).registerEnhance,
  llm: async () => (await import('./commands/llm')).registerLlm,
  run: async () => (await import('./commands/run')).registerRun,
  queue: async () => (await import('./commands/queue')).registerQueue,
  cancel: async () => (await import('./commands/queue')).registerCancel,
};

/** The subcommands a run needs: the one named first on the line, or all of them (help, usage errors). */
function wantedSubcommands(argv: string[]): string[] {
  const first = argv.find((arg) => !arg.startsWith('-'));
  return first !== undefined && Object.hasOwn(SUBCOMMANDS, first) ? [first] : Object.keys(SUBCOMMANDS);
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(
  argv: string[],
  io: CliIo,
  options: Pick<CommandContext, 'rendererDir' | 'scanWorkerPath' | 'llmWorkerPath'>,
): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('comfydesk')
    .description('ComfyDesk — run ComfyUI workflows from a simple Generate page, a browser, or this terminal.')
    .version(APP_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run "comfydesk --help" for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  const context: CommandContext = {
    io,
    ...options,
    run: createRunner(io, (code) => (exitCode = code)),
  };
  const registers = await Promise.all(wantedSubcommands(argv).map((name) => SUBCOMMANDS[name]!()));
  for (const register of registers) register(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    throw error;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.ok;
  }
  return exitCode;
}
