import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RootStatus } from '@shared/domain/workflow';
import { collectValues, parsePositiveInt, type CommandContext } from '../command';
import type { ApiClient } from '../contract-client';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { openSession } from '../session';

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
    .option(
      '--workflows <dir>',
      'also look in this folder of workflows (repeatable; only when ComfyDesk is not running)',
      collectValues,
      [],
    )
    .option('--data-dir <dir>', "folder for settings and workflows (default: the desktop app's)")
    .option('--limit <n>', 'show at most this many workflows', parsePositiveInt, 10)
    .option('--json', 'print the match as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((text: string, flags: IntentFlags) => context.run(flags.json, () => intent(context.io, text, flags)));
}

/** Resolves once no workflow folder is still being read. */
async function libraryRead(api: ApiClient): Promise<void> {
  const isDone = (roots: RootStatus[]) => roots.every((root) => root.state !== 'scanning');
  let off: (() => void) | undefined;
  const done = new Promise<void>((resolvePromise) => {
    off = api.on('library.roots', (roots) => {
      if (isDone(roots)) resolvePromise();
    });
  });
  try {
    if (!isDone(await api.call('workflows.roots', {}))) await done;
  } finally {
    off?.();
  }
}

async function intent(io: CliIo, text: string, flags: IntentFlags): Promise<number> {
  const session = await openSession(io, {
    command: 'intent',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
    library: { sessionRoots: flags.workflows.map((dir) => resolve(io.cwd, dir)) },
  });
  try {
    const { api } = session;
    if (session.owner && flags.workflows.length > 0)
      writeLine(
        io.stderr,
        `comfydesk: --workflows is not used: ComfyDesk (pid ${session.owner.pid}) is running and answers from its own library. Add the folder in Settings › Workflow folders to include it.`,
      );
    await libraryRead(api);
    const match = await api.call('intent.match', { text });
    const cards = new Map((await api.call('workflows.list', {})).items.map((card) => [card.id, card]));
    const workflows = match.ids.slice(0, flags.limit).flatMap((id) => {
      const card = cards.get(id);
      return card
        ? [{ id, name: card.name, type: card.type, status: card.compat.status, path: card.path, root: card.root }]
        : [];
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
    await session.close();
  }
}
