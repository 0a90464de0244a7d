import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseSeconds, type CommandContext } from '../command';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { addServerOptions, describeTarget, sessionTargetOf, type ServerTargetFlags } from '../server-target';
import { openSession, serverFor, serverLabel, waitForServer } from '../session';

interface ModelsFlags extends ServerTargetFlags {
  dataDir?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk models [--server URL] [--json]`: installed models by folder. */
export function registerModels(program: Command, context: CommandContext): void {
  const command = program
    .command('models')
    .description('list the models installed on a ComfyUI server (default: the default connection), by folder');
  addServerOptions(command)
    .option('--data-dir <dir>', "ComfyDesk's data folder, for its default connection (default: the app's)")
    .option('--timeout <seconds>', 'give up if the server does not answer within this many seconds', parseSeconds, 10)
    .option('--json', 'print { server, folders: [{ name, files }] } as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: ModelsFlags) => context.run(flags.json, () => models(context.io, flags)));
}

async function models(io: CliIo, flags: ModelsFlags): Promise<number> {
  const target = sessionTargetOf(flags, io);
  const timeoutMs = Math.round(flags.timeout * 1000);
  const session = await openSession(io, {
    command: 'models',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    server: target,
    isQueueHeld: true,
    checkTimeoutMs: timeoutMs,
  });
  try {
    const serverId = await serverFor(session);
    const label = target ? describeTarget(target) : await serverLabel(session, serverId);
    await waitForServer(session.api, serverId, { timeoutMs, isFailFast: true, label });
    const listing = await session.api.call(
      'models.list',
      { serverId, refresh: true },
      { timeoutMs: timeoutMs + 60_000 },
    );
    if (flags.json) {
      writeJson(io, { server: label, folders: listing.folders });
      return ExitCode.ok;
    }
    const total = listing.folders.reduce((sum, folder) => sum + folder.files.length, 0);
    writeLine(io.stdout, `${total} model file${total === 1 ? '' : 's'} on ${label}`);
    for (const folder of listing.folders) {
      writeLine(io.stdout, `${folder.name} (${folder.files.length})`);
      for (const file of folder.files) writeLine(io.stdout, `  ${file}`);
    }
    return ExitCode.ok;
  } finally {
    await session.close();
  }
}
