import { resolve } from 'node:path';
import type { Command } from 'commander';
import { collectValues, parsePositiveInt, type CommandContext } from '../command';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { openCore } from '../runtime';

interface IntentFlags {
  workflows: string[];
  dataDir?: string;
  limit: number;
  json?: boolean;
  verbose?: boolean;
}

export function registerIntent(program: Command, context: CommandContext): void {
  program
    .command('intent')
    .description('say what you want to make ("turn this photo into a short clip") and see which of your workflows fit')
    .argument('<text>', 'what you want to make, in your own words')
    .option('--workflows <dir>', 'also look in this folder of workflows (repeatable)', collectValues, [])
    .option('--data-dir <dir>', "folder for settings and workflows (default: the desktop app's)")
    .option('--limit <n>', 'show at most this many workflows', parsePositiveInt, 10)
    .option('--json', 'print the match as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((text: string, flags: IntentFlags) => context.run(flags.json, () => intent(context.io, text, flags)));
}

async function intent(io: CliIo, text: string, flags: IntentFlags): Promise<number> {
  const { core } = await openCore(io, {
    mode: 'cli',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    library: { isWatching: false, sessionRoots: flags.workflows.map((dir) => resolve(io.cwd, dir)) },
  });
  try {
    await core.library.ready();
    const match = core.library.matchIntent(text);
    const workflows = match.ids.slice(0, flags.limit).map((id) => {
      const card = core.library.index.card(id)!;
      return { id, name: card.name, type: card.type, status: card.compat.status, path: card.path, root: card.root };
    });
    if (flags.json) {
      writeJson(io, {
        text: match.text,
        intent: match.intent,
        message: match.message,
        total: match.ids.length,
        workflows,
      });
    } else {
      writeLine(
        io.stdout,
        match.intent ? `${match.intent.label} (${match.intent.type}). ${match.message}` : match.message,
      );
      for (const workflow of workflows) writeLine(io.stdout, `  ${workflow.name}  —  ${workflow.path}`);
      if (match.ids.length > workflows.length)
        writeLine(io.stdout, `  …and ${match.ids.length - workflows.length} more (--limit).`);
    }
    return ExitCode.ok;
  } finally {
    await core.stop();
  }
}
