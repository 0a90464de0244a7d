import { Command, CommanderError } from 'commander';
import { APP_VERSION } from '../core/version';
import { createRunner, type CommandContext } from './command';
import { EXIT_CODES_HELP, ExitCode, writeLine, type CliIo } from './io';

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
  history: async () => (await import('./commands/history')).registerHistory,
  pods: async () => (await import('./commands/pods')).registerPods,
  snapshot: async () => (await import('./commands/snapshot')).registerSnapshot,
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
    // Options belong to the command they follow (`models --server …` lists, `models get … --server …` fetches).
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage errors are reworded into one sentence below, where the subcommand is known.
      outputError: () => undefined,
    });
  const context: CommandContext = {
    io,
    ...options,
    run: createRunner(io, (code) => (exitCode = code)),
  };
  const registers = await Promise.all(wantedSubcommands(argv).map((name) => SUBCOMMANDS[name]!()));
  for (const register of registers) register(program, context);
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
