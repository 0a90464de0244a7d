import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ServerInventory } from '@shared/domain/inventory';
import type { TransferItem } from '@shared/domain/transfer';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { DownloadAccess } from './download-access';
import { FileDownloader } from './file-downloader';
import type { TransferTarget } from './ports';
import { RemoteDownloader } from './remote-download';
import type { ServerPlan } from './server-plan';
import { sftpFileStore } from './sftp-store';
import { delay, type Entry } from './transfer-queue';

export interface TransferRunnersDeps {
  log: Logger;
  access: DownloadAccess;
  /** Changes a transfer's item (and sends the change). */
  set: (entry: Entry, patch: Partial<TransferItem>) => void;
  plan: (target: TransferTarget) => Promise<ServerPlan>;
  targetOf: (serverId: string) => TransferTarget | undefined;
  fetch?: typeof fetch;
  now?: () => number;
  pollIntervalMs?: number;
  retryDelayMs?: (attempt: number) => number;
  stallTimeoutMs?: number;
  remotePathPrefix?: string;
}

/**
 * How one file or pack gets onto a server, per connection kind: a download to this machine's disk,
 * curl/wget on the SSH server (SFTP through this machine when it has neither), or ComfyUI-Manager.
 * Each runner reports progress through `set` and throws an AppError when it cannot finish.
 */
export class TransferRunners {
  readonly #deps: TransferRunnersDeps;

  constructor(deps: TransferRunnersDeps) {
    this.#deps = deps;
  }

  #progress(entry: Entry) {
    return (progress: {
      receivedBytes: number;
      totalBytes: number | null;
      bytesPerSecond: number;
      etaSeconds: number | null;
    }) =>
      this.#deps.set(entry, {
        receivedBytes: progress.receivedBytes,
        totalBytes: progress.totalBytes ?? entry.item.totalBytes,
        bytesPerSecond: progress.bytesPerSecond,
        etaSeconds: progress.etaSeconds,
      });
  }

  #fileDownloader(logName: string): FileDownloader {
    return new FileDownloader({
      log: this.#deps.log.child(logName),
      fetch: this.#deps.fetch,
      now: this.#deps.now,
      retryDelayMs: this.#deps.retryDelayMs,
      stallTimeoutMs: this.#deps.stallTimeoutMs,
      progressIntervalMs: 100,
      retryHint: 'resume it to continue.',
    });
  }

  /** Onto this machine's disk (a local server). */
  async downloadLocal(entry: Entry, signal: AbortSignal): Promise<void> {
    if (await isFile(entry.item.destination)) return;
    const url = entry.item.url!;
    await this.#fileDownloader('download').download({
      url,
      destination: entry.item.destination,
      ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
      ...(entry.expectedBytes ? { sizeBytes: entry.expectedBytes } : {}),
      headers: this.#deps.access.headersFor(url),
      provider: this.#deps.access.providerOf(url),
      signal,
      onProgress: this.#progress(entry),
    });
  }

  /** Onto an SSH server: curl or wget there, or SFTP through this machine when it has neither. */
  async downloadRemote(entry: Entry, target: TransferTarget, plan: ServerPlan, signal: AbortSignal): Promise<void> {
    const shell = target.shell;
    if (!shell) throw new AppError('tunnel_dropped', `The SSH connection to ${plan.host} is down.`);
    const url = entry.item.url!;
    const request = {
      url,
      destination: entry.item.destination,
      ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
      ...(entry.expectedBytes ? { sizeBytes: entry.expectedBytes } : {}),
      headers: this.#deps.access.headersFor(url),
      provider: this.#deps.access.providerOf(url),
      signal,
      onProgress: this.#progress(entry),
    };
    if (plan.tools?.downloader) {
      if (entry.item.method !== 'ssh') this.#deps.set(entry, { method: 'ssh', note: null });
      const downloader = this.remoteDownloader(target, plan);
      await downloader.download({ ...request, onVerifying: () => this.#deps.set(entry, { state: 'verifying' }) });
      return;
    }
    this.#deps.set(entry, { method: 'sftp', note: plan.note });
    const sftp = await shell.sftp();
    try {
      const downloader = new FileDownloader({
        log: this.#deps.log.child('sftp'),
        fetch: this.#deps.fetch,
        now: this.#deps.now,
        retryDelayMs: this.#deps.retryDelayMs,
        stallTimeoutMs: this.#deps.stallTimeoutMs,
        progressIntervalMs: 100,
        store: sftpFileStore(shell, sftp, this.#deps.remotePathPrefix),
        retryHint: 'resume it to continue.',
      });
      await downloader.download(request);
    } finally {
      sftp.end();
    }
  }

  remoteDownloader(target: TransferTarget, plan: ServerPlan): RemoteDownloader {
    return new RemoteDownloader({
      shell: target.shell!,
      tools: plan.tools!,
      host: plan.host,
      log: this.#deps.log.child('remote'),
      pathPrefix: this.#deps.remotePathPrefix,
      pollIntervalMs: this.#deps.pollIntervalMs,
      retryDelayMs: this.#deps.retryDelayMs,
      now: this.#deps.now,
    });
  }

  /** ComfyUI-Manager downloads a file of its model list on the server; it counts once the folder lists it. */
  async managerModel(entry: Entry, target: TransferTarget, plan: ServerPlan, signal: AbortSignal): Promise<void> {
    const manager = plan.manager;
    if (!manager || !entry.managerEntry)
      throw new AppError('transfer_unsupported', 'ComfyUI-Manager is no longer on this server.');
    this.#deps.set(entry, {
      note: 'ComfyUI-Manager downloads it on the server; it reports no progress until it is done.',
    });
    await manager.installModel(entry.managerEntry, entry.item.id);
    await manager.startQueue();
    await this.#waitForManager(manager, signal);
    const folder = entry.item.folder!;
    const files = await target.client.listModels(folder).catch(() => [] as string[]);
    const name = entry.item.name.replaceAll('\\', '/');
    if (
      !files.some(
        (file) => file.replaceAll('\\', '/') === name || file.replaceAll('\\', '/').endsWith(`/${basename(name)}`),
      )
    )
      throw new AppError(
        'manager_failed',
        `ComfyUI-Manager finished, but ${entry.item.name} is not in the server's ${folder} folder. The server's log says why.`,
      );
    this.#deps.set(entry, { note: null });
  }

  /**
   * ComfyUI-Manager installs a pack; answers the server's lists when `object_info` already lists its
   * nodes, or undefined when ComfyUI must restart first (the entry then waits for that).
   */
  async installPack(
    entry: Entry,
    target: TransferTarget,
    plan: ServerPlan,
    signal: AbortSignal,
  ): Promise<ServerInventory | undefined> {
    const manager = plan.manager;
    if (!manager || !entry.pack)
      throw new AppError('transfer_unsupported', 'ComfyUI-Manager is no longer on this server.');
    this.#deps.set(entry, { note: 'ComfyUI-Manager is installing it on the server…' });
    await manager.installPack(entry.pack, entry.item.id);
    await manager.startQueue();
    await this.#waitForManager(manager, signal);
    const inventory = await target.refreshInventory();
    if (entry.pack.nodeTypes.every((type) => inventory.nodeTypes.includes(type)) && entry.pack.nodeTypes.length > 0)
      return inventory;
    // Installed, but ComfyUI loads custom nodes only at start: never claim it before object_info lists them.
    entry.awaitingRestart = true;
    this.#deps.set(entry, {
      state: 'waiting',
      note: 'ComfyUI-Manager installed it. Restart ComfyUI to load it; it counts as installed once the server lists its nodes.',
      error: null,
    });
    return undefined;
  }

  async #waitForManager(manager: NonNullable<ServerPlan['manager']>, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) {
        await manager.resetQueue().catch(() => undefined);
        throw new AppError('cancelled', 'Stopped.');
      }
      const status = await manager.status();
      if (!status.isProcessing && status.inProgress === 0 && status.done >= status.total) return;
      await delay(this.#deps.pollIntervalMs ?? 1000, signal);
    }
  }

  /** Deletes what a cancelled download left (its partial file), wherever it was going. */
  async discard(entry: Entry): Promise<void> {
    if (entry.item.kind !== 'model') return;
    try {
      if (entry.item.method === 'local') {
        await FileDownloader.discardPartial(entry.item.destination);
        return;
      }
      const target = this.#deps.targetOf(entry.item.serverId);
      if (!target?.shell) return;
      const plan = await this.#deps.plan(target);
      if (entry.item.method === 'ssh' && plan.tools?.downloader) {
        await this.remoteDownloader(target, plan).discard(entry.item.destination);
      } else if (entry.item.method === 'sftp') {
        const sftp = await target.shell.sftp();
        try {
          await new FileDownloader({
            log: this.#deps.log,
            store: sftpFileStore(target.shell, sftp, this.#deps.remotePathPrefix),
          }).discard(entry.item.destination);
        } finally {
          sftp.end();
        }
      } else if (entry.item.method === 'manager') {
        await plan.manager?.resetQueue();
      }
    } catch (error) {
      this.#deps.log.warn('partial file not deleted', { id: entry.item.id, error });
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
