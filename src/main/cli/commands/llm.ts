import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DownloadFinished } from '@shared/contract/llm';
import type { DownloadProgress, LlmModel } from '@shared/domain/llm';
import { formatBytes, formatEta } from '@shared/format';
import { ownerKind } from '../../core/app/owner-lock';
import { ApiError, type ApiClient } from '../contract-client';
import type { CommandContext } from '../command';
import { ExitCode, stoppedCode, writeJson, writeLine, writeText, type CliIo } from '../io';
import { openSession, type Session } from '../session';

interface LlmFlags {
  dataDir?: string;
  modelsDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk llm list|download|remove`: the local models, e.g. fetched onto a pod's network volume. */
export function registerLlm(program: Command, context: CommandContext): void {
  const llm = program.command('llm').description('manage the local models used for prompt enhancement');
  const common = (command: Command) =>
    command
      .option('--data-dir <dir>', "folder for settings and models (default: the desktop app's)")
      .option(
        '--models-dir <dir>',
        'keep models in this folder from now on (saved in settings; e.g. a network volume on a GPU pod)',
      )
      .option('-v, --verbose', 'log debug details to stderr');

  common(
    llm
      .command('list')
      .description('list the catalog and GGUF files, and which are installed')
      .option('--json', 'print the list as JSON'),
  ).action((flags: LlmFlags) =>
    context.run(flags.json, () =>
      withCore(context.io, 'llm list', flags, (session) => list(context.io, session.api, flags)),
    ),
  );

  common(
    llm
      .command('download')
      .description('download a catalog model (resumes an interrupted download; checks its SHA-256)')
      .argument('<id>', 'catalog model id (see "comfydesk llm list")')
      .option('--json', 'print JSON lines: progress, then the result'),
  ).action((id: string, flags: LlmFlags) =>
    context.run(flags.json, () =>
      withCore(context.io, 'llm download', flags, (session) => download(context.io, session, id, flags)),
    ),
  );

  common(
    llm
      .command('remove')
      .description('delete a downloaded catalog model')
      .argument('<id>', 'catalog model id')
      .option('--json', 'print the remaining list as JSON'),
  ).action((id: string, flags: LlmFlags) =>
    context.run(flags.json, () =>
      withCore(context.io, 'llm remove', flags, async ({ api }) => {
        const remaining = await api.call('llm.remove', { modelId: id });
        if (flags.json) writeJson(context.io, remaining);
        else writeLine(context.io.stdout, `Removed ${id}.`);
        return ExitCode.ok;
      }),
    ),
  );
}

async function withCore(
  cli: CliIo,
  command: string,
  flags: LlmFlags,
  body: (session: Session) => Promise<number>,
): Promise<number> {
  const session = await openSession(cli, {
    command,
    dataDir: flags.dataDir && resolve(cli.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
  });
  try {
    if (flags.modelsDir)
      await session.api.call('settings.update', { llm: { modelsDir: resolve(cli.cwd, flags.modelsDir) } });
    return await body(session);
  } finally {
    await session.close();
  }
}

async function list(cli: CliIo, api: ApiClient, flags: LlmFlags): Promise<number> {
  const models = await api.call('llm.models', {});
  if (flags.json) {
    writeJson(cli, models);
    return ExitCode.ok;
  }
  writeLine(
    cli.stdout,
    `Models folder: ${models.modelsDir}${models.freeBytes === null ? '' : ` (${formatBytes(models.freeBytes)} free)`}`,
  );
  const rows = models.models.map((model) => [
    model.isSelected ? '*' : ' ',
    model.id,
    stateLabel(model),
    model.sizeBytes === null ? '' : formatBytes(model.sizeBytes),
    model.source === 'catalog' ? model.name : '',
  ]);
  const widths = [1, 2, 3, 4].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows)
    writeLine(cli.stdout, [row[0], ...widths.map((width, index) => row[index + 1]!.padEnd(width))].join(' ').trimEnd());
  return ExitCode.ok;
}

function stateLabel(model: LlmModel): string {
  if (model.state === 'downloading' && model.download?.totalBytes)
    return `downloading ${Math.floor((model.download.receivedBytes / model.download.totalBytes) * 100)}%`;
  return model.state.replace('_', ' ');
}

async function download(cli: CliIo, session: Session, id: string, flags: LlmFlags): Promise<number> {
  const { api } = session;
  const before = (await api.call('llm.models', {})).models.find((model) => model.id === id);
  if (before?.state === 'installed' || before?.state === 'loaded') {
    if (flags.json) writeJson(cli, { type: 'done', modelId: id, path: before.path, alreadyInstalled: true });
    else writeLine(cli.stdout, `${before.name} is already installed: ${before.path}`);
    return ExitCode.ok;
  }
  const live = !flags.json && cli.stderr.isTTY === true;
  let downloadId: string | undefined;
  let finish: ((finished: DownloadFinished) => void) | undefined;
  const done = new Promise<DownloadFinished>((resolvePromise) => (finish = resolvePromise));
  const offProgress = api.on('llm.downloadProgress', (event) => {
    if (event.downloadId !== downloadId) return;
    if (flags.json) writeJson(cli, { type: 'progress', modelId: event.modelId, ...event.progress });
    else if (live) writeText(cli.stderr, `\r${progressLine(event.progress)}\x1b[K`);
  });
  const offFinished = api.on('llm.downloadFinished', (event) => {
    if (event.downloadId === downloadId) finish?.(event);
  });
  try {
    ({ downloadId } = await api.call('llm.download', { modelId: id }));
    if (!flags.json)
      writeLine(
        cli.stderr,
        `Downloading ${before?.name ?? id} (${before?.sizeBytes ? formatBytes(before.sizeBytes) : 'size unknown'}) into ${before ? before.path : 'the models folder'}…`,
      );
    const result = await Promise.race([done, cli.interrupted.then((reason) => ({ stopped: reason }))]);
    if (live) writeText(cli.stderr, '\n');
    if ('stopped' in result) {
      // Stopping our own core stops the download but keeps what arrived: the same command resumes it.
      // Another process that owns the data folder goes on downloading.
      writeLine(
        cli.stderr,
        session.owner
          ? `The download goes on in ComfyDesk (pid ${session.owner.pid}, ${ownerKind(session.owner)}).`
          : 'Download paused; run the same command again to resume it.',
      );
      return stoppedCode(result.stopped);
    }
    if (!result.ok) throw new ApiError(result.error);
    if (flags.json) writeJson(cli, { type: 'done', modelId: id, path: result.path, alreadyInstalled: false });
    else writeLine(cli.stdout, `Installed ${id}: ${result.path}`);
    return ExitCode.ok;
  } finally {
    offProgress();
    offFinished();
  }
}

/** "45% · 512 MB of 1.0 GB · 12 MB/s · ~1 min 5 s left" */
function progressLine(progress: DownloadProgress): string {
  const { receivedBytes, totalBytes, bytesPerSecond, etaSeconds } = progress;
  const parts = [
    totalBytes ? `${Math.floor((receivedBytes / totalBytes) * 100)}%` : '',
    totalBytes ? `${formatBytes(receivedBytes)} of ${formatBytes(totalBytes)}` : formatBytes(receivedBytes),
  ];
  if (bytesPerSecond > 0) parts.push(`${formatBytes(bytesPerSecond)}/s`);
  if (etaSeconds !== null && etaSeconds > 0) parts.push(formatEta(etaSeconds) ?? '');
  return parts.filter(Boolean).join(' · ');
}
