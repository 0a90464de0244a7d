import { Command, CommanderError } from 'commander';
import { APP_VERSION } from '../core/version';
import { createRunner, type CommandContext } from './command';
import { registerConvert } from './commands/convert';
import { registerEnhance } from './commands/enhance';
import { registerIntent } from './commands/intent';
import { registerLlm } from './commands/llm';
import { registerScan } from './commands/scan';
import { registerModels } from './commands/models';
import { registerCancel, registerQueue } from './commands/queue';
import { registerRun } from './commands/run';
import { registerServe } from './commands/serve';
import { registerStatus } from './commands/status';
import { registerHistory } from './commands/history';
import { EXIT_CODES_HELP, ExitCode, writeLine, type CliIo } from './io';

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
  registerHistory,
];

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo, options: { rendererDir: string }): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('comfydesk')
    .description('ComfyDesk — run ComfyUI workflows from a simple Generate page, a browser, or this terminal.')
    .version(APP_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage errors are reworded into one sentence below, where the subcommand is known.
      outputError: () => undefined,
    });
  const context: CommandContext = {
    io,
    rendererDir: options.rendererDir,
    run: createRunner(io, (code) => (exitCode = code)),
  };
  for (const register of SUBCOMMANDS) register(program, context);
  for (const command of [program, ...allSubcommands(program)]) command.addHelpText('after', `\n${EXIT_CODES_HELP}`);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (error.exitCode === 0) return ExitCode.ok;
      writeLine(io.stderr, `comfydesk: ${usageSentence(error, commandPath(program, argv))}`);
      return ExitCode.usage;
    }
    throw error;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.ok;
  }
  return exitCode;
}

function allSubcommands(command: Command): Command[] {
  return command.commands.flatMap((sub) => [sub, ...allSubcommands(sub)]);
}

/** "comfydesk run" or "comfydesk llm download": the subcommand the arguments name, for the help hint. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = ['comfydesk'];
  let current = program;
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = current.commands.find((candidate) => candidate.name() === arg || candidate.aliases().includes(arg));
    if (!sub) break;
    names.push(sub.name());
    current = sub;
  }
  return names.join(' ');
}

/**
 * Commander's usage error as one sentence: `--seed must be a whole number of 0 or more (got "abc");
 * see "comfydesk run --help".` Option values are named by their long flag and shown as given.
 */
export function usageSentence(error: CommanderError, path: string): string {
  const hint = `see "${path} --help"`;
  const text = error.message
    .replace(/^error:\s*/i, '')
    .replace(/\s+/g, ' ')
    .trim();
  const invalid = /^option '([^']+)' argument '(.*)' is invalid\.\s*(.*)$/s.exec(text);
  if (error.code === 'commander.invalidArgument' && invalid) {
    const flags = invalid[1]!.split(/[ ,|]+/).filter((part) => part.startsWith('-'));
    const flag = flags.find((part) => part.startsWith('--')) ?? flags[0] ?? invalid[1]!;
    const reason = invalid[3]!.replace(/\.$/, '');
    const said = /^[a-z]/.test(reason) ? `${flag} ${reason}` : `${flag}: ${reason}`;
    return `${said} (got "${invalid[2]}"); ${hint}.`;
  }
  return `${text.replace(/\.$/, '')}; ${hint}.`;
}
