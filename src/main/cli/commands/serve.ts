import { resolve } from 'node:path';
import type { Command } from 'commander';
import { WS_PATH } from '@shared/bridge';
import { ServeServer, DEFAULT_SERVE_PORT } from '../../serve/serve-server';
import { isLoopbackHost } from '../../serve/security';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { openCore } from '../runtime';
import { collectValues, parsePort, type CommandContext } from '../command';
import { headSizeFetcher } from '../../core/workflows/ports';
import { openBrowser } from '../open-browser';
import { addServerOptions, describeTarget, sessionTargetsOf, type ServerTargetFlags } from '../server-target';

interface ServeFlags extends ServerTargetFlags {
  port: number;
  host: string;
  dataDir?: string;
  workflows: string[];
  open?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function registerServe(program: Command, context: CommandContext): void {
  const command = program
    .command('serve')
    .description(
      'serve the ComfyDesk app to a browser on this machine (guarded by a per-run token); several --server/--ssh are used together for generation, as a farm, for this run',
    )
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', parsePort, DEFAULT_SERVE_PORT)
    .option('--host <host>', 'address to listen on; anything but loopback is reachable from the network', '127.0.0.1')
    .option('--data-dir <dir>', "folder for settings, workflows, outputs and history (default: the desktop app's)")
    .option(
      '--workflows <dir>',
      'also show the workflows in this folder, for this run only (repeatable)',
      collectValues,
      [],
    );
  addServerOptions(command, { several: 'every server named takes jobs, as a farm, for this run only' })
    .option('--open', 'open the link in the default browser (when this machine has a display, or $BROWSER is set)')
    .option('--json', 'print the address as JSON')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: ServeFlags) =>
      context.run(flags.json, () => serve(context.io, flags, context.rendererDir, context.llmWorkerPath)),
    );
}

async function serve(
  io: CliIo,
  flags: ServeFlags,
  rendererDir: string,
  llmWorkerPath: string | undefined,
): Promise<number> {
  const library = {
    sessionRoots: flags.workflows.map((dir) => resolve(io.cwd, dir)),
    fetchModelSize: headSizeFetcher(),
  };
  // The first server named is the default; the others take jobs beside it (a farm for this run).
  const targets = sessionTargetsOf(flags, io);
  const [sessionServer, ...sessionServers] = targets;
  // Taking the data folder fails with "ComfyDesk is already running (pid N, URL)" when another process owns it.
  const { core, log } = await openCore(io, {
    llmWorkerPath,
    mode: 'serve',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    library,
    sessionServer,
    connections: {
      sessionServers,
      ...(targets.some((target) => target.profile.kind === 'ssh') && io.env.COMFYDESK_KNOWN_HOSTS
        ? { knownHostsPath: io.env.COMFYDESK_KNOWN_HOSTS }
        : {}),
    },
  });
  const server = new ServeServer({
    core,
    rendererDir,
    mediaDir: () => core.outputsDir(),
    host: flags.host,
    port: flags.port,
    log: log.child('serve'),
  });
  try {
    await server.start();
    // Other ComfyDesk processes (the CLI) reach this one through serve mode's own contract socket.
    const host = flags.host === '0.0.0.0' || flags.host === '::' ? '127.0.0.1' : flags.host;
    const shown = host.includes(':') ? `[${host}]` : host;
    core.owner.publish({
      url: `http://${shown}:${server.port}`,
      endpoint: { url: `ws://${shown}:${server.port}${WS_PATH}`, token: server.token },
    });
  } catch (error) {
    await server.stop();
    await core.stop();
    throw error;
  }
  if (flags.json) {
    writeJson(io, { url: server.url, host: server.host, port: server.port });
  } else {
    writeLine(io.stdout, `ComfyDesk is ready: ${server.url}`);
    if (targets.length > 0)
      writeLine(io.stdout, `Jobs go to ${targets.map(describeTarget).join(', ')} (for this run only).`);
    writeLine(io.stdout, 'Open that link in a browser. Press Ctrl+C to stop.');
  }
  if (!isLoopbackHost(flags.host)) {
    writeLine(
      io.stderr,
      `Warning: listening on ${flags.host}, so other machines on the network can reach ComfyDesk. Anyone with the link (token included) can use it; prefer an SSH tunnel to 127.0.0.1.`,
    );
  }
  if (flags.open) {
    const problem = await openBrowser(server.url, io.env);
    if (problem) writeLine(io.stderr, `The browser was not opened: ${problem}. Open the link above yourself.`);
  }
  const signal = await io.interrupted;
  log.info('stopping', { signal });
  await server.stop();
  await core.stop();
  if (!flags.json) writeLine(io.stderr, 'ComfyDesk stopped.');
  return ExitCode.ok;
}
