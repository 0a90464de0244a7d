import { join } from 'node:path';
import type { Settings } from '@shared/domain/settings';
import {
  FINISHED_TRANSFER_STATES,
  type MissingReport,
  type NodePack,
  type SourcesStatus,
  type TokenProvider,
  type TokenStatus,
  type TransferItem,
  type TransferRequest,
  type TransfersDelta,
  type TransfersSnapshot,
  type UrlProbe,
} from '@shared/domain/transfer';
import type { NoticeCenter } from '../app/notice-center';
import type { SecretStore } from '../connections/secret-store';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ModelCatalog } from '../workflows/catalog';
import { checkCompatibility, prepareInventory } from '../workflows/compatibility';
import { CachedList } from './cached-list';
import { missingReport } from './describe-missing';
import { DownloadAccess } from './download-access';
import { normalizeDownloadUrl } from './http-answers';
import { ModelList } from './model-list';
import { groupByPack, NodeMap } from './node-map';
import type { TransferServers, TransferTarget, TransferWorkflows } from './ports';
import { planFor, type ServerPlan } from './server-plan';
import { managerEntryFor, modelEntry, packEntry, pickPack, placeRequest } from './transfer-entries';
import { sourceKey, TransferQueue, type Entry } from './transfer-queue';
import { TransferRunners } from './transfer-runners';
import { TransferScheduler, type ReadyEvent } from './transfer-scheduler';
import { hintsOfRecord, type WorkflowHints } from './workflow-hints';

/** What the transfer service tells the core. */
export interface TransferEvents {
  /** Changed and removed items, at most every `eventIntervalMs`. */
  updated: TransfersDelta;
  /** A workflow's files all landed and the server now has everything it needs. */
  ready: ReadyEvent;
}

/** What the service is built from; tests pass local servers, a short poll and no persistence. */
export interface TransferServiceDeps {
  servers: TransferServers;
  workflows: TransferWorkflows;
  /** ComfyDesk's own model catalog (bundled + the user's). */
  catalog: ModelCatalog;
  settings: { get(): Settings };
  secrets: SecretStore;
  log: Logger;
  /** The data folder: `transfers.json` and the cached public lists live there. */
  dataDir: string;
  notices?: NoticeCenter;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Tokens from the environment (`HF_TOKEN`, `CIVITAI_TOKEN`) and a Hugging Face mirror (`HF_ENDPOINT`). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default Date.now */
  now?: () => number;
  /** Keep transfers in `transfers.json` so a restart resumes them. @default true */
  persist?: boolean;
  /** Least time between two `updated` events. @default 100 (≤ 10 a second) */
  eventIntervalMs?: number;
  /** How often a server-side download's size and ComfyUI-Manager's queue are read. @default 1000 */
  pollIntervalMs?: number;
  /** Pause before a retry after an interrupted download. @default backoff 0.5–8 s */
  retryDelayMs?: (attempt: number) => number;
  /** A download that receives nothing for this long is resumed. @default 30000 */
  stallTimeoutMs?: number;
  /** Prepended to the SSH server's PATH for our commands (tests hide curl and wget with it). */
  remotePathPrefix?: string;
}

const PLAN_TTL_MS = 60_000;

/**
 * Missing to Ready: works out what a workflow needs on a server and puts it there — one "put this
 * file on that server" interface with a strategy per connection kind (this machine's disk, a
 * download on the SSH server, SFTP through this machine, ComfyUI-Manager), destinations always from
 * the server. Transfers pause, resume (also after a restart) and cancel; progress goes out as
 * coalesced `updated` events; when the files land, the server's lists are re-read and the workflow
 * is announced Ready.
 */
export class TransferService {
  readonly #deps: TransferServiceDeps;
  readonly #emitter: Emitter<TransferEvents>;
  readonly #queue: TransferQueue;
  readonly #access: DownloadAccess;
  readonly #runners: TransferRunners;
  readonly #plans = new Map<string, { at: number; plan: Promise<ServerPlan> }>();
  readonly #modelList: CachedList<ModelList>;
  readonly #nodeMap: CachedList<NodeMap>;
  readonly #scheduler: TransferScheduler;

  constructor(deps: TransferServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
    const now = () => this.#now();
    this.#queue = new TransferQueue({
      log: deps.log,
      dataDir: deps.dataDir,
      now,
      emit: (delta) => this.#emitter.emit('updated', delta),
      persist: deps.persist,
      eventIntervalMs: deps.eventIntervalMs,
    });
    this.#access = new DownloadAccess({ secrets: deps.secrets, log: deps.log, now, fetch: deps.fetch, env: deps.env });
    this.#runners = new TransferRunners({
      log: deps.log,
      access: this.#access,
      set: (entry, patch) => this.#set(entry, patch),
      plan: (target) => this.#plan(target),
      targetOf: (serverId) => deps.servers.target(serverId),
      fetch: deps.fetch,
      now: deps.now,
      pollIntervalMs: deps.pollIntervalMs,
      retryDelayMs: deps.retryDelayMs,
      stallTimeoutMs: deps.stallTimeoutMs,
      remotePathPrefix: deps.remotePathPrefix,
    });
    this.#scheduler = new TransferScheduler({
      servers: deps.servers,
      workflows: deps.workflows,
      catalog: deps.catalog,
      settings: deps.settings,
      log: deps.log,
      notices: deps.notices,
      queue: this.#queue,
      runners: this.#runners,
      plan: (target) => this.#plan(target),
      forgetPlan: (serverId) => this.#plans.delete(serverId),
      now,
      pollIntervalMs: deps.pollIntervalMs,
      onReady: (event) => this.#emitter.emit('ready', event),
    });
    const cacheDir = join(deps.dataDir, 'cache');
    this.#modelList = new CachedList({
      url: () => deps.settings.get().transfers.modelListUrl,
      cacheFile: join(cacheDir, 'model-list.json'),
      parse: (raw) => ModelList.parse(raw),
      count: (list) => list.size,
      fetch: deps.fetch,
      now: deps.now,
      log: deps.log.child('model-list'),
    });
    this.#nodeMap = new CachedList({
      url: () => deps.settings.get().transfers.nodeMapUrl,
      cacheFile: join(cacheDir, 'extension-node-map.json'),
      parse: (raw) => NodeMap.parse(raw),
      count: (map) => map.size,
      fetch: deps.fetch,
      now: deps.now,
      log: deps.log.child('node-map'),
    });
  }

  on<K extends keyof TransferEvents>(name: K, listener: (payload: TransferEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** Loads the saved transfers and resumes the unfinished ones as their servers come online. */
  async start(): Promise<void> {
    await this.#scheduler.start();
  }

  /** Stops every running transfer, keeping what arrived, and saves the list so the next start resumes. */
  async stop(): Promise<void> {
    await this.#scheduler.stop();
  }

  // ---- what is missing ----

  /** What one workflow lacks on one server, with sources, sizes, destinations, packs and commands. */
  async missing(workflowId: string, serverId?: string): Promise<MissingReport> {
    const record = this.#record(workflowId);
    const target = this.#target(serverId);
    const plan = await this.#plan(target);
    const inventory = target.inventory() ?? (await target.refreshInventory());
    const compat = checkCompatibility(record, {
      inventory: prepareInventory(inventory),
      catalog: this.#deps.catalog,
    });
    const [hints, modelList, publicMap, managerMap] = await Promise.all([
      this.#hints(workflowId),
      this.#modelList.get(),
      this.#nodeMap.get(),
      plan.manager?.nodeMap().catch(() => undefined),
    ]);
    return missingReport({
      workflowId,
      workflowName: record.name,
      compat,
      publicMap,
      managerMap,
      sources: this.sources(),
      describe: {
        target,
        plan,
        hints,
        modelList,
        catalog: this.#deps.catalog,
        access: this.#access,
        userSources: this.#queue.userSources,
        entries: this.#queue.entries.values(),
      },
    });
  }

  /** Packs for node types from the public map (cards show "needs ComfyUI-KJNodes"). */
  async packsFor(nodeTypes: readonly string[]): Promise<{ packs: NodePack[]; unresolved: string[] }> {
    const map = await this.#nodeMap.get();
    return groupByPack(nodeTypes, map ? [{ map, source: 'node-map' }] : []);
  }

  /** Checks a pasted address: its download form, name, size, and whether it needs a token. */
  async probeUrl(input: string): Promise<UrlProbe> {
    const normalized = normalizeDownloadUrl(input);
    if (normalized.problem)
      return { url: normalized.url, fileName: null, sizeBytes: null, problem: normalized.problem };
    const probe = await this.#access.probe(normalized.url, true);
    const provider = this.#access.providerOf(normalized.url);
    if (!probe)
      return {
        url: normalized.url,
        fileName: null,
        sizeBytes: null,
        problem: 'ComfyDesk could not reach that address from here; it may still work from the server.',
      };
    const base = { url: normalized.url, fileName: probe.fileName, sizeBytes: probe.sizeBytes };
    if ((probe.status === 401 || probe.status === 403) && provider && !this.#access.token(provider))
      return { ...base, needsToken: provider, problem: 'This file needs your access token.' };
    if (!(probe.status >= 200 && probe.status < 400))
      return { ...base, problem: `The address answered ${probe.status}; it is not a file ComfyDesk can download.` };
    if (/text\/html/i.test(probe.contentType ?? ''))
      return { ...base, problem: 'The address gives a web page, not a file. Copy the download link instead.' };
    return base;
  }

  // ---- transfers ----

  list(): TransfersSnapshot {
    return { items: [...this.#queue.entries.values()].map((entry) => entry.item) };
  }

  /** Starts putting files on a server; a file already on its way is joined. Answers one id per file. */
  async enqueue(input: { serverId?: string; workflowId?: string; models: TransferRequest[] }): Promise<string[]> {
    const target = this.#target(input.serverId);
    const plan = await this.#plan(target);
    if (input.workflowId) this.#record(input.workflowId);
    const modelList = plan.method === 'manager' ? await this.#modelList.get() : undefined;
    const ids: string[] = [];
    const created: Entry[] = [];
    for (const request of input.models) {
      const { url, dir, destination } = placeRequest(target, plan, request);
      const existing = [...this.#queue.entries.values()].find(
        (entry) =>
          entry.item.serverId === target.id &&
          entry.item.destination === destination &&
          !FINISHED_TRANSFER_STATES.has(entry.item.state),
      );
      if (existing) {
        this.#addWorkflow(existing, input.workflowId);
        ids.push(existing.item.id);
        continue;
      }
      const managerEntry = managerEntryFor(target, plan, request, { url, dir, modelList });
      // The exact size, when this machine could ask (it checks free space, shows progress and verifies the file).
      const probe = request.sizeBytes === undefined ? await this.#access.probe(url) : undefined;
      const sizeBytes =
        request.sizeBytes ??
        (probe && probe.status >= 200 && probe.status < 300 ? (probe.sizeBytes ?? undefined) : undefined);
      const entry = modelEntry({
        target,
        plan,
        request,
        url,
        destination,
        sizeBytes,
        managerEntry,
        workflowId: input.workflowId,
        now: this.#now(),
      });
      created.push(entry);
      ids.push(entry.item.id);
      this.#queue.userSources.set(sourceKey(request.folder, request.name), url);
    }
    for (const entry of created) {
      this.#queue.add(entry);
    }
    this.#queue.scheduleSave();
    this.#scheduler.schedule();
    return ids;
  }

  /** Installs a pack through ComfyUI-Manager on the server. */
  async installPack(input: {
    serverId?: string;
    packId: string;
    workflowId?: string;
    /** The node types it adds, when the caller knows them (a snapshot): it counts once object_info lists them. */
    nodeTypes?: string[];
  }): Promise<TransferItem> {
    const target = this.#target(input.serverId);
    const plan = await this.#plan(target);
    if (!plan.manager)
      throw new AppError(
        'transfer_unsupported',
        `${target.profile.name} has no ComfyUI-Manager, so ComfyDesk cannot install custom nodes there. Run the commands shown on the server.`,
      );
    const found = await this.#findPack(input.packId, input.workflowId, plan);
    const pack = found.nodeTypes.length === 0 && input.nodeTypes ? { ...found, nodeTypes: input.nodeTypes } : found;
    const existing = [...this.#queue.entries.values()].find(
      (entry) =>
        entry.item.kind === 'pack' &&
        entry.item.serverId === target.id &&
        entry.item.destination === pack.id &&
        !FINISHED_TRANSFER_STATES.has(entry.item.state),
    );
    if (existing) {
      this.#addWorkflow(existing, input.workflowId);
      return existing.item;
    }
    const entry = packEntry({ target, pack, workflowId: input.workflowId, now: this.#now() });
    this.#queue.add(entry);
    this.#queue.scheduleSave();
    this.#scheduler.schedule();
    return entry.item;
  }

  /** How files and packs reach a server (its folders, ComfyUI-Manager, its SSH tools). */
  async plan(serverId?: string): Promise<ServerPlan> {
    return this.#plan(this.#target(serverId));
  }

  /** Asks ComfyUI-Manager to restart ComfyUI; packs waiting for it are checked when the server is back. */
  async restartServer(serverId?: string): Promise<void> {
    const target = this.#target(serverId);
    const plan = await this.#plan(target);
    if (!plan.manager)
      throw new AppError(
        'transfer_unsupported',
        `${target.profile.name} has no ComfyUI-Manager to restart it; restart ComfyUI on the server yourself.`,
      );
    this.#plans.delete(target.id);
    await plan.manager.reboot();
    void this.#scheduler.watchRestart(target.id); // runs in the background; it logs its own failures
  }

  pause(id: string): TransferItem {
    const entry = this.#entry(id);
    if (entry.item.method === 'manager')
      throw new AppError(
        'invalid_input',
        'ComfyUI-Manager runs this on the server and cannot pause it; cancel it instead.',
      );
    if (FINISHED_TRANSFER_STATES.has(entry.item.state) || entry.item.state === 'paused') return entry.item;
    if (entry.controller) entry.controller.abort('pause');
    else this.#set(entry, { state: 'paused', bytesPerSecond: 0, etaSeconds: null });
    return entry.item;
  }

  resume(id: string): TransferItem {
    const entry = this.#entry(id);
    if (entry.item.state === 'paused' || entry.item.state === 'failed' || entry.item.state === 'waiting') {
      this.#set(entry, { state: 'queued', error: null, finishedAt: null });
      this.#scheduler.schedule();
    }
    return entry.item;
  }

  async cancel(id: string): Promise<TransferItem> {
    const entry = this.#entry(id);
    if (entry.item.state === 'done' || entry.item.state === 'cancelled') return entry.item;
    if (entry.controller) {
      entry.controller.abort('cancel');
      await entry.run;
    } else {
      await this.#runners.discard(entry);
      this.#set(entry, { state: 'cancelled', bytesPerSecond: 0, etaSeconds: null, finishedAt: this.#now() });
    }
    return entry.item;
  }

  /** Forgets finished, failed and cancelled transfers. */
  clear(): TransfersSnapshot {
    for (const [id, entry] of this.#queue.entries) {
      if (!FINISHED_TRANSFER_STATES.has(entry.item.state)) continue;
      this.#queue.remove(id);
    }
    this.#queue.scheduleSave();
    return this.list();
  }

  // ---- tokens and sources ----

  tokens(): TokenStatus {
    return this.#access.tokens();
  }

  setToken(provider: TokenProvider, token: string): TokenStatus {
    return this.#access.setToken(provider, token);
  }

  sources(): SourcesStatus {
    return { models: this.#modelList.status(), nodes: this.#nodeMap.status() };
  }

  async refreshSources(): Promise<SourcesStatus> {
    await Promise.all([this.#modelList.get({ refresh: true }), this.#nodeMap.get({ refresh: true })]);
    return this.sources();
  }

  // ---- internals: lookups ----

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  #record(workflowId: string) {
    const record = this.#deps.workflows.record(workflowId);
    if (!record)
      throw new AppError('workflow_not_found', 'That workflow is no longer in your library.', {
        details: { id: workflowId },
      });
    if (record.error) throw new AppError('workflow_invalid', record.error.reason, { details: { id: workflowId } });
    return record;
  }

  #target(serverId: string | undefined): TransferTarget {
    const id = serverId ?? this.#deps.servers.activeId();
    if (!id)
      throw new AppError(
        'connection_not_found',
        'There is no ComfyUI connection yet. Add one in Settings › Connections.',
      );
    const profile = this.#deps.servers.profile(id);
    if (!profile) throw new AppError('connection_not_found', 'That connection no longer exists.', { details: { id } });
    const target = this.#deps.servers.target(id);
    if (!target)
      throw new AppError(
        'comfy_offline',
        `${profile.name} is not connected right now, so ComfyDesk cannot ask it what it has. Bring it online and try again.`,
        { details: { serverId: id } },
      );
    return target;
  }

  #entry(id: string): Entry {
    const entry = this.#queue.entries.get(id);
    if (!entry)
      throw new AppError('transfer_not_found', 'That download is no longer in the list.', { details: { id } });
    return entry;
  }

  async #plan(target: TransferTarget): Promise<ServerPlan> {
    const cached = this.#plans.get(target.id);
    if (cached && this.#now() - cached.at < PLAN_TTL_MS) return cached.plan;
    const plan = planFor(target, { log: this.#deps.log, pathPrefix: this.#deps.remotePathPrefix });
    this.#plans.set(target.id, { at: this.#now(), plan });
    plan.catch(() => this.#plans.delete(target.id));
    return plan;
  }

  async #hints(workflowId: string): Promise<WorkflowHints> {
    return hintsOfRecord(this.#deps.workflows.record(workflowId), this.#deps.log);
  }

  async #findPack(packId: string, workflowId: string | undefined, plan: ServerPlan): Promise<NodePack> {
    const candidates: NodePack[] = [];
    if (workflowId) {
      const record = this.#record(workflowId);
      const hints = await this.#hints(workflowId);
      const maps = [await plan.manager?.nodeMap().catch(() => undefined), await this.#nodeMap.get()].filter(
        (map): map is NodeMap => map !== undefined,
      );
      candidates.push(
        ...groupByPack(
          record.nodeTypes,
          maps.map((map) => ({ map, source: 'node-map' as const })),
          hints.packs,
        ).packs,
      );
    }
    return pickPack(candidates, packId);
  }

  #addWorkflow(entry: Entry, workflowId: string | undefined): void {
    if (!workflowId || entry.item.workflowIds.includes(workflowId)) return;
    this.#set(entry, { workflowIds: [...entry.item.workflowIds, workflowId] });
  }

  // ---- internals: state ----

  #set(entry: Entry, patch: Partial<TransferItem>): void {
    this.#queue.set(entry, patch);
  }
}
