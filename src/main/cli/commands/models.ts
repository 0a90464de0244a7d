import type { Command } from 'commander';
import { ComfyClient } from '../../core/comfy/comfy-client';
import type { CommandContext } from '../command';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { cliLogger } from '../runtime';
import { parseServerUrl } from '../server-target';

interface ModelsFlags {
  server: string;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk models --server URL [--json]`: installed models by folder. */
export function registerModels(program: Command, context: CommandContext): void {
  program
    .command('models')
    .description('list the models installed on a ComfyUI server, by folder')
    .requiredOption('--server <url>', "ComfyUI's address, e.g. http://127.0.0.1:8188", parseServerUrl)
    .option('--json', 'print { server, folders: [{ name, files }] } as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: ModelsFlags) => context.run(flags.json, () => models(context.io, flags)));
}

async function models(io: CliIo, flags: ModelsFlags): Promise<number> {
  const client = new ComfyClient({
    baseUrl: flags.server,
    log: cliLogger(io, flags.verbose, 'models'),
    timeoutMs: 10_000,
  });
  const byFolder = await client.listAllModels();
  const folders = Object.entries(byFolder).map(([name, files]) => ({ name, files }));
  if (flags.json) {
    writeJson(io, { server: flags.server, folders });
    return ExitCode.ok;
  }
  const total = folders.reduce((sum, folder) => sum + folder.files.length, 0);
  writeLine(io.stdout, `${total} model file${total === 1 ? '' : 's'} on ${flags.server}`);
  for (const folder of folders) {
    writeLine(io.stdout, `${folder.name} (${folder.files.length})`);
    for (const file of folder.files) writeLine(io.stdout, `  ${file}`);
  }
  return ExitCode.ok;
}
