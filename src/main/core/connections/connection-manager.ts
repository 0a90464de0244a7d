import { randomUUID } from 'node:crypto';
import {
  ConnectionProfile,
  type ConnectionDraft,
  type ConnectionHealth,
  type ConnectionSecrets,
  type ConnectionsSettings,
  type ConnectionsSnapshot,
  type ModelsListing,
  type OpenResult,
} from '@shared/domain/connection';
import type { ServerInventory } from '@shared/domain/inventory';
import type { BackoffOptions } from '@shared/backoff';
import type { ComfyClient, FetchLike } from '../comfy/comfy-client';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import { defaultKnownHostsPath, knownHostsReader } from './known-hosts';
import type { Logger } from '../lib/logger';
import type { SettingsService } from '../settings/settings-service';
import { generationIds, withGeneration } from './generation-members';
import {
  offlineHealth,
  pageForBrowser,
  withPinnedHostKey,
  type PodRouteResolver,
  type SessionTarget,
} from './profile-targets';
import { SECRET_NAMES, secretKey, type SecretStore } from './secret-store';
import { SessionProfiles } from './session-profiles';
import { ServerConnection, type ConnectionSecretsValue, type ConnectionTarget } from './server-connection';

/** What the connection manager tells the core. */
export interface ConnectionManagerEvents {
  /** Profiles, the active one, which are online: after every change. */
  changed: ConnectionsSnapshot;
  /** One connection's health, on every change. */
  health: ConnectionHealth;
  /** A server's node types and model files, whenever they were (re)read. */
  inventory: ServerInventory;
}

/** Options that differ between the app and tests. */
export interface ConnectionOptions {
  /** @default ~/.ssh/known_hosts */
  knownHostsPath?: string;
  /** @default process.env.SSH_AUTH_SOCK */
  agentSocket?: string;
  /** @default 15000 */
  healthIntervalMs?: number;
  /** Deadline of one health check. @default 8000 */
  checkTimeoutMs?: number;
  backoff?: BackoffOptions;
  fetch?: FetchLike;
  /** Keep the active and chosen profiles online. Off for one-shot CLI runs. @default true */
  autoConnect?: boolean;
  /**
   * The ComfyUI socket's client id for a profile. ComfyUI sends a prompt's progress only to the
   * client id it was queued with, so a job still running after ComfyDesk restarts reports again
   * only if the id stays the same. @default a new random id per client
   */
  clientIdFor?: (profileId: string) => string;
  /** A server for this session only, made the default at start (`--server`/`--ssh` of serve mode and the CLI). */
  session?: SessionTarget;
  /** More such servers, which take jobs beside the default (serve mode's further `--server`/`--ssh`). */
  sessionServers?: SessionTarget[];
}

/** The manager's collaborators: settings for profiles, the secret store, and the shell's window opener. */
export interface ConnectionManagerDeps extends ConnectionOptions {
  settings: SettingsService;
  secrets: SecretStore;
  log: Logger;
  /** Opens ComfyUI's own page in a desktop window (the Electron shell provides it). */
  openWindow?: (url: string) => Promise<void>;
  /** Resolves RunPod profiles to SSH or proxy targets; without it RunPod connections cannot connect. */
  pods?: PodRouteResolver;
  now?: () => number;
}

/**
 * Owns the connection profiles (in settings) and their secrets (in the secret store), keeps the
 * active profile and any others the user chose online, and tells everyone about their health and
 * inventories. Other areas reach ComfyUI through `client(serverId)` and check workflows against
 * `inventory(serverId)`.
 */
export class ConnectionManager {
  readonly #deps: ConnectionManagerDeps;
  readonly #emitter: Emitter<ConnectionManagerEvents>;
  readonly #connections = new Map<string, { connection: ServerConnection; signature: string; off: Unsubscribe[] }>();
  /** Health of profiles that are not online: the last test or the last state before going offline. */
  readonly #lastHealth = new Map<string, ConnectionHealth>();
  /** Session-only profiles (never in settings), their secrets, saved profiles kept online, the session default. */
  readonly #sessions = new SessionProfiles();
  #offSettings: Unsubscribe | undefined;
  #started = false;

  constructor(deps: ConnectionManagerDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  on<K extends keyof ConnectionManagerEvents>(
    name: K,
    listener: (payload: ConnectionManagerEvents[K]) => void,
  ): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#offSettings = this.#deps.settings.on('changed', () => this.#reconcile());
    if (this.#deps.session) this.openSession(this.#deps.session, { makeDefault: true });
    for (const target of this.#deps.sessionServers ?? []) this.openSession(target, { isForGeneration: true });
    if (!this.#deps.session && !this.#deps.sessionServers?.length) this.#reconcile();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#offSettings?.();
    await Promise.all([...this.#connections.keys()].map((id) => this.#disconnect(id)));
  }

  // ---- what other areas use ----

  /** The ComfyUI client of an online profile (undefined while it is offline). @default the active profile */
  client(serverId?: string): ComfyClient | undefined {
    const id = serverId ?? this.#settings().activeId ?? undefined;
    return id ? this.#connections.get(id)?.connection.client : undefined;
  }

  /** The live connection of a profile kept online (its client, SSH shell and inventory); undefined otherwise. */
  connection(serverId: string): ServerConnection | undefined {
    return this.#connections.get(serverId)?.connection;
  }

  /** The node types and model files of an online server, once read. */
  inventory(serverId: string): ServerInventory | undefined {
    return this.#connections.get(serverId)?.connection.inventory;
  }

  /** Where an online connection goes now: its URL or SSH host (a RunPod profile's resolved route). */
  target(serverId: string): ConnectionTarget | undefined {
    return this.#connections.get(serverId)?.connection.target;
  }

  /** A saved profile, or undefined. */
  profile(serverId: string): ConnectionProfile | undefined {
    return this.#settings().profiles.find((item) => item.id === serverId);
  }

  /** A secret kept for a profile (the pods area reads a RunPod profile's API key). Never logged. */
  secret(serverId: string, name: 'apiKey' | 'passphrase' | 'headerValue'): string | undefined {
    return this.#deps.secrets.get(secretKey(serverId, name));
  }

  /**
   * Drops an online connection and opens it again now (a pod that was started again, or whose
   * address changed), instead of waiting for its next retry.
   */
  async reconnect(serverId: string): Promise<void> {
    if (!this.#connections.has(serverId)) return;
    this.#lastHealth.delete(serverId);
    await this.#disconnect(serverId);
    this.#reconcile();
  }

  health(serverId: string): ConnectionHealth {
    return (
      this.#connections.get(serverId)?.connection.health ??
      this.#lastHealth.get(serverId) ??
      offlineHealth(serverId, (this.#deps.now ?? Date.now)())
    );
  }

  get activeId(): string | null {
    return this.#settings().activeId;
  }

  snapshot(): ConnectionsSnapshot {
    const settings = this.#settings();
    return {
      profiles: settings.profiles,
      activeId: settings.activeId,
      online: [...this.#connections.keys()],
      health: settings.profiles.map((profile) => this.health(profile.id)),
      withSecrets: settings.profiles
        .filter(
          (profile) =>
            this.#sessions.secrets.has(profile.id) ||
            SECRET_NAMES.some((name) => this.#deps.secrets.get(secretKey(profile.id, name)) !== undefined),
        )
        .map((profile) => profile.id),
      secretStorage: this.#deps.secrets.kind,
      sessionOnly: [...this.#sessions.profiles.keys()],
      generation: generationIds(settings),
    };
  }

  /** The servers jobs are spread over: the default profile and those marked "Use for generation". */
  generationIds(): string[] {
    return generationIds(this.#settings());
  }

  /**
   * Brings a server online for this session only and returns its profile id. A saved or session profile for the
   * same server is reused (a saved one as it is in settings); a new one gets an id from its address, so its runs
   * line up across sessions. With `makeDefault` it is the default, with `isForGeneration` it takes jobs too.
   */
  openSession(target: SessionTarget, options: { makeDefault?: boolean; isForGeneration?: boolean } = {}): string {
    const existing = this.#sessions.find(target, this.#settings());
    const { id, hasNewSecrets } = this.#sessions.add(target, existing, options.isForGeneration);
    if (hasNewSecrets && this.#connections.has(id)) void this.#disconnect(id); // reconnect with the secret given now
    if (options.makeDefault) this.#sessions.activeId = id;
    this.#lastHealth.delete(id);
    this.#reconcile();
    return id;
  }

  // ---- commands ----

  save(draft: ConnectionDraft, secrets: ConnectionSecrets = {}): ConnectionsSnapshot {
    const settings = this.#settings();
    const id = draft.id ?? randomUUID();
    const existing = settings.profiles.find((profile) => profile.id === id);
    let profile = ConnectionProfile.parse({ ...draft, id });
    // A pinned host key belongs to one host and port: editing either drops it, so the new host is checked again.
    if (
      profile.kind === 'ssh' &&
      existing?.kind === 'ssh' &&
      (existing.host !== profile.host || existing.port !== profile.port)
    ) {
      profile = { ...profile, pinnedHostKey: undefined };
    }
    if (profile.kind === 'ssh' && !existing)
      profile = { ...profile, pinnedHostKey: draft.kind === 'ssh' ? draft.pinnedHostKey : undefined };
    // A pod's key belongs to that pod: another pod is checked again.
    if (profile.kind === 'runpod' && (existing?.kind !== 'runpod' || existing.podId !== profile.podId))
      profile = { ...profile, pinnedHostKey: undefined };
    for (const name of SECRET_NAMES) {
      const value = secrets[name];
      if (value === undefined) continue;
      if (this.#sessions.profiles.has(id)) {
        const kept = { ...this.#sessions.secrets.get(id) };
        if (value === '') delete kept[name];
        else kept[name] = value;
        this.#sessions.secrets.set(id, kept);
      } else if (value === '') this.#deps.secrets.delete(secretKey(id, name));
      else this.#deps.secrets.set(secretKey(id, name), value);
    }
    const profiles = existing
      ? settings.profiles.map((item) => (item.id === id ? profile : item))
      : [...settings.profiles, profile];
    const activeId = settings.activeId ?? id;
    // Secrets are not in settings, so a secret-only change must restart the connection itself.
    if (this.#connections.has(id)) void this.#disconnect(id);
    this.#lastHealth.delete(id); // after the disconnect, which remembers errors: an edited profile starts afresh
    this.#update({ ...settings, profiles, activeId });
    return this.snapshot();
  }

  delete(id: string): ConnectionsSnapshot {
    const settings = this.#settings();
    this.#profile(id);
    for (const name of SECRET_NAMES) this.#deps.secrets.delete(secretKey(id, name));
    this.#sessions.secrets.delete(id);
    this.#sessions.online.delete(id);
    const profiles = settings.profiles.filter((profile) => profile.id !== id);
    this.#lastHealth.delete(id);
    this.#update({
      profiles,
      activeId: settings.activeId === id ? (profiles[0]?.id ?? null) : settings.activeId,
      alsoOnline: settings.alsoOnline.filter((item) => item !== id),
      generation: settings.generation.filter((item) => item !== id),
    });
    return this.snapshot();
  }

  setActive(id: string): ConnectionsSnapshot {
    this.#profile(id);
    this.#update({ ...this.#settings(), activeId: id });
    return this.snapshot();
  }

  setOnline(id: string, online: boolean): ConnectionsSnapshot {
    this.#profile(id);
    const settings = this.#settings();
    if (!online && settings.activeId === id) {
      throw new AppError(
        'invalid_input',
        'The default connection stays online. Make another connection the default first.',
      );
    }
    if (!online && this.#sessions.profiles.has(id))
      throw new AppError(
        'invalid_input',
        'This connection was opened for this session only and stays online; delete it to disconnect.',
      );
    if (!online && this.#sessions.online.delete(id)) this.#reconcile();
    const alsoOnline = online
      ? [...new Set([...settings.alsoOnline, id])]
      : settings.alsoOnline.filter((item) => item !== id);
    this.#update({ ...settings, alsoOnline });
    return this.snapshot();
  }

  /** "Use for generation" on or off: the profile joins or leaves the farm (and is kept online while in it). */
  setGeneration(id: string, use: boolean): ConnectionsSnapshot {
    this.#profile(id);
    this.#update(withGeneration(this.#settings(), id, use));
    return this.snapshot();
  }

  /** One check of a saved profile or an unsaved draft; nothing is kept except what it teaches about host keys. */
  async test(
    input: ({ id: string } | { profile: ConnectionDraft; secrets?: ConnectionSecrets }) & { timeoutMs?: number },
  ): Promise<ConnectionHealth> {
    let profile: ConnectionProfile;
    let secrets: ConnectionSecretsValue;
    if ('id' in input) {
      profile = this.#profile(input.id);
      secrets = this.#secretsOf(profile.id);
    } else {
      const id = input.profile.id ?? 'draft';
      profile = ConnectionProfile.parse({ ...input.profile, id });
      const stored = this.#secretsOf(id);
      secrets = {
        passphrase: input.secrets?.passphrase || stored.passphrase,
        headerValue: input.secrets?.headerValue || stored.headerValue,
        apiKey: input.secrets?.apiKey || stored.apiKey,
      };
    }
    const connection = this.#build(profile, secrets, { readInventory: false, timeoutMs: input.timeoutMs });
    const health = await connection.probe();
    if ('id' in input || input.profile.id) {
      if (!this.#connections.has(profile.id)) this.#lastHealth.set(profile.id, health);
      this.#emitter.emit('health', this.health(profile.id));
    }
    return health;
  }

  /** Pins an SSH host key the user confirmed: it must be the one the server presented. */
  trustHostKey(id: string, fingerprint: string): ConnectionsSnapshot {
    const next = withPinnedHostKey(this.#settings(), this.#profile(id), fingerprint, this.health(id).hostKey);
    if (this.#connections.has(id)) void this.#disconnect(id);
    this.#lastHealth.delete(id); // the host-key error is answered
    this.#update(next);
    return this.snapshot();
  }

  /** ComfyUI's own page: a desktop window when the shell can open one, otherwise the URL for the caller's browser. */
  async open(id: string, options: { canOpenWindow: boolean }): Promise<OpenResult> {
    const profile = this.#profile(id);
    const connection = this.#connections.get(id)?.connection;
    const url = profile.kind === 'ssh' || profile.kind === 'runpod' ? connection?.localUrl : profile.url;
    const target = connection?.target;
    if (!url)
      throw new AppError(
        'comfy_offline',
        `${profile.name} is not connected, so its tunnel has no local address yet. Bring it online first.`,
      );
    if (options.canOpenWindow && this.#deps.openWindow) {
      await this.#deps.openWindow(url);
      return { url, openedBy: 'window' };
    }
    return pageForBrowser(target ?? profile, url);
  }

  /** Installed models by folder on a server (the active one by default). */
  async models(serverId: string | undefined, refresh: boolean): Promise<ModelsListing> {
    const id = serverId ?? this.#settings().activeId;
    if (!id)
      throw new AppError(
        'connection_not_found',
        'There is no ComfyUI connection yet. Add one in Settings › Connections.',
      );
    const profile = this.#profile(id);
    const connection = this.#connections.get(id)?.connection;
    if (!connection?.client)
      throw new AppError(
        'comfy_offline',
        `${profile.name} is not connected right now. ${this.health(id).reason ?? ''}`.trim(),
      );
    const { models, fetchedAt } =
      !refresh && connection.inventory ? connection.inventory : await connection.refreshInventory();
    return { serverId: id, folders: Object.entries(models).map(([name, files]) => ({ name, files })), fetchedAt };
  }

  // ---- internals ----

  /** The saved connections with this session's own merged in (session profiles last, the session default first). */
  #settings(): ConnectionsSettings {
    return this.#sessions.merge(this.#deps.settings.get().connections);
  }

  /** Writes a change to the merged view: session profiles stay in memory, everything else goes to settings. */
  #update(next: ConnectionsSettings): void {
    const stored = this.#sessions.absorb(next, this.#settings(), this.#deps.settings.get().connections);
    this.#deps.settings.update({ connections: stored });
    this.#reconcile(); // session-only changes leave settings as they were, so nothing else would reconcile
  }

  #profile(id: string): ConnectionProfile {
    const profile = this.#settings().profiles.find((item) => item.id === id);
    if (!profile)
      throw new AppError(
        'connection_not_found',
        'That connection no longer exists. It may have been deleted in another window.',
        { details: { id } },
      );
    return profile;
  }

  /** A profile's secrets: those given for this session first, then the secret store's. */
  #secretsOf(id: string): ConnectionSecretsValue {
    const passphrase = this.#deps.secrets.get(secretKey(id, 'passphrase'));
    const headerValue = this.#deps.secrets.get(secretKey(id, 'headerValue'));
    const apiKey = this.#deps.secrets.get(secretKey(id, 'apiKey'));
    return {
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(headerValue !== undefined ? { headerValue } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...this.#sessions.secrets.get(id),
    };
  }

  #build(
    profile: ConnectionProfile,
    secrets: ConnectionSecretsValue,
    options: { readInventory: boolean; timeoutMs?: number },
  ): ServerConnection {
    return new ServerConnection({
      profile,
      secrets,
      log: this.#deps.log.child(profile.id),
      agentSocket: this.#deps.agentSocket,
      readKnownHosts: knownHostsReader(this.#deps.knownHostsPath ?? defaultKnownHostsPath(), this.#deps.log),
      now: this.#deps.now,
      fetch: this.#deps.fetch,
      healthIntervalMs: this.#deps.healthIntervalMs,
      checkTimeoutMs: options.timeoutMs ?? this.#deps.checkTimeoutMs,
      ...(options.timeoutMs !== undefined ? { connectTimeoutMs: options.timeoutMs } : {}),
      backoff: this.#deps.backoff,
      readInventory: options.readInventory,
      clientId: this.#deps.clientIdFor?.(profile.id),
      resolveRoute: async (runpod) => {
        if (!this.#deps.pods)
          throw new AppError(
            'pod_unreachable',
            `${runpod.name} is a RunPod connection, which this ComfyDesk cannot use.`,
          );
        return this.#deps.pods.resolve(runpod, secrets.apiKey);
      },
    });
  }

  #reconcile(): void {
    if (!this.#started) return;
    const settings = this.#settings();
    const wanted = new Map<string, ConnectionProfile>();
    for (const profile of settings.profiles) {
      const isSession = this.#sessions.profiles.has(profile.id) || this.#sessions.online.has(profile.id);
      const isChosen =
        profile.id === settings.activeId ||
        settings.alsoOnline.includes(profile.id) ||
        settings.generation.includes(profile.id);
      // Session servers were asked for explicitly; saved ones follow autoConnect.
      if (isSession || (isChosen && (this.#deps.autoConnect ?? true))) wanted.set(profile.id, profile);
    }
    for (const [id, entry] of this.#connections) {
      const profile = wanted.get(id);
      if (!profile || JSON.stringify(profile) !== entry.signature) void this.#disconnect(id);
    }
    for (const [id, profile] of wanted) {
      if (this.#connections.has(id)) continue;
      const connection = this.#build(profile, this.#secretsOf(id), { readInventory: true });
      const off = [
        connection.on('health', (health) => this.#emitter.emit('health', health)),
        connection.on('inventory', (inventory) => this.#emitter.emit('inventory', inventory)),
      ];
      this.#connections.set(id, { connection, signature: JSON.stringify(profile), off });
      connection.start();
    }
    this.#emitter.emit('changed', this.snapshot());
  }

  async #disconnect(id: string): Promise<void> {
    const entry = this.#connections.get(id);
    if (!entry) return;
    this.#connections.delete(id);
    for (const off of entry.off) off();
    const last = entry.connection.health;
    // Keep what needs the user (an unknown host key to confirm), forget the rest.
    if (last.state === 'error') this.#lastHealth.set(id, last);
    await entry.connection.stop();
    if (this.#started && this.#settings().profiles.some((profile) => profile.id === id))
      this.#emitter.emit('health', this.health(id));
  }
}
