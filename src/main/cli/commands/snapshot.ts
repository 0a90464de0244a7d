import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { summarize, type RestoreItem, type RestoreReport, type ServerSnapshot } from '@shared/domain/snapshot';
import { formatBytes } from '@shared/format';
import { restoreSnapshot } from '../../core/snapshots/restore-snapshot';
import { knownModelSources } from '../../core/snapshots/model-sources';
import { readSnapshotFile, targetAddress, writeSnapshotFile } from '../../core/snapshots/snapshot-service';
import { takeSnapshot, type SnapshotProgress } from '../../core/snapshots/take-snapshot';
import { APP_VERSION } from '../../core/version';
import { ModelCatalog, readCatalogFile } from '../../core/workflows/catalog';
import { bundledCatalog } from '../../core/workflows/resources';
import type { CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { serverOptions, withTransfers, type TransferRun } from './models';
import { cliLogger, cliPaths } from '../runtime';
import { parseFingerprint, parseRemote, parseServerUrl, parseSshTarget } from '../server-target';
import { openServerSession, type ServerFlags } from '../server-session';

interface SnapshotFlags extends ServerFlags {
  out: string;
  hash: boolean;
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk snapshot save`: what a server has (custom node packs, models) into a JSON file. */
export function registerSnapshot(program: Command, context: CommandContext): void {
  const snapshot = program
    .command('snapshot')
    .description("record a ComfyUI server's custom node packs and models in a JSON file (keep it in git)");
  snapshot
    .command('save')
    .description(
      'save a snapshot: packs (repository and commit), models (folder, name, size, SHA-256 over SSH, download address)',
    )
    .option(
      '--server <url>',
      "ComfyUI's address (over HTTP: no SHA-256, packs from ComfyUI-Manager if it is there)",
      parseServerUrl,
    )
    .option(
      '--ssh <user@host[:port]>',
      'reach the server over SSH: reads custom_nodes and hashes the models there',
      parseSshTarget,
    )
    .option(
      '--key <path>',
      'private key for --ssh (default: the ssh-agent); a passphrase is read from COMFYDESK_SSH_PASSPHRASE',
    )
    .option(
      '--remote <host:port>',
      'where ComfyUI listens as seen from the SSH host (default 127.0.0.1:8188)',
      parseRemote,
    )
    .option(
      '--accept-host-key <SHA256:…>',
      'trust this host key fingerprint when the host is not in ~/.ssh/known_hosts',
      parseFingerprint,
    )
    .requiredOption('--out <file>', 'the snapshot file to write')
    .option('--no-hash', 'skip the SHA-256 of model files (sizes are still read)')
    .option('--data-dir <dir>', "ComfyDesk's data folder, for your model-catalog.json (default: the desktop app's)")
    .option('--json', 'print the result as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: SnapshotFlags) => context.run(flags.json, () => save(context.io, flags)));

  serverOptions(
    snapshot
      .command('restore')
      .description(
        'rebuild a snapshot on a server: missing packs installed, missing models downloaded on it (SHA-256 checked), then a check of every node type and model; exit 0 when nothing is missing',
      )
      .argument('<file>', 'the snapshot file')
      .option('--json', 'print JSON lines: each item as it changes, then the result'),
  ).action((file: string, flags: RestoreFlags) =>
    context.run(flags.json, () =>
      withTransfers(context.io, flags, (run) => restore(run, resolve(context.io.cwd, file), flags)),
    ),
  );
}

interface RestoreFlags extends ServerFlags {
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
}

async function restore(run: TransferRun, path: string, flags: RestoreFlags): Promise<number> {
  const { io } = run;
  const snapshot = await readSnapshotFile(path);
  const target = run.target();
  if (!target) throw new CliError(`${run.serverName} is not online.`, { code: 'comfy_offline' });
  const seen = new Map<string, string>();
  const live = !flags.json && io.stderr.isTTY === true;
  const restoring = restoreSnapshot(snapshot, {
    transfers: run.service,
    target,
    log: cliLogger(io, flags.verbose, 'restore'),
    onProgress: (items) => {
      for (const item of items) {
        const running = item.state === 'running' && item.kind === 'model';
        if (live && running)
          io.stderr.write(
            `\r\u001b[2K${item.name}: ${formatBytes(item.receivedBytes)}${item.totalBytes ? ` of ${formatBytes(item.totalBytes)}` : ''}`,
          );
        if (seen.get(item.name) === item.state) continue;
        seen.set(item.name, item.state);
        if (flags.json) writeJson(io, { type: 'item', ...item });
        else if (item.state !== 'running' && item.state !== 'queued') {
          if (live) io.stderr.write('\r\u001b[2K');
          writeLine(
            io.stdout,
            `${item.kind === 'pack' ? 'Pack' : 'Model'} ${item.name}: ${STATE_WORDS[item.state]}${item.note ? ` — ${item.note}` : ''}`,
          );
        }
      }
    },
  });
  restoring.catch(() => undefined); // after Ctrl+C its end is not waited for
  const outcome = await Promise.race([restoring, io.interrupted.then(() => 'interrupted' as const)]);
  if (live) io.stderr.write('\r\u001b[2K');
  if (outcome === 'interrupted') {
    // Stopping keeps what arrived (the partial files); the same command resumes from there.
    await run.service.stop();
    writeLine(io.stderr, 'Stopped; run the same command again to resume from what arrived.');
    return ExitCode.interrupted;
  }
  const report = outcome;
  if (flags.json) writeJson(io, { type: 'result', ok: report.complete, ...report });
  else printRestore(io, run.serverName, report);
  return report.complete ? ExitCode.ok : ExitCode.failed;
}

const STATE_WORDS: Record<RestoreItem['state'], string> = {
  present: 'already there',
  queued: 'waiting',
  running: 'on its way',
  done: 'installed',
  failed: 'failed',
  restart: 'installed, loads after a restart of ComfyUI',
  'no-source': 'no source in the snapshot',
  manual: 'install it yourself',
};

function printRestore(io: CliIo, serverName: string, report: RestoreReport): void {
  if (report.complete) {
    writeLine(io.stdout, `${serverName} now has every node type and model of the snapshot.`);
    return;
  }
  writeLine(io.stdout, `${serverName} still lacks part of the snapshot:`);
  if (report.missingNodeTypes.length > 0) writeLine(io.stdout, `  node types: ${report.missingNodeTypes.join(', ')}`);
  if (report.missingModels.length > 0) writeLine(io.stdout, `  models: ${report.missingModels.join(', ')}`);
  if (report.withoutSource.length > 0)
    writeLine(
      io.stdout,
      `  no source in the snapshot (add a "url" or "repository" to the file): ${report.withoutSource.join(', ')}`,
    );
  if (report.needsRestart) writeLine(io.stdout, '  Restart ComfyUI on the server to load the packs installed on disk.');
}

async function save(io: CliIo, flags: SnapshotFlags): Promise<number> {
  const log = cliLogger(io, flags.verbose, 'snapshot');
  // Host keys as everywhere in the CLI: known → go on; unknown → asked on a terminal or named by --accept-host-key.
  const session = await openServerSession(io, { ...flags, timeout: 30 }, log.child('connection'));
  const { profile, connection } = session;
  try {
    const paths = cliPaths(io, flags.dataDir && resolve(io.cwd, flags.dataDir));
    const userCatalog = await readCatalogFile(join(paths.dataDir, 'model-catalog.json'), log);
    const catalog = new ModelCatalog(userCatalog ? [bundledCatalog(), userCatalog] : [bundledCatalog()]);
    const showProgress = !flags.json && io.stderr.isTTY;
    const snapshot = await takeSnapshot(
      { client: connection.client!, shell: connection.shell, address: targetAddress(connection.target, profile.name) },
      {
        sources: knownModelSources({ catalog }),
        hash: flags.hash,
        createdBy: `ComfyDesk ${APP_VERSION}`,
        onProgress: showProgress ? (progress) => io.stderr.write(`\r${describe(progress)}\u001b[K`) : undefined,
      },
    );
    if (showProgress) io.stderr.write('\r\u001b[K');
    const out = resolve(io.cwd, flags.out);
    await writeSnapshotFile(out, snapshot);
    report(io, out, snapshot, flags);
    return ExitCode.ok;
  } finally {
    await session.stop();
  }
}

function describe(progress: SnapshotProgress): string {
  if (progress.phase === 'hashing')
    return `Hashing model ${Math.min(progress.done + 1, progress.total)} of ${progress.total}${progress.item ? `: ${progress.item}` : ''}…`;
  if (progress.phase === 'models') return `Listing model folder ${progress.done + 1} of ${progress.total}…`;
  return progress.phase === 'nodes' ? 'Reading custom node packs…' : 'Reading the server…';
}

function report(io: CliIo, path: string, snapshot: ServerSnapshot, flags: SnapshotFlags): void {
  const summary = summarize(snapshot);
  if (flags.json) {
    writeJson(io, { path, server: snapshot.server, sources: snapshot.sources, summary });
    return;
  }
  writeLine(
    io.stdout,
    `Saved a snapshot of ComfyUI ${snapshot.server.comfyuiVersion ?? '(unknown version)'} at ${snapshot.server.address} to ${path}:`,
  );
  writeLine(
    io.stdout,
    `  ${summary.packs} custom node pack${summary.packs === 1 ? '' : 's'} (from ${snapshot.sources.customNodes === 'ssh' ? 'custom_nodes over SSH' : snapshot.sources.customNodes === 'comfyui-manager' ? 'ComfyUI-Manager' : 'the node types ComfyUI reports; no repositories without SSH or ComfyUI-Manager'}), ${summary.models} model${summary.models === 1 ? '' : 's'}, ${summary.hashed} with SHA-256.`,
  );
  if (summary.modelsWithoutSource.length > 0)
    writeLine(
      io.stdout,
      `  No download address known for: ${summary.modelsWithoutSource.join(', ')} (add them to the file before restoring).`,
    );
  if (summary.packsWithoutRepository.length > 0)
    writeLine(io.stdout, `  No repository known for: ${summary.packsWithoutRepository.join(', ')}.`);
}
