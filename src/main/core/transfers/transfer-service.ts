import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { SerializedError } from '@shared/contract/errors';
import type { ServerInventory } from '@shared/domain/inventory';
import type { Settings } from '@shared/domain/settings';
import {
  FINISHED_TRANSFER_STATES,
  TransferItem,
  type MissingModelEntry,
  type MissingReport,
  type NodePack,
  type SourcesStatus,
  type TokenProvider,
  type TokenStatus,
  type TransferRequest,
  type TransfersDelta,
  type TransfersSnapshot,
  type UrlProbe,
} from '@shared/domain/transfer';
import type { MissingModel } from '@shared/domain/workflow';
import type { NoticeCenter } from '../app/notice-center';
import type { SecretStore } from '../connections/secret-store';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, serializeError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ModelCatalog } from '../workflows/catalog';
import { checkCompatibility, prepareInventory } from '../workflows/compatibility';
import { decodeWorkflowBytes } from '../workflows/scan-file';
import { CachedList } from './cached-list';
import { FileDownloader } from './file-downloader';
import { normalizeDownloadUrl, tokenHeaders, tokenProviderOf } from './http-answers';
import { modelCommands, packCommands, type ManualModel } from './manual-commands';
import { ModelList, type ManagerModelEntry } from './model-list';
import { groupByPack, NodeMap } from './node-map';
import type { TransferServers, TransferTarget, TransferWorkflows } from './ports';
import { RemoteDownloader } from './remote-download';
import { foldersFor } from './server-folders';
import { planFor, type ServerPlan } from './server-plan';
import { sftpFileStore } from './sftp-store';
import { probeHttp, type HttpProbe } from './url-probe';
import { NO_HINTS, readWorkflowHints, type WorkflowHints } from './workflow-hints';

/** What the transfer service tells the core. */
export interface TransferEvents {
  /** Changed and removed items, at most every `eventIntervalMs`. */
  updated: TransfersDelta;
  /** A workflow's files all landed and the server now has everything it needs. */
  ready: { workflowId: string; workflowName: string; serverId: string; serverName: string };
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

/** A transfer with what it needs to run that the UI does not see. */
interface Entry {
  item: TransferItem;
  sha256?: string;
  /** Exact size, when a HEAD or the caller said. */
  expectedBytes?: number;
  managerEntry?: ManagerModelEntry;
  pack?: { registryId?: string; url: string | null; nodeTypes: string[] };
  /** A pack ComfyUI-Manager installed, waiting for ComfyUI's restart to load it. */
  awaitingRestart?: boolean;
  controller?: AbortController;
  run?: Promise<void>;
}

interface PersistedFile {
  version: 1;
  entries: Array<Omit<Entry, 'controller' | 'run'>>;
  /** Download addresses the user gave, by `folder\0name`. */
  userSources: Record<string, string>;
}

const SECRET_PREFIX = 'transfers:token:';
const WAITING_CODES = new Set(['tunnel_dropped', 'comfy_offline', 'comfy_unreachable', 'comfy_timeout']);
const PLAN_TTL_MS = 60_000;
const PROBE_TTL_MS = 10 * 60_000;

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
  readonly #entries = new Map<string, Entry>();
  readonly #userSources = new Map<string, string>();
  readonly #plans = new Map<string, { at: number; plan: Promise<ServerPlan> }>();
  readonly #probes = new Map<string, { at: number; probe: Promise<HttpProbe | undefined> }>();
  readonly #modelList: CachedList<ModelList>;
  readonly #nodeMap: CachedList<NodeMap>;
  readonly #dirty = new Set<string>();
  readonly #removed = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  #lastFlush = Number.NEGATIVE_INFINITY;
  #saveTimer: NodeJS.Timeout | undefined;
  #offServers: Unsubscribe | undefined;
  #started = false;
  #stopping = false;
  /** Aborted at stop: background waits end with it. */
  #lifetime = new AbortController();

  constructor(deps: TransferServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
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
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    this.#lifetime = new AbortController();
    await this.#load();
    this.#offServers = this.#deps.servers.onChange((serverId) => this.#serverChanged(serverId));
    this.#schedule();
  }

  /** Stops every running transfer, keeping what arrived, and saves the list so the next start resumes. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#stopping = true;
    this.#lifetime.abort();
    this.#offServers?.();
    const runs: Array<Promise<void>> = [];
    for (const entry of this.#entries.values()) {
      if (entry.controller) {
        entry.controller.abort('stop');
        if (entry.run) runs.push(entry.run);
      }
    }
    await Promise.allSettled(runs);
    clearTimeout(this.#flushTimer);
    this.#flush();
    clearTimeout(this.#saveTimer);
    await this.#save();
    this.#started = false;
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
    const models = await mapLimit(compat.missing, 4, (model) =>
      this.#describeModel(model, { target, plan, hints, modelList }),
    );
    const { packs, unresolved } = groupByPack(
      compat.unknownNodeTypes,
      [
        ...(managerMap ? [{ map: managerMap, source: 'manager' as const }] : []),
        ...(publicMap ? [{ map: publicMap, source: 'node-map' as const }] : []),
      ],
      hints.packs,
    );
    const sizes = models.map((model) => model.sizeBytes).filter((size): size is number => size !== undefined);
    const customNodesDir = plan.folders.custom_nodes?.[0] ?? null;
    const manual = models.flatMap((model): ManualModel[] =>
      model.method === 'manual' && model.url && model.destinationDir
        ? [
            {
              name: model.name,
              url: model.url,
              destinationDir: model.destinationDir,
              ...(model.sha256 ? { sha256: model.sha256 } : {}),
              ...(model.needsToken ? { needsToken: model.needsToken } : {}),
            },
          ]
        : [],
    );
    const commands = [modelCommands(manual), plan.manager ? undefined : packCommands(packs, customNodesDir)].filter(
      (command) => command !== undefined,
    );
    return {
      workflowId,
      workflowName: record.name,
      serverId: target.id,
      serverName: target.profile.name,
      connectionKind: target.profile.kind,
      method: plan.method,
      methodNote: plan.note,
      manager: plan.manager?.info ?? null,
      models,
      totalBytes: sizes.length > 0 ? sizes.reduce((sum, size) => sum + size, 0) : null,
      isTotalComplete: sizes.length === models.length,
      packs,
      unresolvedNodeTypes: unresolved,
      customNodesDir,
      commands,
      sources: this.sources(),
    };
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
    const probe = await this.#probe(normalized.url, true);
    const provider = tokenProviderOf(normalized.url, this.#mirrorHosts());
    if (!probe)
      return {
        url: normalized.url,
        fileName: null,
        sizeBytes: null,
        problem: 'ComfyDesk could not reach that address from here; it may still work from the server.',
      };
    const base = { url: normalized.url, fileName: probe.fileName, sizeBytes: probe.sizeBytes };
    if ((probe.status === 401 || probe.status === 403) && provider && !this.#token(provider))
      return { ...base, needsToken: provider, problem: 'This file needs your access token.' };
    if (!(probe.status >= 200 && probe.status < 400))
      return { ...base, problem: `The address answered ${probe.status}; it is not a file ComfyDesk can download.` };
    if (/text\/html/i.test(probe.contentType ?? ''))
      return { ...base, problem: 'The address gives a web page, not a file. Copy the download link instead.' };
    return base;
  }

  // ---- transfers ----

  list(): TransfersSnapshot {
    return { items: [...this.#entries.values()].map((entry) => entry.item) };
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
      const dirs = foldersFor(plan.folders, request.folder);
      if (dirs.length === 0)
        throw new AppError(
          'invalid_input',
          `${target.profile.name} has no "${request.folder}" model folder, so ComfyDesk does not know where ${request.name} goes. The custom node that adds that folder may be missing.`,
          { details: { folder: request.folder } },
        );
      const dir = request.destinationDir ?? dirs[0]!;
      if (!dirs.includes(dir))
        throw new AppError(
          'invalid_input',
          `${dir} is not one of ${target.profile.name}'s "${request.folder}" folders (${dirs.join(', ')}).`,
          { details: { folder: request.folder, destinationDir: dir } },
        );
      const normalized = normalizeDownloadUrl(request.url);
      if (normalized.problem)
        throw new AppError('invalid_input', normalized.problem, { details: { url: request.url } });
      const url = normalized.url;
      const destination = plan.isLocal ? join(dir, ...request.name.split(/[\\/]/)) : posix.join(dir, request.name);
      const existing = [...this.#entries.values()].find(
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
      let managerEntry: ManagerModelEntry | undefined;
      if (plan.method === 'manager') {
        managerEntry = modelList?.find(request.name, request.folder)?.entry;
        if (!managerEntry || managerEntry.url !== url)
          throw new AppError(
            'transfer_unsupported',
            `ComfyUI-Manager on ${target.profile.name} only downloads files from its own model list, and ${request.name} from this address is not on it. Run the command shown on the server instead.`,
            { details: { command: modelCommands([{ name: request.name, url, destinationDir: dir }])?.command } },
          );
      }
      if (plan.method === 'manual')
        throw new AppError(
          'transfer_unsupported',
          `ComfyDesk cannot place files on ${target.profile.name} from here (a web address without ComfyUI-Manager). Run the command shown on the server.`,
          { details: { command: modelCommands([{ name: request.name, url, destinationDir: dir }])?.command } },
        );
      // The exact size, when this machine could ask (it checks free space, shows progress and verifies the file).
      const probe = request.sizeBytes === undefined ? await this.#probe(url) : undefined;
      const sizeBytes =
        request.sizeBytes ??
        (probe && probe.status >= 200 && probe.status < 300 ? (probe.sizeBytes ?? undefined) : undefined);
      const now = this.#now();
      const entry: Entry = {
        item: {
          id: randomUUID(),
          serverId: target.id,
          serverName: target.profile.name,
          kind: 'model',
          name: request.name,
          folder: request.folder,
          url,
          destination,
          method: plan.method,
          state: 'queued',
          receivedBytes: 0,
          totalBytes: sizeBytes ?? null,
          bytesPerSecond: 0,
          etaSeconds: null,
          error: null,
          note: plan.method === 'sftp' ? plan.note : null,
          workflowIds: input.workflowId ? [input.workflowId] : [],
          createdAt: now,
          updatedAt: now,
          finishedAt: null,
        },
        ...(request.sha256 ? { sha256: request.sha256.toLowerCase() } : {}),
        ...(sizeBytes ? { expectedBytes: sizeBytes } : {}),
        ...(managerEntry ? { managerEntry } : {}),
      };
      created.push(entry);
      ids.push(entry.item.id);
      this.#userSources.set(sourceKey(request.folder, request.name), url);
    }
    for (const entry of created) {
      this.#entries.set(entry.item.id, entry);
      this.#changed(entry);
    }
    this.#scheduleSave();
    this.#schedule();
    return ids;
  }

  /** Installs a pack through ComfyUI-Manager on the server. */
  async installPack(input: { serverId?: string; packId: string; workflowId?: string }): Promise<TransferItem> {
    const target = this.#target(input.serverId);
    const plan = await this.#plan(target);
    if (!plan.manager)
      throw new AppError(
        'transfer_unsupported',
        `${target.profile.name} has no ComfyUI-Manager, so ComfyDesk cannot install custom nodes there. Run the commands shown on the server.`,
      );
    const pack = await this.#findPack(input.packId, input.workflowId, plan);
    const existing = [...this.#entries.values()].find(
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
    const now = this.#now();
    const entry: Entry = {
      item: {
        id: randomUUID(),
        serverId: target.id,
        serverName: target.profile.name,
        kind: 'pack',
        name: pack.title,
        folder: null,
        url: pack.url,
        destination: pack.id,
        method: 'manager',
        state: 'queued',
        receivedBytes: 0,
        totalBytes: null,
        bytesPerSecond: 0,
        etaSeconds: null,
        error: null,
        note: null,
        workflowIds: input.workflowId ? [input.workflowId] : [],
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      },
      pack: { ...(pack.registryId ? { registryId: pack.registryId } : {}), url: pack.url, nodeTypes: pack.nodeTypes },
    };
    this.#entries.set(entry.item.id, entry);
    this.#changed(entry);
    this.#scheduleSave();
    this.#schedule();
    return entry.item;
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
    void this.#watchRestart(target.id); // runs in the background; it logs its own failures
  }

  /**
   * After a restart, reads the server's lists again until the packs waiting for it show up (or two
   * minutes pass): only `object_info` listing their node types makes them installed.
   */
  async #watchRestart(serverId: string): Promise<void> {
    const deadline = this.#now() + 120_000;
    const waiting = () =>
      [...this.#entries.values()].some((entry) => entry.item.serverId === serverId && entry.awaitingRestart);
    while (waiting() && this.#now() < deadline && !this.#stopping) {
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
      this.#schedule();
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
      await this.#discard(entry);
      this.#set(entry, { state: 'cancelled', bytesPerSecond: 0, etaSeconds: null, finishedAt: this.#now() });
    }
    return entry.item;
  }

  /** Forgets finished, failed and cancelled transfers. */
  clear(): TransfersSnapshot {
    for (const [id, entry] of this.#entries) {
      if (!FINISHED_TRANSFER_STATES.has(entry.item.state)) continue;
      this.#entries.delete(id);
      this.#removed.add(id);
    }
    this.#scheduleFlush();
    this.#scheduleSave();
    return this.list();
  }

  // ---- tokens and sources ----

  tokens(): TokenStatus {
    return {
      huggingface: this.#token('huggingface') !== undefined,
      civitai: this.#token('civitai') !== undefined,
      storage: this.#deps.secrets.kind,
    };
  }

  setToken(provider: TokenProvider, token: string): TokenStatus {
    const value = token.trim();
    if (value) this.#deps.secrets.set(`${SECRET_PREFIX}${provider}`, value);
    else this.#deps.secrets.delete(`${SECRET_PREFIX}${provider}`);
    this.#probes.clear();
    return this.tokens();
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
    const entry = this.#entries.get(id);
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
    const record = this.#deps.workflows.record(workflowId);
    if (!record) return NO_HINTS;
    try {
      const bytes = await readFile(join(record.root, ...record.path.split('/')));
      return readWorkflowHints(JSON.parse(decodeWorkflowBytes(bytes)));
    } catch (error) {
      this.#deps.log.debug('workflow hints unreadable', { workflowId, error });
      return NO_HINTS;
    }
  }

  #mirrorHosts(): string[] {
    const endpoint = (this.#deps.env ?? process.env).HF_ENDPOINT;
    try {
      return endpoint ? [new URL(endpoint).hostname] : [];
    } catch {
      return [];
    }
  }

  #token(provider: TokenProvider): string | undefined {
    const stored = this.#deps.secrets.get(`${SECRET_PREFIX}${provider}`);
    if (stored) return stored;
    const env = this.#deps.env ?? process.env;
    const value =
      provider === 'huggingface'
        ? (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)
        : (env.CIVITAI_TOKEN ?? env.CIVITAI_API_TOKEN);
    return value?.trim() || undefined;
  }

  #headersFor(url: string): Record<string, string> {
    const provider = tokenProviderOf(url, this.#mirrorHosts());
    return provider ? tokenHeaders(this.#token(provider)) : {};
  }

  async #probe(url: string, fresh = false): Promise<HttpProbe | undefined> {
    const cached = this.#probes.get(url);
    if (!fresh && cached && this.#now() - cached.at < PROBE_TTL_MS) return cached.probe;
    const probe = probeHttp(this.#deps.fetch ?? globalThis.fetch, url, this.#headersFor(url)).catch(
      (error: unknown) => {
        this.#deps.log.debug('download address not reachable from here', { url, error });
        return undefined;
      },
    );
    this.#probes.set(url, { at: this.#now(), probe });
    return probe;
  }

  async #describeModel(
    model: MissingModel,
    context: { target: TransferTarget; plan: ServerPlan; hints: WorkflowHints; modelList: ModelList | undefined },
  ): Promise<MissingModelEntry> {
    const { target, plan, hints, modelList } = context;
    const fileName = model.name.split(/[\\/]/).at(-1)!;
    const own = this.#deps.catalog.find(model.name, model.folder);
    const listed = modelList?.find(model.name, model.folder);
    const candidates: Array<{ url: string; source: MissingModelEntry['source'] }> = [];
    if (model.url) candidates.push({ url: model.url, source: 'workflow' });
    const noted = hints.noteUrls.get(model.name) ?? hints.noteUrls.get(fileName);
    if (noted) candidates.push({ url: noted, source: 'note' });
    if (own?.url) candidates.push({ url: own.url, source: 'catalog' });
    if (listed) candidates.push({ url: listed.url, source: 'catalog' });
    const remembered = model.folder ? this.#userSources.get(sourceKey(model.folder, model.name)) : undefined;
    if (remembered) candidates.push({ url: remembered, source: 'user' });
    const chosen = candidates[0];
    const url = chosen ? normalizeDownloadUrl(chosen.url).url : undefined;
    const dirs = model.folder ? foldersFor(plan.folders, model.folder) : [];
    const destinationDir = dirs[0] ?? null;
    const method = plan.method === 'manager' ? (listed && url === listed.url ? 'manager' : 'manual') : plan.method;
    const sha256 = hints.sha256.get(model.name) ?? hints.sha256.get(fileName);
    const entry: MissingModelEntry = {
      name: model.name,
      folder: model.folder,
      ...(url ? { url } : {}),
      source: chosen?.source ?? 'none',
      ...(sha256 ? { sha256 } : {}),
      destinationDir,
      destinationChoices: dirs,
      method,
    };
    const problems: string[] = [];
    if (!url)
      problems.push(
        'No known source: paste a download link (Hugging Face …/resolve/… or Civitai …/api/download/models/…).',
      );
    if (model.folder === null)
      problems.push('ComfyDesk does not know which model folder this loader reads, so it cannot place the file.');
    else if (dirs.length === 0)
      problems.push(
        `${target.profile.name} has no "${model.folder}" folder; the custom node that adds it may be missing.`,
      );
    let sizeBytes = model.sizeBytes ?? own?.sizeBytes ?? listed?.approxBytes;
    if (url) {
      const probe = await this.#probe(url);
      const provider = tokenProviderOf(url, this.#mirrorHosts());
      if (probe?.sizeBytes && probe.status >= 200 && probe.status < 300) sizeBytes = probe.sizeBytes;
      if (probe && (probe.status === 401 || probe.status === 403)) {
        if (provider && !this.#token(provider)) {
          entry.needsToken = provider;
          problems.push(
            `Needs your ${provider === 'huggingface' ? 'Hugging Face' : 'Civitai'} token: set it in Downloads › Access tokens.`,
          );
        } else {
          problems.push(
            `${hostOf(url)} refuses this file (${probe.status})${provider ? '; accept its licence on its page with the account of your token' : ''}.`,
          );
        }
      } else if (probe && (probe.status === 404 || probe.status === 410)) {
        problems.push(`The link answers ${probe.status} (the file is gone): paste another download link.`);
      } else if (probe && /text\/html/i.test(probe.contentType ?? '') && probe.status < 300) {
        problems.push('The link gives a web page, not the file (a login page?). Paste the file’s download link.');
      }
    }
    if (sizeBytes !== undefined) entry.sizeBytes = Math.round(sizeBytes);
    if (problems.length > 0) entry.problem = problems.join(' ');
    if (destinationDir) {
      const destination = plan.isLocal
        ? join(destinationDir, ...model.name.split(/[\\/]/))
        : posix.join(destinationDir, model.name);
      const transfer = [...this.#entries.values()].find(
        (candidate) =>
          candidate.item.serverId === target.id &&
          candidate.item.destination === destination &&
          candidate.item.state !== 'cancelled',
      );
      if (transfer) entry.transferId = transfer.item.id;
    }
    return entry;
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
    const found = candidates.find((pack) => pack.id === packId);
    if (found) return found;
    if (/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/.test(packId))
      return { id: packId, title: basename(packId), url: packId, nodeTypes: [], source: 'workflow' };
    throw new AppError('not_found', `ComfyDesk does not know the pack "${packId}".`, { details: { packId } });
  }

  // ---- internals: running ----

  #serverChanged(serverId: string): void {
    if (this.#stopping) return;
    this.#plans.delete(serverId);
    const target = this.#deps.servers.target(serverId);
    const inventory = target?.inventory();
    if (inventory) {
      for (const entry of this.#entries.values()) {
        if (entry.item.serverId !== serverId || !entry.awaitingRestart || !entry.pack) continue;
        if (entry.pack.nodeTypes.every((type) => inventory.nodeTypes.includes(type))) {
          entry.awaitingRestart = false;
          this.#set(entry, { state: 'done', note: null, finishedAt: this.#now() });
          this.#announce(entry, serverId, inventory);
        }
      }
    }
    this.#schedule();
  }

  /** Starts what may run now; marks transfers of unreachable servers as waiting. */
  #schedule(): void {
    if (!this.#started || this.#stopping) return;
    const parallel = this.#deps.settings.get().transfers.parallelPerServer;
    const byServer = new Map<string, Entry[]>();
    for (const entry of this.#entries.values()) {
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
          this.#set(entry, {
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
    this.#set(entry, { state: 'running', error: null, bytesPerSecond: 0, etaSeconds: null });
    entry.run = this.#run(entry, target, controller.signal).finally(() => {
      entry.controller = undefined;
      entry.run = undefined;
      this.#scheduleSave();
      this.#schedule();
    });
  }

  async #run(entry: Entry, target: TransferTarget, signal: AbortSignal): Promise<void> {
    try {
      const plan = await this.#plan(target);
      if (entry.item.kind === 'pack') {
        await this.#installPackNow(entry, target, plan, signal);
        return;
      }
      if (entry.item.method === 'manager') await this.#managerModel(entry, target, plan, signal);
      else if (entry.item.method === 'local') await this.#downloadLocal(entry, signal);
      else if (entry.item.method === 'ssh' || entry.item.method === 'sftp')
        await this.#downloadRemote(entry, target, plan, signal);
      else throw new AppError('transfer_unsupported', 'This server takes no downloads from ComfyDesk.');
      this.#set(entry, {
        state: 'done',
        bytesPerSecond: 0,
        etaSeconds: 0,
        finishedAt: this.#now(),
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
      this.#set(entry, { state: 'paused', bytesPerSecond: 0, etaSeconds: null });
      return;
    }
    if (reason === 'cancel') {
      await this.#discard(entry);
      this.#set(entry, { state: 'cancelled', bytesPerSecond: 0, etaSeconds: null, finishedAt: this.#now() });
      return;
    }
    if (reason === 'stop') {
      // Resumes at the next start, from what arrived.
      this.#set(entry, { state: 'queued', bytesPerSecond: 0, etaSeconds: null });
      return;
    }
    const serialized: SerializedError = serializeError(error, this.#deps.log);
    if (WAITING_CODES.has(serialized.code)) {
      this.#set(entry, {
        state: 'waiting',
        bytesPerSecond: 0,
        etaSeconds: null,
        error: {
          ...serialized,
          userMessage: `${serialized.userMessage.replace(/\s*$/, '')} It resumes by itself when the connection is back.`,
        },
      });
      this.#plans.delete(entry.item.serverId);
      return;
    }
    this.#deps.log.warn('transfer failed', { id: entry.item.id, code: serialized.code });
    this.#set(entry, {
      state: 'failed',
      bytesPerSecond: 0,
      etaSeconds: null,
      error: serialized,
      finishedAt: this.#now(),
    });
  }

  #progress(entry: Entry) {
    return (progress: {
      receivedBytes: number;
      totalBytes: number | null;
      bytesPerSecond: number;
      etaSeconds: number | null;
    }) =>
      this.#set(entry, {
        receivedBytes: progress.receivedBytes,
        totalBytes: progress.totalBytes ?? entry.item.totalBytes,
        bytesPerSecond: progress.bytesPerSecond,
        etaSeconds: progress.etaSeconds,
      });
  }

  async #downloadLocal(entry: Entry, signal: AbortSignal): Promise<void> {
    if (await isFile(entry.item.destination)) return;
    const downloader = new FileDownloader({
      log: this.#deps.log.child('download'),
      fetch: this.#deps.fetch,
      now: this.#deps.now,
      retryDelayMs: this.#deps.retryDelayMs,
      stallTimeoutMs: this.#deps.stallTimeoutMs,
      progressIntervalMs: 100,
      retryHint: 'resume it to continue.',
    });
    await downloader.download({
      url: entry.item.url!,
      destination: entry.item.destination,
      ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
      ...(entry.expectedBytes ? { sizeBytes: entry.expectedBytes } : {}),
      headers: this.#headersFor(entry.item.url!),
      provider: tokenProviderOf(entry.item.url!, this.#mirrorHosts()),
      signal,
      onProgress: this.#progress(entry),
    });
  }

  async #downloadRemote(entry: Entry, target: TransferTarget, plan: ServerPlan, signal: AbortSignal): Promise<void> {
    const shell = target.shell;
    if (!shell) throw new AppError('tunnel_dropped', `The SSH connection to ${plan.host} is down.`);
    const request = {
      url: entry.item.url!,
      destination: entry.item.destination,
      ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
      ...(entry.expectedBytes ? { sizeBytes: entry.expectedBytes } : {}),
      headers: this.#headersFor(entry.item.url!),
      provider: tokenProviderOf(entry.item.url!, this.#mirrorHosts()),
      signal,
      onProgress: this.#progress(entry),
    };
    if (plan.tools?.downloader) {
      if (entry.item.method !== 'ssh') this.#set(entry, { method: 'ssh', note: null });
      const downloader = this.#remoteDownloader(target, plan);
      await downloader.download({ ...request, onVerifying: () => this.#set(entry, { state: 'verifying' }) });
      return;
    }
    this.#set(entry, { method: 'sftp', note: plan.note });
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

  #remoteDownloader(target: TransferTarget, plan: ServerPlan): RemoteDownloader {
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

  async #managerModel(entry: Entry, target: TransferTarget, plan: ServerPlan, signal: AbortSignal): Promise<void> {
    const manager = plan.manager;
    if (!manager || !entry.managerEntry)
      throw new AppError('transfer_unsupported', 'ComfyUI-Manager is no longer on this server.');
    this.#set(entry, { note: 'ComfyUI-Manager downloads it on the server; it reports no progress until it is done.' });
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
    this.#set(entry, { note: null });
  }

  async #installPackNow(entry: Entry, target: TransferTarget, plan: ServerPlan, signal: AbortSignal): Promise<void> {
    const manager = plan.manager;
    if (!manager || !entry.pack)
      throw new AppError('transfer_unsupported', 'ComfyUI-Manager is no longer on this server.');
    this.#set(entry, { note: 'ComfyUI-Manager is installing it on the server…' });
    await manager.installPack(entry.pack, entry.item.id);
    await manager.startQueue();
    await this.#waitForManager(manager, signal);
    const inventory = await target.refreshInventory();
    if (entry.pack.nodeTypes.every((type) => inventory.nodeTypes.includes(type)) && entry.pack.nodeTypes.length > 0) {
      this.#set(entry, { state: 'done', note: null, finishedAt: this.#now() });
      this.#announce(entry, target.id, inventory);
      return;
    }
    // Installed, but ComfyUI loads custom nodes only at start: never claim it before object_info lists them.
    entry.awaitingRestart = true;
    this.#set(entry, {
      state: 'waiting',
      note: 'ComfyUI-Manager installed it. Restart ComfyUI to load it; it counts as installed once the server lists its nodes.',
      error: null,
    });
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

  async #discard(entry: Entry): Promise<void> {
    if (entry.item.kind !== 'model') return;
    try {
      if (entry.item.method === 'local') {
        await FileDownloader.discardPartial(entry.item.destination);
        return;
      }
      const target = this.#deps.servers.target(entry.item.serverId);
      if (!target?.shell) return;
      const plan = await this.#plan(target);
      if (entry.item.method === 'ssh' && plan.tools?.downloader) {
        await this.#remoteDownloader(target, plan).discard(entry.item.destination);
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
      const others = [...this.#entries.values()].filter(
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
        this.#emitter.emit('ready', { workflowId, workflowName: record.name, serverId, serverName });
      } else if (others.every((other) => other.item.state === 'done')) {
        const left = compat.missing.length + compat.unknownNodeTypes.length;
        this.#deps.notices?.raise(
          'info',
          `The files for ${record.name} are on ${serverName}; it still needs ${left} more thing${left === 1 ? '' : 's'} (see Get missing).`,
        );
      }
    }
  }

  #addWorkflow(entry: Entry, workflowId: string | undefined): void {
    if (!workflowId || entry.item.workflowIds.includes(workflowId)) return;
    this.#set(entry, { workflowIds: [...entry.item.workflowIds, workflowId] });
  }

  // ---- internals: state, events, persistence ----

  #set(entry: Entry, patch: Partial<TransferItem>): void {
    const before = entry.item.state;
    entry.item = { ...entry.item, ...patch, updatedAt: this.#now() };
    this.#changed(entry);
    if (patch.state !== undefined && patch.state !== before) this.#scheduleSave();
  }

  #changed(entry: Entry): void {
    this.#dirty.add(entry.item.id);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    const wait = Math.max(0, (this.#deps.eventIntervalMs ?? 100) - (this.#now() - this.#lastFlush));
    this.#flushTimer = setTimeout(() => this.#flush(), wait);
    this.#flushTimer.unref();
  }

  #flush(): void {
    this.#flushTimer = undefined;
    if (this.#dirty.size === 0 && this.#removed.size === 0) return;
    this.#lastFlush = this.#now();
    const items = [...this.#dirty].flatMap((id) => {
      const entry = this.#entries.get(id);
      return entry ? [entry.item] : [];
    });
    const removed = [...this.#removed];
    this.#dirty.clear();
    this.#removed.clear();
    this.#emitter.emit('updated', { items, removed });
  }

  #file(): string {
    return join(this.#deps.dataDir, 'transfers.json');
  }

  #scheduleSave(): void {
    if ((this.#deps.persist ?? true) === false || this.#saveTimer !== undefined) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#save(); // errors are logged inside
    }, 500);
    this.#saveTimer.unref();
  }

  async #save(): Promise<void> {
    if ((this.#deps.persist ?? true) === false) return;
    const data: PersistedFile = {
      version: 1,
      entries: [...this.#entries.values()].map((entry) => {
        const { controller: _controller, run: _run, ...rest } = entry;
        return rest;
      }),
      userSources: Object.fromEntries(this.#userSources),
    };
    try {
      await mkdir(this.#deps.dataDir, { recursive: true });
      const temporary = `${this.#file()}.tmp`;
      await writeFile(temporary, JSON.stringify(data));
      await rename(temporary, this.#file());
    } catch (error) {
      this.#deps.log.warn('transfers not saved', { error });
    }
  }

  async #load(): Promise<void> {
    if ((this.#deps.persist ?? true) === false) return;
    let text: string;
    try {
      text = await readFile(this.#file(), 'utf8');
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') this.#deps.log.warn('transfers unreadable', { error });
      return;
    }
    try {
      const data = JSON.parse(text) as PersistedFile;
      for (const [key, url] of Object.entries(data.userSources ?? {})) this.#userSources.set(key, url);
      for (const saved of data.entries ?? []) {
        const item = TransferItem.safeParse(saved.item);
        if (!item.success) continue;
        const state = item.data.state;
        // What ran when the app stopped runs again, from where its partial file is.
        const resumed =
          state === 'running' || state === 'verifying' || (state === 'waiting' && !saved.awaitingRestart)
            ? { state: 'queued' as const, bytesPerSecond: 0, etaSeconds: null }
            : {};
        this.#entries.set(item.data.id, { ...saved, item: { ...item.data, ...resumed } });
      }
    } catch (error) {
      this.#deps.log.warn('transfers file damaged; starting with an empty list', { error });
    }
  }
}

function sourceKey(folder: string, name: string): string {
  return `${folder}\u0000${name}`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await map(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
