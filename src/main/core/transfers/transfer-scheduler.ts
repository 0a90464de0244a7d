import type { SerializedError } from '@shared/contract/errors';
import type { ServerInventory } from '@shared/domain/inventory';
import type { Settings } from '@shared/domain/settings';
import { FINISHED_TRANSFER_STATES } from '@shared/domain/transfer';
import type { NoticeCenter } from '../app/notice-center';
import type { Unsubscribe } from '../lib/emitter';
import { AppError, serializeError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ModelCatalog } from '../workflows/catalog';
import { checkCompatibility, prepareInventory } from '../workflows/compatibility';
import type { TransferServers, TransferTarget, TransferWorkflows } from './ports';
import type { ServerPlan } from './server-plan';
import { delay, type Entry, type TransferQueue } from './transfer-queue';
import type { TransferRunners } from './transfer-runners';

/** A workflow's files all landed and the server now has everything it needs. */
export interface ReadyEvent {
  workflowId: string;
  workflowName: string;
  serverId: string;
  serverName: string;
}

const WAITING_CODES = new Set(['tunnel_dropped', 'comfy_offline', 'comfy_unreachable', 'comfy_timeout']);

export interface TransferSchedulerDeps {
  servers: TransferServers;
  workflows: TransferWorkflows;
  catalog: ModelCatalog;
  settings: { get(): Settings };
  log: Logger;
  notices?: NoticeCenter;
  queue: TransferQueue;
  runners: TransferRunners;
  plan: (target: TransferTarget) => Promise<ServerPlan>;
  /** Drops a server's cached plan (it changed or dropped). */
  forgetPlan: (serverId: string) => void;
  now: () => number;
  pollIntervalMs?: number;
  onReady: (event: ReadyEvent) => void;
}

/**
 * Runs the queue: as many transfers per server as the settings allow, each by its connection kind's
 * runner; transfers of a server that is away wait and resume when it is back. When files land, the
 * server's lists are read again and workflows that are now complete are announced Ready; a pack counts
 * as installed only once `object_info` lists its node types.
 */
export class TransferScheduler {
  readonly #deps: TransferSchedulerDeps;
  #offServers: Unsubscribe | undefined;
  #started = false;
  #stopping = false;
  /** Aborted at stop: background waits end with it. */
  #lifetime = new AbortController();

  constructor(deps: TransferSchedulerDeps) {
    this.#deps = deps;
  }

  /** Loads the saved transfers and resumes the unfinished ones as their servers come online. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    this.#lifetime = new AbortController();
    await this.#deps.queue.load();
    this.#offServers = this.#deps.servers.onChange((serverId) => this.#serverChanged(serverId));
    this.schedule();
  }

  /** Stops every running transfer, keeping what arrived, and saves the list so the next start resumes. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#stopping = true;
    this.#lifetime.abort();
    this.#offServers?.();
    const runs: Array<Promise<void>> = [];
    for (const entry of this.#deps.queue.entries.values()) {
      if (entry.controller) {
        entry.controller.abort('stop');
        if (entry.run) runs.push(entry.run);
      }
    }
    await Promise.allSettled(runs);
    await this.#deps.queue.close();
    this.#started = false;
  }

  /**
   * After a restart, reads the server's lists again until the packs waiting for it show up (or two
   * minutes pass): only `object_info` listing their node types makes them installed.
   */
  async watchRestart(serverId: string): Promise<void> {
    const deadline = this.#deps.now() + 120_000;
    const waiting = () =>
      [...this.#deps.queue.entries.values()].some((entry) => entry.item.serverId === serverId && entry.awaitingRestart);
    while (waiting() && this.#deps.now() < deadline && !this.#stopping) {
      await delay(this.#deps.pollIntervalMs ?? 1000, this.#lifetime.signal);
      const target = this.#deps.servers.target(serverId);
      if (!target) continue;
      try {
        await target.refreshInventory();
        this.#serverChanged(serverId);
      } catch (error) {
        this.#deps.log.debug('server not back yet after its restart', { serverId, error });
      }
    }
  }

  #serverChanged(serverId: string): void {
    if (this.#stopping) return;
    this.#deps.forgetPlan(serverId);
    const target = this.#deps.servers.target(serverId);
    const inventory = target?.inventory();
    if (inventory) {
      for (const entry of this.#deps.queue.entries.values()) {
        if (entry.item.serverId !== serverId || !entry.awaitingRestart || !entry.pack) continue;
        if (entry.pack.nodeTypes.every((type) => inventory.nodeTypes.includes(type))) {
          entry.awaitingRestart = false;
          this.#deps.queue.set(entry, { state: 'done', note: null, finishedAt: this.#deps.now() });
          this.#announce(entry, serverId, inventory);
        }
      }
    }
    this.schedule();
  }

  /** Starts what may run now; marks transfers of unreachable servers as waiting. */
  schedule(): void {
    if (!this.#started || this.#stopping) return;
    const parallel = this.#deps.settings.get().transfers.parallelPerServer;
    const byServer = new Map<string, Entry[]>();
    for (const entry of this.#deps.queue.entries.values()) {
      const list = byServer.get(entry.item.serverId) ?? [];
      list.push(entry);
      byServer.set(entry.item.serverId, list);
    }
    for (const [serverId, entries] of byServer) {
      const target = this.#deps.servers.target(serverId);
      const pending = entries
        .filter((entry) => (entry.item.state === 'queued' || entry.item.state === 'waiting') && !entry.awaitingRestart)
        .sort((a, b) => a.item.createdAt - b.item.createdAt);
      if (!target) {
        const profile = this.#deps.servers.profile(serverId);
        for (const entry of pending) {
          if (entry.item.state === 'waiting') continue;
          this.#deps.queue.set(entry, {
            state: 'waiting',
            bytesPerSecond: 0,
            etaSeconds: null,
            error: {
              code: profile?.kind === 'ssh' ? 'tunnel_dropped' : 'comfy_offline',
              userMessage: profile
                ? `Waiting for ${profile.name} to come back online; it resumes by itself.`
                : 'Its connection no longer exists; cancel it.',
            },
          });
        }
        continue;
      }
      let running = entries.filter((entry) => entry.controller).length;
      for (const entry of pending) {
        if (running >= parallel) break;
        running += 1;
        this.#begin(entry, target);
      }
    }
  }

  #begin(entry: Entry, target: TransferTarget): void {
    const controller = new AbortController();
    entry.controller = controller;
    this.#deps.queue.set(entry, { state: 'running', error: null, bytesPerSecond: 0, etaSeconds: null });
    entry.run = this.#run(entry, target, controller.signal).finally(() => {
      entry.controller = undefined;
      entry.run = undefined;
      this.#deps.queue.scheduleSave();
      this.schedule();
    });
  }

  async #run(entry: Entry, target: TransferTarget, signal: AbortSignal): Promise<void> {
    try {
      const plan = await this.#deps.plan(target);
      if (entry.item.kind === 'pack') {
        const inventory = await this.#deps.runners.installPack(entry, target, plan, signal);
        if (inventory) {
          this.#deps.queue.set(entry, { state: 'done', note: null, finishedAt: this.#deps.now() });
          this.#announce(entry, target.id, inventory);
        }
        return;
      }
      if (entry.item.method === 'manager') await this.#deps.runners.managerModel(entry, target, plan, signal);
      else if (entry.item.method === 'local') await this.#deps.runners.downloadLocal(entry, signal);
      else if (entry.item.method === 'ssh' || entry.item.method === 'sftp')
        await this.#deps.runners.downloadRemote(entry, target, plan, signal);
      else throw new AppError('transfer_unsupported', 'This server takes no downloads from ComfyDesk.');
      this.#deps.queue.set(entry, {
        state: 'done',
        bytesPerSecond: 0,
        etaSeconds: 0,
        finishedAt: this.#deps.now(),
        ...(entry.item.totalBytes === null ? { totalBytes: entry.item.receivedBytes } : {}),
      });
      this.#deps.log.info('file placed on the server', {
        server: target.id,
        path: entry.item.destination,
        method: entry.item.method,
      });
      await this.#landed(entry, target);
    } catch (error) {
      await this.#ended(entry, error, signal);
    }
  }

  async #ended(entry: Entry, error: unknown, signal: AbortSignal): Promise<void> {
    const reason: unknown = signal.reason;
    if (reason === 'pause') {
      this.#deps.queue.set(entry, { state: 'paused', bytesPerSecond: 0, etaSeconds: null });
      return;
    }
    if (reason === 'cancel') {
      await this.#deps.runners.discard(entry);
      this.#deps.queue.set(entry, {
        state: 'cancelled',
        bytesPerSecond: 0,
        etaSeconds: null,
        finishedAt: this.#deps.now(),
      });
      return;
    }
    if (reason === 'stop') {
      // Resumes at the next start, from what arrived.
      this.#deps.queue.set(entry, { state: 'queued', bytesPerSecond: 0, etaSeconds: null });
      return;
    }
    const serialized: SerializedError = serializeError(error, this.#deps.log);
    if (WAITING_CODES.has(serialized.code)) {
      this.#deps.queue.set(entry, {
        state: 'waiting',
        bytesPerSecond: 0,
        etaSeconds: null,
        error: {
          ...serialized,
          userMessage: `${serialized.userMessage.replace(/\s*$/, '')} It resumes by itself when the connection is back.`,
        },
      });
      this.#deps.forgetPlan(entry.item.serverId);
      return;
    }
    this.#deps.log.warn('transfer failed', { id: entry.item.id, code: serialized.code });
    this.#deps.queue.set(entry, {
      state: 'failed',
      bytesPerSecond: 0,
      etaSeconds: null,
      error: serialized,
      finishedAt: this.#deps.now(),
    });
  }

  /** After a file landed: the server's lists are read again, and workflows it completes are announced Ready. */
  async #landed(entry: Entry, target: TransferTarget): Promise<void> {
    let inventory: ServerInventory;
    try {
      inventory = await target.refreshInventory();
    } catch (error) {
      this.#deps.log.warn('server lists not re-read after a download', { server: target.id, error });
      return;
    }
    this.#announce(entry, target.id, inventory);
  }

  #announce(entry: Entry, serverId: string, inventory: ServerInventory): void {
    for (const workflowId of entry.item.workflowIds) {
      const others = [...this.#deps.queue.entries.values()].filter(
        (other) => other.item.serverId === serverId && other.item.workflowIds.includes(workflowId),
      );
      if (others.some((other) => !FINISHED_TRANSFER_STATES.has(other.item.state))) continue;
      const record = this.#deps.workflows.record(workflowId);
      if (!record) continue;
      const compat = checkCompatibility(record, {
        inventory: prepareInventory(inventory),
        catalog: this.#deps.catalog,
      });
      const serverName = entry.item.serverName;
      if (compat.status === 'ready' || compat.status === 'update') {
        this.#deps.notices?.raise('success', `${record.name} is Ready on ${serverName}.`);
        this.#deps.onReady({ workflowId, workflowName: record.name, serverId, serverName });
      } else if (others.every((other) => other.item.state === 'done')) {
        const left = compat.missing.length + compat.unknownNodeTypes.length;
        this.#deps.notices?.raise(
          'info',
          `The files for ${record.name} are on ${serverName}; it still needs ${left} more thing${left === 1 ? '' : 's'} (see Get missing).`,
        );
      }
    }
  }
}
