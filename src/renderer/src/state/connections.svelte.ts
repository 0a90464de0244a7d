import type {
  ConnectionDraft,
  ConnectionHealth,
  ConnectionProfile,
  ConnectionSecrets,
  ConnectionsSnapshot,
  ModelsListing,
} from '@shared/domain/connection';
import type { FarmFit } from '@shared/domain/workflow';
import type { ApiClient } from '../api';
import { ApiError, errorMessage } from '../api';
import type { Toasts } from './toasts.svelte';

/** The outcome of a save: ok, or the problems to show beside the fields (by field path) and in general. */
export type SaveResult = { ok: true; id: string } | { ok: false; message: string; fieldErrors: Record<string, string> };

/** Opens a URL in a new browser tab (injectable so tests see what would open). */
export type OpenTab = (url: string) => void;

/**
 * ComfyUI connections as the window sees them: profiles, which one is the default, the live health
 * of each, and the models of a server. Kept in step with the core through `connections.changed`
 * and `connections.health`, and re-fetched whenever the link to the core comes back.
 */
export class ConnectionsState {
  #snapshot = $state.raw<ConnectionsSnapshot | undefined>(undefined);
  #health = $state.raw<Record<string, ConnectionHealth>>({});
  #models = $state.raw<ModelsListing | undefined>(undefined);
  #modelsError = $state<string | undefined>(undefined);
  #isLoadingModels = $state(false);
  #fit = $state.raw<FarmFit>({ total: 0, ready: {} });
  readonly #api: ApiClient;
  readonly #toasts: Toasts;
  readonly #openTab: OpenTab;
  #checking = $state.raw<ReadonlySet<string>>(new Set());

  constructor(api: ApiClient, toasts: Toasts, options: { openTab?: OpenTab } = {}) {
    this.#api = api;
    this.#toasts = toasts;
    this.#openTab = options.openTab ?? ((url) => window.open(url, '_blank', 'noopener,noreferrer'));
  }

  get snapshot(): ConnectionsSnapshot | undefined {
    return this.#snapshot;
  }

  get profiles(): ConnectionProfile[] {
    return this.#snapshot?.profiles ?? [];
  }

  get activeId(): string | null {
    return this.#snapshot?.activeId ?? null;
  }

  get active(): ConnectionProfile | undefined {
    return this.profiles.find((profile) => profile.id === this.activeId);
  }

  /** The health of the default connection (what the sidebar shows). */
  get activeHealth(): ConnectionHealth | undefined {
    return this.activeId ? this.health(this.activeId) : undefined;
  }

  get models(): ModelsListing | undefined {
    return this.#models;
  }

  get modelsError(): string | undefined {
    return this.#modelsError;
  }

  get isLoadingModels(): boolean {
    return this.#isLoadingModels;
  }

  health(id: string): ConnectionHealth | undefined {
    return this.#health[id];
  }

  /** The servers jobs are spread over: the default one and those marked "Use for generation". */
  get generationIds(): string[] {
    return this.#snapshot?.generation ?? (this.activeId ? [this.activeId] : []);
  }

  isForGeneration(id: string): boolean {
    return this.generationIds.includes(id);
  }

  /** A server's name as people know it. */
  nameOf(id: string): string {
    return this.profiles.find((profile) => profile.id === id)?.name ?? id;
  }

  /** On how many of the servers used for generation a workflow can run (`total` 0 until known). */
  fitOf(workflowId: string): { ready: number; total: number } {
    return { ready: this.#fit.ready[workflowId] ?? 0, total: this.#fit.total };
  }

  isOnline(id: string): boolean {
    return this.#snapshot?.online.includes(id) ?? false;
  }

  /** Whether a connection that is not kept online is being looked at now (see `checkIdle`). */
  isChecking(id: string): boolean {
    return this.#checking.has(id);
  }

  /**
   * Looks once at every web-address connection that is not kept online, so a healthy one reads
   * "Reachable" and a dead one says why, instead of all of them reading "Offline". SSH connections
   * are not opened just to look.
   */
  async checkIdle(): Promise<void> {
    const ids = this.profiles
      .filter((profile) => profile.kind !== 'ssh' && !this.isOnline(profile.id) && !this.#checking.has(profile.id))
      .map((profile) => profile.id);
    if (ids.length === 0) return;
    this.#checking = new Set([...this.#checking, ...ids]);
    await Promise.all(
      ids.map(async (id) => {
        await this.test({ id });
        this.#checking = new Set([...this.#checking].filter((item) => item !== id));
      }),
    );
  }

  hasSecret(id: string): boolean {
    return this.#snapshot?.withSecrets.includes(id) ?? false;
  }

  connect(): () => void {
    const offChanged = this.#api.on('connections.changed', (snapshot) => this.#apply(snapshot));
    const offHealth = this.#api.on('connections.health', (health) => {
      this.#health = { ...this.#health, [health.serverId]: health };
      // A server that just came online may have models to show now.
      if (health.state === 'online' && health.serverId === this.activeId && this.#modelsError) void this.loadModels();
    });
    const offFit = this.#api.on('workflows.servers', (fit) => (this.#fit = fit));
    const offLink = this.#api.onLink((state) => {
      if (state === 'open') void this.refresh(); // errors become a toast inside refresh
    });
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      offChanged();
      offHealth();
      offFit();
      offLink();
    };
  }

  async refresh(): Promise<void> {
    try {
      // Fire-and-forget: without it the cards only leave out on how many servers a workflow runs.
      void this.#api.call('workflows.servers', {}).then(
        (fit) => (this.#fit = fit),
        () => undefined,
      );
      this.#apply(await this.#api.call('connections.list', {}));
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  async save(profile: ConnectionDraft, secrets?: ConnectionSecrets): Promise<SaveResult> {
    const before = new Set(this.profiles.map((item) => item.id));
    try {
      const snapshot = await this.#api.call('connections.save', { profile, ...(secrets ? { secrets } : {}) });
      this.#apply(snapshot);
      const id = profile.id ?? snapshot.profiles.find((item) => !before.has(item.id))?.id ?? '';
      return { ok: true, id };
    } catch (error) {
      return failure(error);
    }
  }

  async remove(id: string): Promise<boolean> {
    return this.#run(async () => this.#apply(await this.#api.call('connections.delete', { id })));
  }

  async setActive(id: string): Promise<boolean> {
    return this.#run(async () => this.#apply(await this.#api.call('connections.setActive', { id })));
  }

  /** "Use for generation": the server takes jobs (and is kept online). */
  async setGeneration(id: string, use: boolean): Promise<boolean> {
    return this.#run(async () => this.#apply(await this.#api.call('connections.setGeneration', { id, use })));
  }

  async setOnline(id: string, online: boolean): Promise<boolean> {
    return this.#run(async () => this.#apply(await this.#api.call('connections.setOnline', { id, online })));
  }

  /** Checks a saved profile (by id) or a draft; the answer is also the profile's latest health. */
  async test(
    input: { id: string } | { profile: ConnectionDraft; secrets?: ConnectionSecrets },
  ): Promise<ConnectionHealth | { error: string; fieldErrors: Record<string, string> }> {
    try {
      const health = await this.#api.call('connections.test', input, { timeoutMs: 60_000 });
      if ('id' in input) this.#health = { ...this.#health, [input.id]: health };
      return health;
    } catch (error) {
      const result = failure(error);
      return { error: result.ok ? '' : result.message, fieldErrors: result.ok ? {} : result.fieldErrors };
    }
  }

  async trustHostKey(id: string, fingerprint: string): Promise<boolean> {
    return this.#run(async () => this.#apply(await this.#api.call('connections.trustHostKey', { id, fingerprint })));
  }

  /** Opens ComfyUI's own page: the desktop app opens a window; in a browser a new tab opens here. */
  async open(id: string): Promise<void> {
    try {
      const result = await this.#api.call('connections.open', { id });
      if (result.openedBy === 'client') this.#openTab(result.url);
      if (result.note) this.#toasts.push({ level: 'info', message: result.note });
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** Asks the desktop app's file dialog for a key file; undefined when cancelled or unavailable. */
  async pickKeyFile(): Promise<string | undefined> {
    try {
      return (await this.#api.call('connections.pickKeyFile', {}, { timeoutMs: 10 * 60_000 })).path ?? undefined;
    } catch (error) {
      this.#toasts.error(error);
      return undefined;
    }
  }

  /** Reads the default server's models (or another server's). */
  async loadModels(options: { serverId?: string; refresh?: boolean } = {}): Promise<void> {
    this.#isLoadingModels = true;
    try {
      this.#models = await this.#api.call(
        'models.list',
        { ...(options.serverId ? { serverId: options.serverId } : {}), refresh: options.refresh ?? false },
        { timeoutMs: 120_000 },
      );
      this.#modelsError = undefined;
    } catch (error) {
      this.#models = undefined;
      this.#modelsError = errorMessage(error);
    } finally {
      this.#isLoadingModels = false;
    }
  }

  #apply(snapshot: ConnectionsSnapshot): void {
    this.#snapshot = snapshot;
    const health: Record<string, ConnectionHealth> = {};
    for (const item of snapshot.health) health[item.serverId] = item;
    this.#health = health;
  }

  async #run(action: () => Promise<void>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      this.#toasts.error(error);
      return false;
    }
  }
}

/** Turns a failed save or test into words: invalid fields by path, otherwise the core's message. */
function failure(error: unknown): SaveResult {
  if (!(error instanceof ApiError)) return { ok: false, message: String(error), fieldErrors: {} };
  const issues = (error.details?.issues as Array<{ path: string; message: string }> | undefined) ?? [];
  const fieldErrors: Record<string, string> = {};
  for (const issue of issues) {
    const field = issue.path.replace(/^profile\./, '');
    fieldErrors[field] ??= issue.message;
  }
  return { ok: false, message: issues.length > 0 ? 'Some fields need attention.' : error.userMessage, fieldErrors };
}
