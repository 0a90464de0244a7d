import { join } from 'node:path';
import type { EventMap } from '@shared/contract/events';
import type { AppMode } from '@shared/domain/app';
import { appHandlers } from './app/app-handlers';
import type { DesktopPort } from './app/desktop-port';
import { NoticeCenter } from './app/notice-center';
import { OwnerLock, type OwnerLockOptions } from './app/owner-lock';
import { ActiveInventorySource } from './connections/active-inventory';
import { ConnectionManager, type ConnectionOptions } from './connections/connection-manager';
import type { SessionTarget } from './connections/profile-targets';
import { connectionsHandlers } from './connections/connections-handlers';
import { MemorySecretStore, type SecretStore } from './connections/secret-store';
import { generationHandlers } from './generation/generation-handlers';
import { GenerationService } from './generation/generation-service';
import { PresetStore } from './generation/preset-store';
import { StagedInputs } from './generation/staging';
import { persistentClientIds } from './jobs/client-ids';
import { median } from './jobs/eta';
import { HistoryStore } from './jobs/history-store';
import { JOB_EVENTS, JobService, type JobServiceDeps } from './jobs/job-service';
import { jobsHandlers } from './jobs/jobs-handlers';
import { connectionDirectory } from './jobs/server-directory';
import { Disposer } from './lib/disposer';
import { Emitter } from './lib/emitter';
import type { Logger } from './lib/logger';
import { llmHandlers } from './llm/llm-handlers';
import { LlmService } from './llm/llm-service';
import type { LlmEngine } from './llm/engine';
import { LocalEngine, type LocalEngineDeps } from './llm/local-engine';
import { ProcessEngine, type SpawnEngineProcess } from './llm/process-engine';
import { LlmModelStore, llmDownloader } from './llm/model-store';
import { OpenAiBackend } from './llm/openai-backend';
import type { Paths } from './paths';
import { PodDirectory, proxyUrlTemplate, type PodDirectoryDeps } from './pods/pod-directory';
import { PodService, type PodServiceDeps } from './pods/pod-service';
import { podsHandlers } from './pods/pods-handlers';
import { knownModelSources } from './snapshots/model-sources';
import { SnapshotService } from './snapshots/snapshot-service';
import { snapshotsHandlers } from './snapshots/snapshots-handlers';
import { Router, type Handlers } from './router';
import { settingsHandlers } from './settings/settings-handlers';
import { SettingsService } from './settings/settings-service';
import { outputsDirProblem, outputsDirProblemOnDisk } from './settings/outputs-dir';
import type { SettingsStore } from './settings/settings-store';
import { connectionServers } from './transfers/ports';
import { TransferService, type TransferServiceDeps } from './transfers/transfer-service';
import { transfersHandlers } from './transfers/transfers-handlers';
import { ModelCatalog, readCatalogFile } from './workflows/catalog';
import { LibraryService, type LibraryServiceDeps } from './workflows/library-service';
import type { InventorySource, RunStats } from './workflows/ports';
import { SAMPLE_WORKFLOWS, bundledCatalog } from './workflows/resources';
import { farmFit } from './workflows/farm-fit';
import { workflowsHandlers } from './workflows/workflows-handlers';

export interface CoreOptions {
  /** The CLI subcommand this core runs for (`run`, `history`…), named to other processes that find it running. */
  command?: string;
  /**
   * A core for one CLI command: workflow folders are read once (no watcher) and prompt enhancement
   * starts only when a command asks for it. @default false
   */
  lean?: boolean;
  /**
   * Start with the held queue paused, so a short-lived core (a CLI command that only reads) never
   * sends jobs queued by an earlier session. @default false
   */
  isQueueHeld?: boolean;
  /** A server for this run only (`--server`, `--ssh`): online and the default, never saved in settings. */
  sessionServer?: SessionTarget;
  /** Overrides for the data folder's lock (tests: a stand-in for another process). */
  lock?: OwnerLockOptions;
  /** The history database. @default <dataDir>/history.db */
  historyFile?: string;
  /** Job timing overrides (tests: faster polls). */
  jobs?: Pick<JobServiceDeps, 'busyPollMs' | 'idlePollMs' | 'historyWaitMs' | 'unconfirmedGraceMs' | 'now'>;
  mode: AppMode;
  version: string;
  paths: Paths;
  settingsStore: SettingsStore;
  log: Logger;
  /** @default process.platform */
  platform?: string;
  /** The desktop shell's powers (open folders, links); absent in serve mode and the CLI. */
  desktop?: DesktopPort;
  /** What the connected ComfyUI server has installed. @default the default connection's, while online */
  inventory?: InventorySource;
  /** Past run durations for time estimates. */
  runStats?: RunStats;
  /** Workflow library options: extra roots for this run, read-once mode, size lookups, revealing files. */
  library?: Pick<
    LibraryServiceDeps,
    'sessionRoots' | 'isWatching' | 'debounceMs' | 'fetchModelSize' | 'revealFile' | 'read' | 'saveDelayMs'
  >;
  /** Where connection secrets live. @default memory for this session only (serve mode, CLI) */
  secretStore?: SecretStore;
  /** Opens ComfyUI's own page in a window (desktop only). */
  openWindow?: (url: string) => Promise<void>;
  /** The system's file dialog (desktop only); resolves to a path or null when cancelled. */
  pickFile?: (options: { title: string }) => Promise<string | null>;
  /** Connection timing, known_hosts and agent overrides (tests, CLI). */
  connections?: ConnectionOptions;
  /** RunPod's API address and the pod monitor's timing (tests: a stand-in API, a manual clock and ticker). */
  pods?: Pick<PodDirectoryDeps, 'apiUrl' | 'fetch' | 'proxyUrl' | 'wait'> &
    Pick<
      PodServiceDeps,
      'now' | 'ticker' | 'tickMs' | 'pollMs' | 'transitionPollMs' | 'countdownMs' | 'startTimeoutMs'
    >;
  /** Transfer overrides (tests: a local fetch, short polls, a PATH without curl/wget on the SSH server). */
  transfers?: Pick<
    TransferServiceDeps,
    'fetch' | 'env' | 'pollIntervalMs' | 'retryDelayMs' | 'stallTimeoutMs' | 'remotePathPrefix' | 'eventIntervalMs'
  >;
  /** Overrides for prompt enhancement (tests: no GPU probing, greedy decoding, a local fetch). */
  llm?: Pick<LocalEngineDeps, 'gpu' | 'temperature' | 'maxThreads'> & {
    /**
     * Starts the engine's own process (a utility process in the desktop app, a child process in
     * serve mode and the CLI), so a crash in llama.cpp cannot take ComfyDesk down.
     * @default none: node-llama-cpp runs in this process (tests)
     */
    spawnEngine?: SpawnEngineProcess;
    fetch?: typeof fetch;
    timeLimitMs?: number;
    /** A Hugging Face mirror for catalog downloads. @default process.env.HF_ENDPOINT */
    hfEndpoint?: string;
  };
}

/** The local LLM engine: in its own process when the shell can start one, else in this process. */
function createEngine(options: CoreOptions, log: Logger): LlmEngine {
  const engineOptions = {
    gpu: options.llm?.gpu,
    temperature: options.llm?.temperature,
    maxThreads: options.llm?.maxThreads,
  };
  const spawn = options.llm?.spawnEngine;
  return spawn
    ? new ProcessEngine({ spawn, options: engineOptions, log: log.child('engine') })
    : new LocalEngine({ log, ...engineOptions });
}

/** The running core: one router for every transport, one event bus, and a way to stop it all. */
export interface Core {
  /** This process's hold on the data folder; `publish` tells other processes where its contract endpoint is. */
  owner: OwnerLock;
  router: Router;
  /** Every contract event; transports forward these to their clients. */
  events: Emitter<EventMap>;
  settings: SettingsService;
  notices: NoticeCenter;
  library: LibraryService;
  /** Profiles, health, ComfyUI clients and server inventories. */
  connections: ConnectionManager;
  jobs: JobService;
  history: HistoryStore;
  /** Input files kept for runs (serve mode's upload streams into it). */
  staged: StagedInputs;
  /** Rented pods behind RunPod connections: status, cost, idle alerts, auto-stop, start and stop. */
  pods: PodService;
  /** Models and custom-node packs onto servers (Missing to Ready). */
  transfers: TransferService;
  /** Where outputs are saved now (settings › generation, else the data folder's `outputs`). */
  outputsDir(): string;
  stop(): Promise<void>;
}

/**
 * The composition root: takes the data folder's lock (one owner per folder, or `already_running`),
 * builds every service in dependency order, starts them, and wires their events onto the contract's
 * event bus. The Electron shell, serve mode, the CLI and the integration tests all start ComfyDesk
 * through here.
 */
export async function createCore(options: CoreOptions): Promise<Core> {
  const owner = await OwnerLock.acquire(
    options.paths.dataDir,
    { mode: options.mode, command: options.command },
    options.lock,
  );
  const disposer = new Disposer(options.log);
  disposer.add(() => owner.release()); // last of all: every file is closed before another process may take over
  try {
    return await compose(options, owner, disposer);
  } catch (error) {
    // A later step failed: release what the earlier ones opened (sockets, watchers, the database).
    await disposer.dispose();
    throw error;
  }
}

/** Builds and starts the services, adding each one's teardown to `disposer` as soon as it holds something. */
async function compose(options: CoreOptions, owner: OwnerLock, disposer: Disposer): Promise<Core> {
  const { log } = options;
  const events = new Emitter<EventMap>(log.child('events'));

  const notices = new NoticeCenter();
  disposer.add(notices.on('raised', (notice) => events.emit('app.notice', notice)));

  const outputsContext = { dataDir: options.paths.dataDir };
  const settings = new SettingsService({
    store: options.settingsStore,
    notices,
    log: log.child('settings'),
    check: (next, previous) => {
      const dir = next.generation.outputsDir;
      const problem =
        dir && dir !== previous.generation.outputsDir ? outputsDirProblemOnDisk(dir, outputsContext) : undefined;
      return problem ? [{ path: 'generation.outputsDir', message: problem }] : [];
    },
  });
  await settings.start();
  disposer.add(() => settings.stop());
  disposer.add(settings.on('changed', (value) => events.emit('settings.changed', value)));

  // Generation history (opened before the connections: it keeps the ComfyUI client ids their
  // sockets use). Past runs also give the library its time estimates.
  const history = new HistoryStore({
    file: options.historyFile ?? join(options.paths.dataDir, 'history.db'),
    log: log.child('history'),
    notices,
  });
  await history.start();
  disposer.add(() => history.stop());

  const secretStore = options.secretStore ?? new MemorySecretStore();
  // RunPod's API: RunPod connections find their pod's address through it, and the pod monitor its status.
  const podDirectory = new PodDirectory({
    log: log.child('pods'),
    apiUrl: options.pods?.apiUrl ?? process.env.RUNPOD_API_URL,
    fetch: options.pods?.fetch,
    proxyUrl: options.pods?.proxyUrl ?? proxyUrlTemplate(process.env.COMFYDESK_RUNPOD_PROXY_URL),
    wait: options.pods?.wait,
    now: options.pods?.now,
  });
  const connections = new ConnectionManager({
    settings,
    secrets: secretStore,
    log: log.child('connections'),
    openWindow: options.openWindow,
    clientIdFor: persistentClientIds(history, log.child('jobs')),
    pods: podDirectory,
    ...options.connections,
    session: options.sessionServer,
  });
  disposer.add(connections.on('changed', (snapshot) => events.emit('connections.changed', snapshot)));
  disposer.add(connections.on('health', (health) => events.emit('connections.health', health)));
  await connections.start();
  disposer.add(() => connections.stop());

  // The library checks workflows against the default server, unless a caller supplies its own source.
  const activeInventory = new ActiveInventorySource(connections);
  disposer.add(() => activeInventory.dispose());

  const runStats: RunStats = {
    medianDurationMs: (workflowId, serverId) => median(history.durations(workflowId, serverId)),
  };

  const userCatalog = await readCatalogFile(join(options.paths.dataDir, 'model-catalog.json'), log.child('catalog'));
  const catalog = new ModelCatalog(userCatalog ? [bundledCatalog(), userCatalog] : [bundledCatalog()]);
  const library = new LibraryService({
    ...options.library,
    ...(options.lean ? { isWatching: false } : {}),
    settings,
    appFolder: options.paths.workflowsDir,
    cacheFile: join(options.paths.dataDir, 'cache', 'library-index.json'),
    catalog,
    inventory: options.inventory ?? activeInventory,
    runStats: options.runStats ?? runStats,
    samples: SAMPLE_WORKFLOWS,
    log: log.child('library'),
  });
  disposer.add(library.on('changed', (delta) => events.emit('library.changed', delta)));
  disposer.add(library.on('roots', (roots) => events.emit('library.roots', roots)));
  await library.start();
  disposer.add(() => library.stop());
  // Transfers: files and packs onto servers; the same secret store keeps access tokens.
  const transferServers = connectionServers(connections);
  const transfers = new TransferService({
    ...options.transfers,
    servers: transferServers,
    workflows: { record: (id) => library.records().find((record) => record.id === id) },
    catalog,
    settings,
    secrets: secretStore,
    notices,
    dataDir: options.paths.dataDir,
    log: log.child('transfers'),
  });
  disposer.add(transfers.on('updated', (delta) => events.emit('transfers.updated', delta)));
  await transfers.start();
  disposer.add(() => transfers.stop());

  const llmLog = log.child('llm');
  const llmStore = new LlmModelStore({
    settings,
    downloader: llmDownloader({ log: llmLog.child('download'), fetch: options.llm?.fetch }),
    defaultModelsDir: options.paths.llmModelsDir,
    hfEndpoint: options.llm?.hfEndpoint ?? process.env.HF_ENDPOINT,
    log: llmLog,
  });
  const llm = new LlmService({
    settings,
    store: llmStore,
    engine: createEngine(options, llmLog),
    openai: new OpenAiBackend({ log: llmLog, fetch: options.llm?.fetch, temperature: options.llm?.temperature }),
    timeLimitMs: options.llm?.timeLimitMs,
    log: llmLog,
  });
  // A lean core starts the enhancer only when a command needs it (see `startingFirst`).
  let llmStarted: Promise<void> | undefined;
  const startLlm = () => (llmStarted ??= llm.start());
  if (!options.lean) await startLlm();
  disposer.add(() => llm.stop());
  disposer.add(llm.on('status', (status) => events.emit('llm.statusChanged', status)));
  disposer.add(llm.on('models', (list) => events.emit('llm.modelsChanged', list)));
  disposer.add(llm.on('token', (token) => events.emit('llm.token', token)));
  disposer.add(llm.on('finished', (finished) => events.emit('llm.finished', finished)));
  disposer.add(llm.on('downloadProgress', (progress) => events.emit('llm.downloadProgress', progress)));
  disposer.add(llm.on('downloadFinished', (finished) => events.emit('llm.downloadFinished', finished)));

  // Jobs: held queue, runs against servers, progress, outputs.
  // A folder that fails the checks (settings.json edited by hand) is never used: outputs go to the default.
  let refusedOutputsDir = '';
  const outputsDir = () => {
    const configured = settings.get().generation.outputsDir;
    if (!configured) return options.paths.outputsDir;
    const problem = outputsDirProblem(configured, outputsContext);
    if (!problem) return configured;
    if (refusedOutputsDir !== configured) {
      refusedOutputsDir = configured;
      log.warn('outputs folder refused', { configured, problem });
      notices.raise(
        'warning',
        `The outputs folder ${configured} cannot be used: ${problem} Outputs go to ${options.paths.outputsDir} until you choose another in Settings.`,
      );
    }
    return options.paths.outputsDir;
  };
  const servers = connectionDirectory(connections);
  disposer.add(() => servers.dispose());
  const staged = new StagedInputs({ dir: join(options.paths.dataDir, 'cache', 'staged') });
  const generation = new GenerationService({
    servers,
    findWorkflow: (id) => library.records().find((record) => record.id === id),
    staged,
  });
  const jobs = new JobService({
    history,
    servers,
    staged,
    outputsDir,
    limits: () => settings.get().generation,
    failover: () => {
      const { failoverGraceSeconds, retryLostElsewhere } = settings.get().generation;
      return { graceMs: failoverGraceSeconds * 1000, retryLostElsewhere };
    },
    log: log.child('jobs'),
    notices,
    isHeldForSession: options.isQueueHeld,
    ...options.jobs,
  });
  // Each job service event goes out under its contract name (JobServiceEvents is EventMap re-keyed).
  disposer.add(
    jobs.onAny((name, payload) => events.emit(JOB_EVENTS[name], payload as EventMap[(typeof JOB_EVENTS)[typeof name]])),
  );
  // Files dropped for held jobs wait in the data folder across restarts; the rest are removed.
  staged.reload();
  disposer.add(() => staged.prune(jobs.stagedInUse()));
  await jobs.start();
  disposer.add(() => jobs.stop());
  staged.prune(jobs.stagedInUse());
  const presets = new PresetStore({
    file: join(options.paths.dataDir, 'presets.json'),
    log: log.child('presets'),
    notices,
  });
  await presets.start();
  disposer.add(() => presets.stop());

  const pods = new PodService({
    connections,
    directory: podDirectory,
    jobs,
    log: log.child('pods'),
    now: options.pods?.now,
    ticker: options.pods?.ticker,
    tickMs: options.pods?.tickMs,
    pollMs: options.pods?.pollMs,
    transitionPollMs: options.pods?.transitionPollMs,
    countdownMs: options.pods?.countdownMs,
    startTimeoutMs: options.pods?.startTimeoutMs,
  });
  disposer.add(pods.on('changed', (snapshot) => events.emit('pods.changed', snapshot)));
  disposer.add(pods.on('alert', (alert) => events.emit('pods.alert', alert)));
  await pods.start();
  disposer.add(() => pods.stop());

  // Snapshots: what a server has, as a JSON file (download addresses from the catalog and the library).
  const snapshots = new SnapshotService({
    connections,
    sources: knownModelSources({ catalog, workflows: () => library.records() }),
    transfers,
    transferTarget: (serverId) => transferServers.target(serverId),
    snapshotsDir: join(options.paths.dataDir, 'snapshots'),
    createdBy: `ComfyDesk ${options.version}`,
    log: log.child('snapshots'),
  });
  disposer.add(snapshots.on('progress', (progress) => events.emit('snapshots.progress', progress)));
  disposer.add(snapshots.on('finished', (finished) => events.emit('snapshots.finished', finished)));
  disposer.add(snapshots.on('restoreProgress', (progress) => events.emit('snapshots.restoreProgress', progress)));
  disposer.add(snapshots.on('restoreFinished', (finished) => events.emit('snapshots.restoreFinished', finished)));
  await snapshots.start();
  disposer.add(() => snapshots.stop());

  // On how many servers each workflow runs: pushed (coalesced) when inventories, the farm or the library change.
  const fit = () =>
    farmFit(
      library.records(),
      connections
        .generationIds()
        .map((id) => (connections.health(id).state === 'online' ? connections.inventory(id) : undefined)),
    );
  let fitTimer: NodeJS.Timeout | undefined;
  const pushFit = () => {
    fitTimer ??= setTimeout(() => {
      fitTimer = undefined;
      events.emit('workflows.servers', fit());
    }, 100).unref();
  };
  disposer.add(connections.on('inventory', pushFit));
  disposer.add(connections.on('changed', pushFit));
  disposer.add(connections.on('health', pushFit));
  disposer.add(library.on('changed', pushFit));
  disposer.add(() => clearTimeout(fitTimer));

  const handlers: Handlers = {
    ...appHandlers({
      notices,
      mode: options.mode,
      version: options.version,
      platform: options.platform ?? process.platform,
      paths: options.paths,
      outputsDir,
      desktop: options.desktop,
    }),
    ...settingsHandlers(settings),
    ...workflowsHandlers(library),
    'workflows.servers': () => fit(),
    ...connectionsHandlers(connections, options.pickFile),
    ...startingFirst(llmHandlers({ service: llm, store: llmStore }), startLlm),
    ...jobsHandlers({ jobs, generation, staged, servers, history, outputsDir, desktop: options.desktop }),
    ...generationHandlers({
      presets,
      generation,
      servers,
      staged,
      openServer: (serverId, open) => connections.open(serverId, open),
    }),
    ...podsHandlers(pods),
    ...snapshotsHandlers(snapshots),
    ...transfersHandlers(transfers),
  };

  const router = new Router({ handlers, log: log.child('router') });

  let stopped = false;
  return {
    owner,
    router,
    events,
    settings,
    notices,
    library,
    connections,
    jobs,
    history,
    staged,
    pods,
    transfers,
    outputsDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await disposer.dispose();
    },
  };
}

/** Handlers that first await `start` (once), for services a lean core starts only on demand. */
function startingFirst<T extends Partial<Handlers>>(handlers: T, start: () => Promise<void>): T {
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      async (...args: unknown[]) => {
        await start();
        return (handler as (...inner: unknown[]) => unknown)(...args);
      },
    ]),
  ) as T;
}
