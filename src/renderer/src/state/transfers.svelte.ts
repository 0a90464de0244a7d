import {
  FINISHED_TRANSFER_STATES,
  type MissingReport,
  type NodePack,
  type TokenProvider,
  type TokenStatus,
  type TransferItem,
  type TransferRequest,
  type TransfersDelta,
  type UrlProbe,
} from '@shared/domain/transfer';
import type { ApiClient } from '../api';
import type { Toasts } from './toasts.svelte';

/** A pack for the cards ("needs ComfyUI-KJNodes (3 node types)"), or null when no source knows the type. */
export type PackOf = Pick<NodePack, 'id' | 'title' | 'url'> | null;

/**
 * Transfers as the window sees it: every download and pack install (kept current by
 * `transfers.updated`, re-fetched when the link comes back), the reports behind "Get missing", the
 * packs of unknown node types for the cards, and the access tokens' status.
 */
export class TransfersState {
  #items = $state.raw<ReadonlyMap<string, TransferItem>>(new Map());
  #tokens = $state.raw<TokenStatus | undefined>(undefined);
  #packs = $state.raw<ReadonlyMap<string, PackOf>>(new Map());
  #getMissingFor = $state.raw<{ workflowId: string; workflowName: string } | undefined>(undefined);
  readonly #packRequests = new Set<string>();
  #packTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #api: ApiClient;
  readonly #toasts: Toasts;

  constructor(api: ApiClient, toasts: Toasts) {
    this.#api = api;
    this.#toasts = toasts;
  }

  /** Every transfer, newest first. */
  get items(): TransferItem[] {
    return [...this.#items.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Transfers not yet finished (the sidebar's badge). */
  get activeCount(): number {
    let count = 0;
    for (const item of this.#items.values()) if (!FINISHED_TRANSFER_STATES.has(item.state)) count += 1;
    return count;
  }

  /** Transfers grouped by server, servers by name. */
  get byServer(): Array<{ serverId: string; serverName: string; items: TransferItem[] }> {
    const groups = new Map<string, { serverId: string; serverName: string; items: TransferItem[] }>();
    for (const item of this.items) {
      const group = groups.get(item.serverId) ?? { serverId: item.serverId, serverName: item.serverName, items: [] };
      group.items.push(item);
      groups.set(item.serverId, group);
    }
    return [...groups.values()].sort((a, b) => a.serverName.localeCompare(b.serverName));
  }

  get hasFinished(): boolean {
    return this.items.some((item) => FINISHED_TRANSFER_STATES.has(item.state));
  }

  get tokens(): TokenStatus | undefined {
    return this.#tokens;
  }

  /** The workflow whose Get missing dialog is open (one for the whole window, so a card scrolling away keeps it). */
  get getMissingFor(): { workflowId: string; workflowName: string } | undefined {
    return this.#getMissingFor;
  }

  openGetMissing(workflowId: string, workflowName: string): void {
    this.#getMissingFor = { workflowId, workflowName };
  }

  closeGetMissing(): void {
    this.#getMissingFor = undefined;
  }

  item(id: string | undefined): TransferItem | undefined {
    return id === undefined ? undefined : this.#items.get(id);
  }

  /** The transfers for one workflow on one server (its Get missing progress). */
  forWorkflow(workflowId: string, serverId: string | null): TransferItem[] {
    return this.items.filter(
      (item) => item.workflowIds.includes(workflowId) && (serverId === null || item.serverId === serverId),
    );
  }

  connect(): () => void {
    const offs = [
      this.#api.on('transfers.updated', (delta) => this.#apply(delta)),
      this.#api.onLink((state) => {
        if (state === 'open') void this.refresh(); // errors become a toast inside refresh
      }),
    ];
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      clearTimeout(this.#packTimer);
      for (const off of offs) off();
    };
  }

  async refresh(): Promise<void> {
    try {
      const [snapshot, tokens] = await Promise.all([
        this.#api.call('transfers.list', {}),
        this.#api.call('transfers.tokens', {}),
      ]);
      this.#items = new Map(snapshot.items.map((item) => [item.id, item]));
      this.#tokens = tokens;
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** What a workflow lacks on a server (the default one unless named). Throws the core's error. */
  missing(workflowId: string, serverId?: string): Promise<MissingReport> {
    return this.#api.call(
      'transfers.missing',
      { workflowId, ...(serverId ? { serverId } : {}) },
      { timeoutMs: 120_000 },
    );
  }

  probeUrl(url: string): Promise<UrlProbe> {
    return this.#api.call('transfers.probeUrl', { url }, { timeoutMs: 30_000 });
  }

  /** Starts the downloads; answers whether the core accepted them (a refusal becomes a toast). */
  async start(input: {
    workflowId?: string;
    serverId?: string;
    models: TransferRequest[];
  }): Promise<string[] | undefined> {
    try {
      const { ids } = await this.#api.call('transfers.start', input, { timeoutMs: 120_000 });
      return ids;
    } catch (error) {
      this.#toasts.error(error);
      return undefined;
    }
  }

  async installPack(input: { packId: string; workflowId?: string; serverId?: string }): Promise<void> {
    await this.#toasts.attempt(() => this.#api.call('transfers.installPack', input, { timeoutMs: 60_000 }));
  }

  async restartServer(serverId?: string): Promise<void> {
    if (await this.#toasts.attempt(() => this.#api.call('transfers.restartServer', serverId ? { serverId } : {})))
      this.#toasts.push({
        level: 'info',
        message: 'ComfyUI is restarting; packs count as installed once it lists their nodes.',
      });
  }

  async pause(id: string): Promise<void> {
    await this.#toasts.attempt(() => this.#api.call('transfers.pause', { id }));
  }

  async resume(id: string): Promise<void> {
    await this.#toasts.attempt(() => this.#api.call('transfers.resume', { id }));
  }

  async cancel(id: string): Promise<void> {
    await this.#toasts.attempt(() => this.#api.call('transfers.cancel', { id }));
  }

  async clear(): Promise<void> {
    await this.#toasts.attempt(async () => {
      const snapshot = await this.#api.call('transfers.clear', {});
      this.#items = new Map(snapshot.items.map((item) => [item.id, item]));
    });
  }

  /** Keeps (or, empty, forgets) an access token; answers whether it worked. */
  async setToken(provider: TokenProvider, token: string): Promise<boolean> {
    return this.#toasts.attempt(async () => {
      this.#tokens = await this.#api.call('transfers.setToken', { provider, token });
    });
  }

  /** The pack of a node type as far as the public map knows; undefined until asked (then asked in one batch). */
  packOf(nodeType: string): PackOf | undefined {
    const known = this.#packs.get(nodeType);
    if (known !== undefined || this.#packRequests.has(nodeType)) return known;
    this.#packRequests.add(nodeType);
    // Cards render in bursts: one request for every type they asked about.
    this.#packTimer ??= setTimeout(() => void this.#loadPacks(), 30);
    return undefined;
  }

  async #loadPacks(): Promise<void> {
    this.#packTimer = undefined;
    const types = [...this.#packRequests].filter((type) => !this.#packs.has(type));
    if (types.length === 0) return;
    try {
      const { packs } = await this.#api.call('transfers.packs', { nodeTypes: types }, { timeoutMs: 60_000 });
      const next = new Map(this.#packs);
      for (const type of types) next.set(type, null);
      for (const pack of packs)
        for (const type of pack.nodeTypes) next.set(type, { id: pack.id, title: pack.title, url: pack.url });
      this.#packs = next;
    } catch {
      // Cards then show the node types without packs; a later card asks again.
      for (const type of types) this.#packRequests.delete(type);
    }
  }

  #apply(delta: TransfersDelta): void {
    const next = new Map(this.#items);
    for (const item of delta.items) next.set(item.id, item);
    for (const id of delta.removed) next.delete(id);
    this.#items = next;
  }
}
