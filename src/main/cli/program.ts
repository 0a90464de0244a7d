import { Command, CommanderError } from 'commander';
import { APP_VERSION } from '../core/version';
import { createRunner, type CommandContext } from './command';
import { registerConvert } from './commands/convert';
import { registerEnhance } from './commands/enhance';
import { registerIntent } from './commands/intent';
import { registerLlm } from './commands/llm';
import { registerScan } from './commands/scan';
import { registerModels } from './commands/models';
import { registerPods } from './commands/pods';
import { registerSnapshot } from './commands/snapshot';
import { registerCancel, registerQueue } from './commands/queue';
import { registerRun } from './commands/run';
import { registerServe } from './commands/serve';
import { registerStatus } from './commands/status';
import { ExitCode, type CliIo } from './io';

/**
 * Every subcommand registers itself here with one line. Each one: a description, `--json` where it
 * prints results, errors through the shared runner, and an exit code from `ExitCode`.
 */
const SUBCOMMANDS: Array<(program: Command, context: CommandContext) => void> = [
  registerServe,
  registerScan,
  registerIntent,
  registerConvert,
  registerStatus,
  registerModels,
  registerEnhance,
  registerLlm,
  registerRun,
  registerQueue,
  registerCancel,
  registerPods,
  registerSnapshot,
];

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo, options: { rendererDir: string }): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('comfydesk')
    .description('ComfyDesk — run ComfyUI workflows from a simple Generate page, a browser, or this terminal.')
    .version(APP_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    // Options belong to the command they follow (`models --server …` lists, `models get … --server …` fetches).
    .enablePositionalOptions()
    .showHelpAfterError('(run "comfydesk --help" for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  const context: CommandContext = {
    io,
    rendererDir: options.rendererDir,
    run: createRunner(io, (code) => (exitCode = code)),
  };
  for (const register of SUBCOMMANDS) register(program, context);

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
