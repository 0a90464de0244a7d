import type {
  ConnectionHealth,
  ConnectionProfile,
  HealthState,
  LocalProfile,
  RunPodProfile,
  ServerFacts,
  SshProfile,
  UrlProfile,
} from '@shared/domain/connection';
import { randomUUID } from 'node:crypto';
import type { ServerInventory } from '@shared/domain/inventory';
import { backoffDelayMs, type BackoffOptions } from '@shared/backoff';
import { ComfyClient, type FetchLike } from '../comfy/comfy-client';
import type { SystemStats } from '../comfy/messages';
import { Disposer } from '../lib/disposer';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { SshTunnel, type RemoteShell } from './ssh-tunnel';

/** Where a connection actually goes: a URL, or an SSH tunnel (a RunPod profile resolves to one of these). */
export type ConnectionTarget = LocalProfile | UrlProfile | SshProfile;

/** Error codes that need the user (a fix in settings, a key to trust): no automatic retry. */
export const NEEDS_USER = new Set([
  'ssh_auth_failed',
  'ssh_host_key_unknown',
  'ssh_host_key_changed',
  'ssh_key_unreadable',
  'comfy_not_comfyui',
  'comfy_tls_error',
  'invalid_url',
  'io_error',
  'runpod_unauthorized',
  'pod_not_found',
]);

/** True when only the user can fix it: the codes above, and a proxy refusing access (401/403) until a token is set. */
export function needsUser(error: AppError): boolean {
  const status = (error.details as { status?: unknown } | undefined)?.status;
  return NEEDS_USER.has(error.code) || (error.code === 'comfy_http_error' && (status === 401 || status === 403));
}

/** A profile's secrets as read from the secret store. */
export interface ConnectionSecretsValue {
  passphrase?: string;
  headerValue?: string;
  /** A RunPod profile's API key. */
  apiKey?: string;
}

/** What one online connection needs. */
export interface ServerConnectionDeps {
  profile: ConnectionProfile;
  /** From the secret store; never logged. */
  secrets: ConnectionSecretsValue;
  log: Logger;
  readKnownHosts: () => Promise<string>;
  /** @default process.env.SSH_AUTH_SOCK */
  agentSocket?: string;
  /** @default Date.now */
  now?: () => number;
  fetch?: FetchLike;
  /** Time between health checks while online. @default 15000 */
  healthIntervalMs?: number;
  /** Deadline of one health check. @default 8000 */
  checkTimeoutMs?: number;
  /** Deadline of the SSH connect and handshake. @default 10000 */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Read node types and models after coming online (and after reconnects). @default true */
  readInventory?: boolean;
  /** The socket's client id, kept across restarts (see `ConnectionOptions.clientIdFor`). @default a random id */
  clientId?: string;
  /**
   * Finds where a RunPod profile's ComfyUI is now (full SSH or the HTTPS proxy), asked before each
   * connect: a pod's IP and mapped ports change when it restarts. Required for RunPod profiles.
   */
  resolveRoute?: (profile: RunPodProfile) => Promise<SshProfile | UrlProfile>;
}

/** What one connection reports: its health and its server's inventory. */
export interface ServerConnectionEvents {
  health: ConnectionHealth;
  inventory: ServerInventory;
}

/** The extra header a protected proxy needs, built from the profile and its secret. */
export function authHeaders(profile: ConnectionProfile, headerValue: string | undefined): Record<string, string> {
  if (profile.kind !== 'url' || !profile.authHeader || !headerValue) return {};
  const { scheme, name } = profile.authHeader;
  if (scheme === 'bearer') return { Authorization: `Bearer ${headerValue}` };
  if (scheme === 'basic') return { Authorization: `Basic ${Buffer.from(headerValue, 'utf8').toString('base64')}` };
  return { [name]: headerValue };
}

/** Facts for the status line from `/system_stats`: version, first device (GPU) and its free VRAM. */
export function factsFrom(stats: SystemStats): ServerFacts {
  const device = stats.devices[0];
  return {
    comfyuiVersion: stats.system.comfyui_version ?? null,
    gpuName: device?.name ?? null,
    deviceType: device?.type ?? null,
    vramFreeBytes: device?.vram_free ?? null,
    vramTotalBytes: device?.vram_total ?? null,
    os: stats.system.os ?? null,
  };
}

function describe(target: ConnectionTarget): string {
  return target.kind === 'ssh' ? `${target.username}@${target.host}:${target.port}` : target.url;
}

/**
 * One profile kept online: its SSH tunnel (for SSH profiles), its ComfyUI client and socket, a
 * health check every few seconds, and the server's inventory. Health is pushed on every change:
 * connecting (with the step), online (latency, version, GPU, free VRAM), offline (retrying by
 * itself) or error (needs the user: bad key, unknown or changed host key, not ComfyUI…).
 */
export class ServerConnection {
  readonly profile: ConnectionProfile;
  readonly #deps: ServerConnectionDeps;
  readonly #emitter: Emitter<ServerConnectionEvents>;
  readonly #disposer: Disposer;
  #health: ConnectionHealth;
  #client: ComfyClient | undefined;
  #tunnel: SshTunnel | undefined;
  /** Where it goes: the profile itself, or what a RunPod profile resolved to. */
  #target: ConnectionTarget | undefined;
  /** The socket's client id, the same for every client this connection makes: queued prompts keep reporting to it. */
  readonly #clientId = randomUUID();
  #inventory: ServerInventory | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #running = false;
  /** Set when the tunnel gave up on something only the user can fix: checks stop until a restart. */
  #blocked = false;
  #checking: Promise<void> | undefined;

  constructor(deps: ServerConnectionDeps) {
    this.#deps = deps;
    this.profile = deps.profile;
    if (deps.profile.kind !== 'runpod') this.#target = deps.profile;
    this.#emitter = new Emitter(deps.log);
    this.#disposer = new Disposer(deps.log);
    this.#health = {
      serverId: deps.profile.id,
      state: 'connecting',
      step: 'Waiting to connect…',
      isSocketOpen: false,
      checkedAt: this.#now(),
    };
  }

  get health(): ConnectionHealth {
    return this.#health;
  }

  /** The ComfyUI client, once the connection has reached the server (the generation area drives jobs through it). */
  get client(): ComfyClient | undefined {
    return this.#client;
  }

  get inventory(): ServerInventory | undefined {
    return this.#inventory;
  }

  /**
   * Commands and SFTP on the SSH server, while the tunnel is open (SSH profiles and RunPod pods
   * reached over full SSH). Transfers download there; snapshots read `custom_nodes` and hash models.
   */
  get shell(): RemoteShell | undefined {
    return this.#tunnel?.isOpen ? this.#tunnel : undefined;
  }

  /** ComfyUI's address from this machine (the tunnel's local end for SSH). */
  get localUrl(): string | undefined {
    const target = this.#target;
    if (!target) return undefined;
    if (target.kind !== 'ssh') return target.url;
    return this.#tunnel && this.#tunnel.localPort > 0 ? `http://127.0.0.1:${this.#tunnel.localPort}` : undefined;
  }

  /** Where the connection goes now (a RunPod profile: the SSH host or proxy URL it resolved to). */
  get target(): ConnectionTarget | undefined {
    return this.#target;
  }

  on<K extends keyof ServerConnectionEvents>(
    name: K,
    listener: (payload: ServerConnectionEvents[K]) => void,
  ): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** Starts connecting in the background; progress and failures arrive as health. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#attempt();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#checking?.catch(() => undefined);
    await this.#disposer.dispose();
    this.#client = undefined;
    this.#tunnel = undefined;
  }

  /**
   * One complete check without staying online: open the tunnel if needed, read /system_stats,
   * close everything. "Test connection" and `comfydesk status` use it.
   */
  async probe(): Promise<ConnectionHealth> {
    this.#running = true;
    try {
      await this.#attempt({ once: true });
      return this.#health;
    } finally {
      await this.stop();
    }
  }

  /** Reads node types and model files again (after installing models, or on demand). */
  async refreshInventory(): Promise<ServerInventory> {
    const client = this.#client;
    if (!client) throw new AppError('comfy_offline', `${this.profile.name} is not connected right now.`);
    const [{ objectInfo }, models] = await Promise.all([
      client.getObjectInfo({ refresh: true }),
      client.listAllModels(),
    ]);
    this.#inventory = {
      serverId: this.profile.id,
      nodeTypes: Object.keys(objectInfo).sort(),
      models,
      fetchedAt: this.#now(),
    };
    this.#emitter.emit('inventory', this.#inventory);
    return this.#inventory;
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  #setHealth(patch: Partial<ConnectionHealth> & { state: HealthState }): void {
    const keep = patch.state === 'online' ? { facts: this.#health.facts, latencyMs: this.#health.latencyMs } : {};
    const next: ConnectionHealth = {
      serverId: this.profile.id,
      isSocketOpen: this.#client?.isSocketOpen ?? false,
      ...keep,
      ...patch,
      checkedAt: this.#now(),
    };
    const url = this.localUrl;
    if (url && next.localUrl === undefined) next.localUrl = url;
    this.#health = next;
    this.#emitter.emit('health', next);
  }

  async #attempt(options: { once?: boolean } = {}): Promise<void> {
    if (!this.#running || this.#blocked) return;
    try {
      if (this.profile.kind === 'runpod' && !this.#tunnel && !this.#client) await this.#resolve(this.profile);
      if (this.#target?.kind === 'ssh' && !this.#tunnel) await this.#openTunnel();
      if (!this.#client) this.#createClient(options.once ?? false);
      await this.#check(options.once ?? false);
    } catch (error) {
      // A pod may have stopped, or restarted somewhere else: start over from RunPod's answer next time.
      if (this.profile.kind === 'runpod' && !options.once) await this.#dropRoute();
      this.#fail(error, options.once ?? false);
    }
  }

  /** Closes the client and tunnel of a RunPod route and forgets the route (the client id is kept). */
  async #dropRoute(): Promise<void> {
    await this.#disposer.dispose();
    this.#client = undefined;
    this.#tunnel = undefined;
    this.#target = undefined;
  }

  async #resolve(profile: RunPodProfile): Promise<void> {
    if (!this.#deps.resolveRoute)
      throw new AppError('pod_unreachable', `${profile.name} needs RunPod's API to find its pod.`);
    this.#setHealth({ state: 'connecting', step: `Asking RunPod where pod ${profile.podId} is…` });
    this.#target = await this.#deps.resolveRoute(profile);
  }

  async #openTunnel(): Promise<void> {
    const target = this.#target;
    if (target?.kind !== 'ssh') return;
    const tunnel = new SshTunnel({
      profile: target,
      passphrase: this.#deps.secrets.passphrase,
      agentSocket: this.#deps.agentSocket,
      readKnownHosts: this.#deps.readKnownHosts,
      readyTimeoutMs: this.#deps.connectTimeoutMs,
      log: this.#deps.log.child('ssh'),
      backoff: this.#deps.backoff,
    });
    this.#disposer.add(
      tunnel.on('state', ({ state, step, error }) => {
        if (state === 'connecting') this.#setHealth({ state: 'connecting', step });
        else if (state === 'reconnecting')
          this.#setHealth({
            state: 'offline',
            step,
            reason: error?.userMessage ?? step,
            code: error?.code ?? 'tunnel_dropped',
          });
        else if (state === 'failed') {
          this.#blocked = true;
          clearTimeout(this.#timer);
          this.#setHealth({
            state: 'error',
            reason: error?.userMessage ?? step,
            code: error?.code,
            ...hostKeyOf(error),
          });
        } else if (state === 'open' && this.#health.state !== 'connecting') {
          // Back after a drop: check at once instead of waiting for the timer.
          this.#client?.reconnectNow();
          this.#schedule(0);
        }
      }),
    );
    this.#setHealth({ state: 'connecting', step: `Opening the SSH tunnel to ${describe(target)}…` });
    await tunnel.start();
    this.#tunnel = tunnel;
    this.#disposer.add(() => tunnel.stop());
  }

  #createClient(once: boolean): void {
    const baseUrl = this.localUrl;
    if (!baseUrl) throw new AppError('comfy_offline', 'The tunnel has no local port yet.');
    const client = new ComfyClient({
      baseUrl,
      headers: authHeaders(this.profile, this.#deps.secrets.headerValue),
      clientId: this.#clientId,
      log: this.#deps.log.child('comfy'),
      fetch: this.#deps.fetch,
      socket: { backoff: this.#deps.backoff },
      // A one-off check opens no socket; only the lasting client speaks for this ComfyDesk.
      ...(once ? {} : { clientId: this.#deps.clientId }),
    });
    this.#client = client;
    this.#disposer.add(() => client.close());
    if (once) return;
    this.#disposer.add(
      client.on('open', ({ isReconnect }) => {
        if (this.#health.state === 'online') this.#setHealth({ ...this.#health, state: 'online', isSocketOpen: true });
        if (isReconnect) this.#schedule(0); // the server may have restarted: check it and re-read its inventory
      }),
    );
    this.#disposer.add(
      client.on('closed', () => {
        if (this.#health.state === 'online') this.#setHealth({ ...this.#health, state: 'online', isSocketOpen: false });
      }),
    );
  }

  async #check(once: boolean): Promise<void> {
    const client = this.#client!;
    const wasOnline = this.#health.state === 'online';
    // While retrying, the last failure stays known ("Connection refused … — is ComfyUI running?") instead of flickering away.
    const lastFailure =
      this.#failures > 0 && this.#health.reason ? { reason: this.#health.reason, code: this.#health.code } : {};
    if (!wasOnline)
      this.#setHealth({ state: 'connecting', step: `Checking ComfyUI at ${client.baseUrl}…`, ...lastFailure });
    const started = performance.now();
    const stats = await client.systemStats({ timeoutMs: this.#deps.checkTimeoutMs ?? 8000 });
    const latencyMs = Math.round(performance.now() - started);
    this.#failures = 0;
    this.#setHealth({ state: 'online', step: 'Connected', latencyMs, facts: factsFrom(stats) });
    if (once) return;
    client.connect();
    if (!wasOnline && (this.#deps.readInventory ?? true)) {
      void this.refreshInventory().catch((error: unknown) =>
        this.#deps.log.warn('could not read the server inventory', { error }),
      );
    }
    this.#schedule(this.#deps.healthIntervalMs ?? 15_000);
  }

  #fail(error: unknown, once: boolean): void {
    const appError =
      error instanceof AppError
        ? error
        : new AppError('comfy_unreachable', `${this.profile.name} could not be reached.`, { cause: error });
    const isForUser = needsUser(appError);
    this.#deps.log.debug('connection check failed', {
      profile: this.profile.id,
      code: appError.code,
      message: appError.message,
    });
    this.#setHealth({
      state: isForUser ? 'error' : 'offline',
      reason: appError.userMessage,
      code: appError.code,
      ...hostKeyOf(appError),
    });
    if (once || isForUser || !this.#running) return;
    const delay = Math.min(backoffDelayMs(this.#failures, this.#deps.backoff), this.#deps.healthIntervalMs ?? 15_000);
    this.#failures += 1;
    this.#schedule(delay);
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const run = this.#attempt().finally(() => {
        if (this.#checking === run) this.#checking = undefined;
      });
      this.#checking = run;
    }, delayMs);
    this.#timer.unref();
  }
}

function hostKeyOf(error: AppError | undefined): Pick<ConnectionHealth, 'hostKey'> {
  const hostKey = (error?.details as { hostKey?: ConnectionHealth['hostKey'] } | undefined)?.hostKey;
  return hostKey ? { hostKey } : {};
}
