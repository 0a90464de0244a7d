import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Settings } from '@shared/domain/settings';
import {
  FINISHED_TRANSFER_STATES,
  type MissingReport,
  type TransferItem,
  type TransferRequest,
} from '@shared/domain/transfer';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { formatBytes, formatEta } from '@shared/format';
import { MemorySecretStore } from '../../core/connections/secret-store';
import type { Logger } from '../../core/lib/logger';
import { ModelCatalog, readCatalogFile } from '../../core/workflows/catalog';
import { bundledCatalog } from '../../core/workflows/resources';
import { recordFromBytes } from '../../core/workflows/scan-file';
import { singleServer, type TransferTarget } from '../../core/transfers/ports';
import { TransferService } from '../../core/transfers/transfer-service';
import { collectValues, parseSeconds, type CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { cliLogger, cliPaths } from '../runtime';
import { openServerSession, type ServerFlags } from '../server-session';
import {
  addServerOptions,
  describeTarget,
  parseFingerprint,
  parseRemote,
  parseServerUrl,
  parseSshTarget,
  sessionTargetOf,
  type ServerTargetFlags,
} from '../server-target';
import { openSession, serverFor, serverLabel, waitForServer } from '../session';

interface ModelsFlags extends ServerTargetFlags {
  dataDir?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

interface TransferFlags extends ServerFlags {
  dataDir?: string;
  verbose?: boolean;
}

interface GetFlags extends TransferFlags {
  only: string[];
  url?: string;
  folder?: string;
  name?: string;
}

/** Where the server is, for `models missing` and `models get`. */
export function serverOptions(command: Command): Command {
  return command
    .option('--server <url>', "ComfyUI's address, e.g. http://127.0.0.1:8188", parseServerUrl)
    .option('--ssh <user@host[:port]>', 'reach ComfyUI through an SSH connection to this host', parseSshTarget)
    .option(
      '--key <path>',
      'private key for --ssh (default: the ssh-agent); a passphrase is read from COMFYDESK_SSH_PASSPHRASE',
    )
    .option('--remote <host:port>', 'where ComfyUI listens as seen from the SSH host', parseRemote)
    .option(
      '--accept-host-key <SHA256:…>',
      'trust this host key fingerprint (needed without a terminal)',
      parseFingerprint,
    )
    .option('--timeout <seconds>', 'give up when the server is not online after this long', parseSeconds, 20)
    .option('--data-dir <dir>', "folder for the cached model list and node map (default: the desktop app's)")
    .option('-v, --verbose', 'log debug details to stderr');
}

/**
 * `comfydesk models --server URL` lists installed models; `models missing WORKFLOW` says what the
 * server lacks and where it would come from; `models get` puts it there (on the server itself over
 * SSH, straight into the folder on this machine, or through ComfyUI-Manager).
 */
export function registerModels(program: Command, context: CommandContext): void {
  const models = program
    .command('models')
    .description(
      'list the models on a ComfyUI server (default: the default connection); `models missing` / `models get` for what a workflow lacks',
    );
  addServerOptions(models)
    .option('--data-dir <dir>', "ComfyDesk's data folder, for its default connection (default: the app's)")
    .option('--timeout <seconds>', 'give up if the server does not answer within this many seconds', parseSeconds, 10)
    .option('--json', 'print { server, folders: [{ name, files }] } as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: ModelsFlags) => context.run(flags.json, () => listModels(context.io, flags)));

  serverOptions(
    models
      .command('missing')
      .description('list the models and custom nodes a workflow needs that the server lacks, with their sources')
      .argument('<workflow>', 'the workflow JSON file')
      .option('--json', 'print the report as one JSON object'),
  ).action((file: string, flags: TransferFlags) =>
    context.run(flags.json, () =>
      withTransfers(context.io, flags, (run) => missing(run, resolve(context.io.cwd, file))),
    ),
  );

  serverOptions(
    models
      .command('get')
      .description('put the models a workflow lacks onto the server (or one file with --url); exit 0 when all landed')
      .argument('[workflow]', 'the workflow JSON file')
      .option('--only <name>', 'only this model file (repeatable)', collectValues, [])
      .option('--url <url>', 'one file from this address instead of a workflow')
      .option('--folder <key>', 'with --url: the model folder (checkpoints, loras, vae, …)')
      .option('--name <file>', "with --url: the file name (default: the address's)")
      .option('--json', 'print JSON lines: progress, each file, then the result'),
  ).action((file: string | undefined, flags: GetFlags) =>
    context.run(flags.json, () =>
      withTransfers(context.io, flags, (run) => get(run, file && resolve(context.io.cwd, file), flags)),
    ),
  );
}

/** Installed models by folder, through ComfyDesk (the running owner, or a lean core of this command's own). */
async function listModels(io: CliIo, flags: ModelsFlags): Promise<number> {
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

/** What a command body gets: the service on the one server, the workflow loader and the terminal. */
export interface TransferRun {
  io: CliIo;
  flags: TransferFlags;
  service: TransferService;
  serverId: string;
  serverName: string;
  /** Reads a workflow file and makes it known to the service; answers its id. */
  load(path: string): WorkflowRecord;
  /** The server as transfers reach it (undefined while it is offline). */
  target(): TransferTarget | undefined;
}

/** Opens the server (--server or --ssh) and a transfer service on it for one command; stops both after. */
export async function withTransfers(
  io: CliIo,
  flags: TransferFlags,
  body: (run: TransferRun) => Promise<number>,
): Promise<number> {
  const log: Logger = cliLogger(io, flags.verbose, 'models');
  const paths = cliPaths(io, flags.dataDir && resolve(io.cwd, flags.dataDir));
  const session = await openServerSession(io, flags, log.child('connection'));
  const records = new Map<string, WorkflowRecord>();
  const userCatalog = await readCatalogFile(join(paths.dataDir, 'model-catalog.json'), log);
  const servers = singleServer(session.connection);
  const service = new TransferService({
    servers,
    workflows: { record: (id) => records.get(id) },
    catalog: new ModelCatalog(userCatalog ? [bundledCatalog(), userCatalog] : [bundledCatalog()]),
    settings: { get: () => cliSettings(io, paths.dataDir) },
    secrets: new MemorySecretStore(),
    log: log.child('transfers'),
    dataDir: paths.dataDir,
    env: io.env,
    // A command run keeps nothing but the partial files, which the next run resumes.
    persist: false,
  });
  await service.start();
  try {
    return await body({
      io,
      flags,
      service,
      serverId: session.profile.id,
      serverName: session.profile.name,
      target: () => servers.target(session.profile.id),
      load: (path) => {
        const record = readRecord(path);
        if (record.error) throw new CliError(`${path}: ${record.error.reason}`, { code: 'workflow_invalid' });
        records.set(record.id, record);
        return record;
      },
    });
  } finally {
    await service.stop();
    await session.stop();
  }
}

/** The `transfers` settings of the data folder (when it has a settings file), with environment overrides for its lists. */
function cliSettings(io: CliIo, dataDir: string): Settings {
  let saved: unknown = {};
  try {
    saved = (JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8')) as { transfers?: unknown }).transfers;
  } catch {
    // No settings file: the defaults.
  }
  const transfers = {
    ...(typeof saved === 'object' && saved !== null ? saved : {}),
    ...(io.env.COMFYDESK_MODEL_LIST_URL ? { modelListUrl: io.env.COMFYDESK_MODEL_LIST_URL } : {}),
    ...(io.env.COMFYDESK_NODE_MAP_URL ? { nodeMapUrl: io.env.COMFYDESK_NODE_MAP_URL } : {}),
  };
  const parsed = Settings.safeParse({ transfers });
  return parsed.success ? parsed.data : Settings.parse({});
}

function readRecord(path: string): WorkflowRecord {
  let bytes: Buffer;
  let stats: ReturnType<typeof statSync>;
  try {
    bytes = readFileSync(path);
    stats = statSync(path);
  } catch {
    throw new CliError(`Cannot read ${path}.`, { code: 'not_found' });
  }
  return recordFromBytes(
    { root: dirname(path), path: basename(path), thumbnail: null, sizeBytes: stats.size, modifiedMs: stats.mtimeMs },
    bytes,
  );
}

async function missing(run: TransferRun, path: string): Promise<number> {
  const record = run.load(path);
  const report = await run.service.missing(record.id, run.serverId);
  if (run.flags.json) writeJson(run.io, report);
  else printReport(run.io, report);
  return ExitCode.ok;
}

function printReport(io: CliIo, report: MissingReport): void {
  const out = io.stdout;
  if (report.models.length === 0 && report.packs.length === 0 && report.unresolvedNodeTypes.length === 0) {
    writeLine(
      out,
      `${report.workflowName} is Ready on ${report.serverName}: the server has every model and node type.`,
    );
    return;
  }
  const size =
    report.totalBytes === null ? '' : `, ${report.isTotalComplete ? '' : 'at least '}${formatBytes(report.totalBytes)}`;
  writeLine(
    out,
    `${report.workflowName} on ${report.serverName} needs ${report.models.length} model${report.models.length === 1 ? '' : 's'}${size}` +
      (report.packs.length > 0
        ? ` and ${report.packs.length} custom-node pack${report.packs.length === 1 ? '' : 's'}`
        : ''),
  );
  writeLine(out, report.methodNote);
  for (const model of report.models) {
    writeLine(out);
    writeLine(
      out,
      `  ${model.folder ?? '?'}/${model.name}${model.sizeBytes === undefined ? '' : `  ${formatBytes(model.sizeBytes)}`}`,
    );
    if (model.url) writeLine(out, `    from ${SOURCE_WORDS[model.source]}: ${model.url}`);
    if (model.sha256) writeLine(out, `    sha256 ${model.sha256}`);
    if (model.destinationDir) writeLine(out, `    into ${model.destinationDir}`);
    if (model.problem) writeLine(out, `    ${model.problem}`);
  }
  if (report.packs.length > 0 || report.unresolvedNodeTypes.length > 0) {
    writeLine(out);
    writeLine(out, 'Custom nodes:');
    for (const pack of report.packs)
      writeLine(
        out,
        `  needs ${pack.title} (${pack.nodeTypes.length} node type${pack.nodeTypes.length === 1 ? '' : 's'}: ${pack.nodeTypes.join(', ')})${pack.url ? `  ${pack.url}` : ''}`,
      );
    if (report.unresolvedNodeTypes.length > 0)
      writeLine(out, `  node types no known pack provides: ${report.unresolvedNodeTypes.join(', ')}`);
  }
  for (const command of report.commands) {
    writeLine(out);
    writeLine(out, `${command.title}:`);
    for (const line of command.command.split('\n')) writeLine(out, `  ${line}`);
  }
  if (report.sources.models.problem || report.sources.nodes.problem) {
    writeLine(io.stderr, [report.sources.models.problem, report.sources.nodes.problem].filter(Boolean).join(' '));
  }
}

const SOURCE_WORDS: Record<MissingReport['models'][number]['source'], string> = {
  workflow: 'the workflow',
  note: "the workflow's notes",
  catalog: 'the model catalog',
  user: 'an address you gave before',
  none: 'nowhere',
};

async function get(run: TransferRun, path: string | undefined, flags: GetFlags): Promise<number> {
  let requests: TransferRequest[];
  let workflowId: string | undefined;
  const skipped: Array<{ name: string; reason: string }> = [];
  if (flags.url) {
    if (path) throw new CliError('Give either a workflow or --url, not both.', { exitCode: ExitCode.usage });
    if (!flags.folder)
      throw new CliError('--url needs --folder (checkpoints, loras, vae, …).', { exitCode: ExitCode.usage });
    const probe = await run.service.probeUrl(flags.url);
    if (probe.problem && !probe.needsToken && !flags.name && !probe.fileName)
      throw new CliError(probe.problem, { code: 'invalid_input' });
    const name = flags.name ?? probe.fileName;
    if (!name) throw new CliError('Name the file with --name; the address does not say.', { exitCode: ExitCode.usage });
    requests = [
      { name, folder: flags.folder, url: probe.url, ...(probe.sizeBytes ? { sizeBytes: probe.sizeBytes } : {}) },
    ];
  } else {
    if (!path) throw new CliError('Give a workflow file, or --url with --folder.', { exitCode: ExitCode.usage });
    const record = run.load(path);
    workflowId = record.id;
    const report = await run.service.missing(record.id, run.serverId);
    const wanted = report.models.filter(
      (model) =>
        flags.only.length === 0 || flags.only.includes(model.name) || flags.only.includes(basename(model.name)),
    );
    for (const name of flags.only)
      if (!report.models.some((model) => model.name === name || basename(model.name) === name))
        skipped.push({ name, reason: 'the server already has it, or the workflow does not use it' });
    requests = [];
    for (const model of wanted) {
      if (!model.url || !model.folder || !model.destinationDir || model.method === 'manual') {
        skipped.push({ name: model.name, reason: model.problem ?? report.methodNote });
        continue;
      }
      requests.push({
        name: model.name,
        folder: model.folder,
        url: model.url,
        destinationDir: model.destinationDir,
        ...(model.sha256 ? { sha256: model.sha256 } : {}),
      });
    }
    if (!run.flags.json) {
      for (const pack of report.packs)
        writeLine(
          run.io.stderr,
          `Also needs custom nodes: ${pack.title}${pack.url ? ` (${pack.url})` : ''} — models get does not install them.`,
        );
      for (const command of report.commands) {
        writeLine(run.io.stderr, `${command.title}:`);
        for (const line of command.command.split('\n')) writeLine(run.io.stderr, `  ${line}`);
      }
    }
    if (requests.length === 0 && skipped.length === 0) {
      if (run.flags.json) writeJson(run.io, { type: 'result', ok: true, landed: [], failed: [], skipped: [] });
      else writeLine(run.io.stdout, `${report.workflowName} already has every model on ${run.serverName}.`);
      return report.packs.length + report.unresolvedNodeTypes.length === 0 ? ExitCode.ok : ExitCode.failed;
    }
  }
  for (const item of skipped) {
    if (run.flags.json) writeJson(run.io, { type: 'skipped', ...item });
    else writeLine(run.io.stderr, `Skipped ${item.name}: ${item.reason}`);
  }
  if (requests.length === 0) {
    if (run.flags.json) writeJson(run.io, { type: 'result', ok: false, landed: [], failed: [], skipped });
    return ExitCode.failed;
  }
  const ids = await run.service.enqueue({
    serverId: run.serverId,
    ...(workflowId ? { workflowId } : {}),
    models: requests,
  });
  const items = await follow(run, ids);
  const landed = items.filter((item) => item.state === 'done');
  const failed = items.filter((item) => item.state !== 'done');
  if (run.flags.json) {
    writeJson(run.io, {
      type: 'result',
      ok: failed.length === 0 && skipped.length === 0,
      landed: landed.map((item) => ({ name: item.name, path: item.destination })),
      failed: failed.map((item) => ({ name: item.name, error: item.error })),
      skipped,
    });
  }
  if (items.some((item) => item.state === 'paused' || item.state === 'queued')) return ExitCode.interrupted;
  return failed.length === 0 && skipped.length === 0 ? ExitCode.ok : ExitCode.failed;
}

/** Follows the transfers to their end: a progress line on a terminal, JSON lines otherwise. Ctrl+C pauses them. */
async function follow(run: TransferRun, ids: string[]): Promise<TransferItem[]> {
  const { io, service } = run;
  const json = run.flags.json === true;
  const live = !json && io.stderr.isTTY === true;
  const current = () => service.list().items.filter((item) => ids.includes(item.id));
  const reported = new Set<string>();
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolvePromise) => (finish = resolvePromise));
  const check = () => {
    const items = current();
    for (const item of items) {
      if (!FINISHED_TRANSFER_STATES.has(item.state) || reported.has(item.id)) continue;
      reported.add(item.id);
      if (live) io.stderr.write('\r\u001b[2K');
      if (json)
        writeJson(
          io,
          item.state === 'done'
            ? { type: 'done', name: item.name, path: item.destination }
            : { type: 'failed', name: item.name, error: item.error },
        );
      else if (item.state === 'done') writeLine(io.stdout, `Placed ${item.name} in ${item.destination}`);
      else writeLine(io.stderr, `${item.name}: ${item.error?.userMessage ?? item.state}`);
    }
    if (items.every((item) => FINISHED_TRANSFER_STATES.has(item.state))) finish?.();
  };
  const off = service.on('updated', (delta) => {
    for (const item of delta.items) {
      if (!ids.includes(item.id)) continue;
      if (json && (item.state === 'running' || item.state === 'verifying'))
        writeJson(io, {
          type: 'progress',
          name: item.name,
          state: item.state,
          receivedBytes: item.receivedBytes,
          totalBytes: item.totalBytes,
          bytesPerSecond: item.bytesPerSecond,
          etaSeconds: item.etaSeconds,
        });
    }
    if (live) drawBar(io, current());
    check();
  });
  check();
  try {
    const outcome = await Promise.race([
      finished.then(() => 'done' as const),
      io.interrupted.then(() => 'interrupted' as const),
    ]);
    if (outcome === 'interrupted') {
      // Stopping keeps what arrived (the partial files); the same command resumes from there.
      await service.stop();
      if (live) io.stderr.write('\n');
      writeLine(io.stderr, 'Stopped; run the same command again to resume from what arrived.');
    }
  } finally {
    off();
  }
  return current();
}

/** "[#####-----]  45% · 1.2 GB of 2.6 GB · 35 MB/s · ~40 s left · 1/3 sd15.safetensors" */
function drawBar(io: CliIo, items: TransferItem[]): void {
  const received = items.reduce((sum, item) => sum + item.receivedBytes, 0);
  const knownTotal = items.every((item) => item.totalBytes !== null);
  const total = items.reduce((sum, item) => sum + (item.totalBytes ?? 0), 0);
  const speed = items.reduce((sum, item) => sum + item.bytesPerSecond, 0);
  const running = items.find((item) => item.state === 'running' || item.state === 'verifying');
  const done = items.filter((item) => item.state === 'done').length;
  const fraction = knownTotal && total > 0 ? Math.min(1, received / total) : 0;
  const width = 24;
  const filled = Math.round(fraction * width);
  const parts = [
    `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${knownTotal ? `${String(Math.floor(fraction * 100)).padStart(3)}%` : '  ?%'}`,
    knownTotal ? `${formatBytes(received)} of ${formatBytes(total)}` : formatBytes(received),
  ];
  if (speed > 0) parts.push(`${formatBytes(speed)}/s`);
  const eta = knownTotal && speed > 0 ? formatEta((total - received) / speed) : undefined;
  if (eta) parts.push(eta);
  if (running)
    parts.push(`${done + 1}/${items.length} ${running.state === 'verifying' ? 'checking ' : ''}${running.name}`);
  const line = parts.join(' · ');
  io.stderr.write(`\r\u001b[2K${line.slice(0, Math.max(20, (io.stdout.columns ?? 100) - 1))}`);
}
