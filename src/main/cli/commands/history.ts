import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Job } from '@shared/domain/job';
import { parsePositiveInt, type CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { openSession } from '../session';

interface HistoryFlags {
  search?: string;
  limit: number;
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** The contract answers at most this many jobs per call; longer lists are read page by page. */
const PAGE = 200;

/** `comfydesk history [--search TEXT] [--limit N] [--json]`: past generations, newest first. */
export function registerHistory(program: Command, context: CommandContext): void {
  program
    .command('history')
    .description('list past generations (the app, serve mode and comfydesk run), newest first')
    .option('--search <text>', 'only generations whose prompt contains this text')
    .option('--limit <n>', 'show at most this many', parsePositiveInt, 20)
    .option('--data-dir <dir>', "ComfyDesk's data folder (default: the app's)")
    .option('--json', "print the jobs as one JSON array (the contract's Job objects, outputs with their full path)")
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: HistoryFlags) => context.run(flags.json, () => history(context.io, flags)));
}

async function history(io: CliIo, flags: HistoryFlags): Promise<number> {
  if (flags.search !== undefined && flags.search.length > 200)
    throw new CliError('--search takes at most 200 characters.', { exitCode: ExitCode.usage, code: 'invalid_input' });
  const session = await openSession(io, {
    command: 'history',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
  });
  try {
    const jobs: Job[] = [];
    while (jobs.length < flags.limit) {
      const limit = Math.min(PAGE, flags.limit - jobs.length);
      const page = await session.api.call('history.list', {
        ...(flags.search ? { text: flags.search } : {}),
        limit,
        offset: jobs.length,
      });
      jobs.push(...page.jobs);
      if (page.jobs.length < limit) break;
    }
    const outputsDir = (await session.api.call('app.info', {})).folders.outputs;
    const withPaths = jobs.map((job) => ({
      ...job,
      outputs: job.outputs.map((output) =>
        output.localPath ? { ...output, path: join(outputsDir, output.localPath) } : output,
      ),
    }));
    if (flags.json) {
      writeJson(io, withPaths);
      return ExitCode.ok;
    }
    if (jobs.length === 0) {
      writeLine(io.stdout, flags.search ? `No generation's prompt contains "${flags.search}".` : 'No generations yet.');
      return ExitCode.ok;
    }
    for (const job of withPaths) {
      const when = new Date(job.finishedAt ?? job.createdAt);
      const seconds =
        job.startedAt && job.finishedAt ? ` · ${((job.finishedAt - job.startedAt) / 1000).toFixed(1)} s` : '';
      const prompt = job.promptText
        ? ` · "${job.promptText.length > 60 ? `${job.promptText.slice(0, 59)}…` : job.promptText}"`
        : '';
      writeLine(io.stdout, `${stamp(when)}  ${job.status.padEnd(9)}  ${job.workflowName}${prompt}${seconds}`);
      for (const output of job.outputs) if ('path' in output) writeLine(io.stdout, `    ${output.path}`);
      if (job.error) writeLine(io.stdout, `    ${job.error.message}`);
    }
    return ExitCode.ok;
  } finally {
    await session.close();
  }
}

/** "2026-11-23 14:05" in local time. */
function stamp(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
