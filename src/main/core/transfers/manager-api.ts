import type { ManagerInfo } from '@shared/domain/transfer';
import type { ComfyClient } from '../comfy/comfy-client';
import { AppError } from '../lib/errors';
import type { ManagerModelEntry } from './model-list';
import { NodeMap } from './node-map';

/** ComfyUI-Manager's work queue, as `queue/status` reports it. */
export interface ManagerQueueStatus {
  total: number;
  done: number;
  inProgress: number;
  isProcessing: boolean;
}

/** Where ComfyUI-Manager keeps its security setting, for the message when it refuses. */
const SECURITY_HINT =
  "ComfyUI-Manager refused (its security level). A server started with --listen (every RunPod pod) only allows installs with `security_level = weak` in ComfyUI-Manager's config.ini (user/default/ComfyUI-Manager/config.ini, or custom_nodes/ComfyUI-Manager/config.ini on older versions); set it there and restart ComfyUI, or run the commands shown instead.";

/**
 * ComfyUI-Manager on a server, reached through ComfyUI's own address: legacy routes under
 * `/manager/…` (v3) or `/v2/manager/…` (newer), detected from `…/version`.
 */
export class ManagerApi {
  readonly info: ManagerInfo;
  readonly #client: ComfyClient;
  readonly #clientId: string;

  constructor(client: ComfyClient, info: ManagerInfo) {
    this.#client = client;
    this.info = info;
    this.#clientId = client.clientId;
  }

  /** The Manager the server runs, or undefined when it has none. */
  static async detect(client: ComfyClient): Promise<ManagerApi | undefined> {
    for (const prefix of ['/v2/manager', '/manager']) {
      let response: Response;
      try {
        response = await client.route(`${prefix}/version`, {}, { timeoutMs: 8000 });
      } catch {
        return undefined;
      }
      if (!response.ok) {
        await response.body?.cancel();
        continue;
      }
      const text = (await response.text()).trim();
      // ComfyUI answers unknown routes with its page or a 404; a version is a short line.
      if (text.length > 0 && text.length < 80 && !text.startsWith('<'))
        return new ManagerApi(client, { version: text.replace(/^"|"$/g, ''), prefix });
    }
    return undefined;
  }

  /** Its node type → pack map (the same public map, as ComfyUI-Manager has it cached). */
  async nodeMap(): Promise<NodeMap | undefined> {
    const bases = this.info.prefix === '/manager' ? [''] : ['/v2', ''];
    for (const [base, mode] of bases.flatMap((base) => ['cache', 'local'].map((mode) => [base, mode] as const))) {
      const response = await this.#client
        .route(`${base}/customnode/getmappings?mode=${mode}`, {}, { timeoutMs: 30_000 })
        .catch(() => undefined);
      if (!response?.ok) {
        await response?.body?.cancel();
        continue;
      }
      try {
        return NodeMap.parse(await response.json());
      } catch {
        continue;
      }
    }
    return undefined;
  }

  /** Queues one model of its list (it accepts no other) for download into the server's folder. */
  async installModel(entry: ManagerModelEntry, uiId: string): Promise<void> {
    await this.#post('/queue/install_model', { ...entry, ui_id: uiId, client_id: this.#clientId }, entry.filename);
  }

  /** Queues a custom-node pack: by its registry id when it has one, else by its repository. */
  async installPack(pack: { registryId?: string; url: string | null }, uiId: string): Promise<void> {
    const body = pack.registryId
      ? {
          id: pack.registryId,
          version: 'latest',
          selected_version: 'latest',
          channel: 'default',
          mode: 'remote',
          ui_id: uiId,
          client_id: this.#clientId,
          skip_post_install: false,
        }
      : {
          id: pack.url,
          version: 'unknown',
          selected_version: 'unknown',
          files: [pack.url],
          channel: 'default',
          mode: 'remote',
          ui_id: uiId,
          client_id: this.#clientId,
          skip_post_install: false,
        };
    await this.#post('/queue/install', body, pack.registryId ?? pack.url ?? 'the pack');
  }

  /** Starts working through the queue (a no-op when it already runs). */
  async startQueue(): Promise<void> {
    await this.#getOrPost('/queue/start');
  }

  async status(): Promise<ManagerQueueStatus> {
    const response = await this.#client.route(
      `${this.info.prefix}/queue/status?client_id=${encodeURIComponent(this.#clientId)}`,
      {},
      { timeoutMs: 15_000 },
    );
    if (!response.ok) throw await this.#failure(response, 'read its queue');
    const raw = (await response.json()) as Record<string, unknown>;
    const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
    return {
      total: number(raw.total_count),
      done: number(raw.done_count),
      inProgress: number(raw.in_progress_count),
      isProcessing: raw.is_processing === true,
    };
  }

  /** Drops what is still waiting in its queue (what runs finishes). */
  async resetQueue(): Promise<void> {
    await this.#getOrPost('/queue/reset');
  }

  /** Restarts ComfyUI (the connection drops and comes back). */
  async reboot(): Promise<void> {
    await this.#getOrPost('/reboot', true);
  }

  async #post(path: string, body: unknown, what: string): Promise<void> {
    const response = await this.#client.route(
      `${this.info.prefix}${path}`,
      { method: 'POST', json: body },
      { timeoutMs: 30_000 },
    );
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    throw await this.#failure(response, `queue ${what}`);
  }

  /** Older versions take GET for these, newer ones POST. */
  async #getOrPost(path: string, isDropExpected = false): Promise<void> {
    for (const method of ['GET', 'POST']) {
      let response: Response;
      try {
        response = await this.#client.route(`${this.info.prefix}${path}`, { method }, { timeoutMs: 30_000 });
      } catch (error) {
        // A restarting server may close the connection before it answers.
        if (isDropExpected) return;
        throw error;
      }
      if (response.status === 405) {
        await response.body?.cancel();
        continue;
      }
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
      throw await this.#failure(response, path.replaceAll('/', ' ').trim());
    }
  }

  async #failure(response: Response, action: string): Promise<AppError> {
    const text = (await response.text().catch(() => '')).trim().slice(0, 300);
    if (response.status === 403 || /security/i.test(text))
      return new AppError('manager_refused', SECURITY_HINT, { details: { status: response.status, action } });
    if (response.status === 400 && action.startsWith('queue'))
      return new AppError(
        'manager_refused',
        `ComfyUI-Manager would not ${action}: it only installs models from its own list${text ? ` (${text})` : ''}. Use the command shown instead.`,
        { details: { status: response.status, action } },
      );
    return new AppError(
      'manager_failed',
      `ComfyUI-Manager could not ${action} (HTTP ${response.status}${text && !text.startsWith('<') ? `: ${text}` : ''}).`,
      { details: { status: response.status, action } },
    );
  }
}
