import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeDefinition } from './object-info';

/** One model of the emulated ComfyUI-Manager's list (its `model-list.json` fields). */
export interface ManagerListModel {
  name: string;
  type: string;
  base: string;
  save_path: string;
  filename: string;
  url: string;
  size?: string;
}

/** A custom-node pack the emulated ComfyUI-Manager can install. */
export interface ManagerPack {
  /** Repository URL (the node map's key). */
  url: string;
  registryId?: string;
  nodeTypes: string[];
}

/** How to emulate ComfyUI-Manager (legacy v3 routes under `/manager/…` and `/api/manager/…`). */
export interface ManagerOptions {
  /** @default 'V3.30.4' */
  version?: string;
  /** `strong` refuses installs with 403, as a `--listen` server without `security_level = weak` does. @default 'normal' */
  securityLevel?: 'weak' | 'normal' | 'strong';
  models?: ManagerListModel[];
  packs?: ManagerPack[];
  /**
   * Its installed-packs list (`GET /customnode/installed`, shape of ltdrdata/ComfyUI-Manager
   * glob/manager_core.py `get_installed_node_packs`): module → version, registry id, repository.
   */
  installed?: Record<string, ManagerInstalledPack>;
}

/** One entry of ComfyUI-Manager's `/customnode/installed`. */
export interface ManagerInstalledPack {
  ver: string;
  cnr_id: string;
  aux_id: string | null;
  enabled: boolean;
}

type Task =
  | { kind: 'install-model'; uiId: string; model: ManagerListModel }
  | { kind: 'install'; uiId: string; pack: ManagerPack };

/** What the server lends the emulation. */
export interface ManagerHost {
  folderPaths(): Record<string, string[]>;
  /** Node types a pack adds once ComfyUI has restarted. */
  installNodes(definitions: Record<string, NodeDefinition>): void;
  restart(): Promise<void>;
}

const TYPE_FOLDERS: Record<string, string> = {
  checkpoint: 'checkpoints',
  checkpoints: 'checkpoints',
  lora: 'loras',
  vae: 'vae',
  upscale: 'upscale_models',
  controlnet: 'controlnet',
  clip: 'text_encoders',
  diffusion_model: 'diffusion_models',
};

/**
 * ComfyUI-Manager's queue as ComfyUI-Manager 3.x runs it: `queue/install_model` (only models of its
 * list), `queue/install` (packs), `queue/start`, `queue/status`, `queue/reset`, `reboot`, and
 * `/customnode/getmappings`. Models are really downloaded (from the test's file server) into the
 * server's first folder; packs take effect after `reboot`, as custom nodes load only at start.
 */
export class ManagerEmulation {
  readonly options: ManagerOptions;
  readonly #host: ManagerHost;
  readonly #queue: Task[] = [];
  readonly results = new Map<string, string>();
  #pendingPacks: ManagerPack[] = [];
  #done = 0;
  #inProgress = 0;
  #worker: Promise<void> | undefined;

  constructor(options: ManagerOptions, host: ManagerHost) {
    this.options = options;
    this.#host = host;
  }

  /** Answers a Manager route, or undefined when `path` is not one. */
  async handle(method: string, path: string, body: Buffer): Promise<{ status: number; body: unknown } | undefined> {
    // ComfyUI-Manager 3.x answers under `/manager/…` only (newer ones under `/v2/manager/…`).
    const route = path;
    if (method === 'GET' && route === '/manager/version')
      return { status: 200, body: this.options.version ?? 'V3.30.4' };
    if (method === 'GET' && path === '/customnode/getmappings') return { status: 200, body: this.#mappings() };
    if (method === 'GET' && path === '/customnode/installed')
      return { status: 200, body: this.options.installed ?? {} };
    if (method === 'GET' && route === '/manager/queue/status')
      return {
        status: 200,
        body: {
          total_count: this.#done + this.#inProgress + this.#queue.length,
          done_count: this.#done,
          in_progress_count: this.#inProgress,
          is_processing: this.#worker !== undefined,
        },
      };
    if (method === 'GET' && route === '/manager/queue/start') {
      if (this.#worker) return { status: 201, body: '' };
      this.#done = 0;
      this.#worker = this.#work().finally(() => (this.#worker = undefined));
      return { status: 200, body: '' };
    }
    if (method === 'GET' && route === '/manager/queue/reset') {
      this.#queue.length = 0;
      return { status: 200, body: '' };
    }
    if (method === 'GET' && route === '/manager/reboot') {
      if (this.#isRefused()) return { status: 403, body: '' };
      // Custom nodes load at start: the packs installed so far appear after the restart.
      setImmediate(() => void this.#reboot());
      return { status: 200, body: '' };
    }
    if (method === 'POST' && route === '/manager/queue/install_model') {
      if (this.#isRefused())
        return { status: 403, body: 'A security error has occurred. Please check the terminal logs' };
      const data = JSON.parse(body.toString('utf8')) as ManagerListModel & { ui_id?: string };
      const model = (this.options.models ?? []).find(
        (item) => item.save_path === data.save_path && item.base === data.base && item.filename === data.filename,
      );
      if (!model) return { status: 400, body: 'Invalid model install request is detected' };
      this.#queue.push({ kind: 'install-model', uiId: data.ui_id ?? '', model });
      return { status: 200, body: '' };
    }
    if (method === 'POST' && route === '/manager/queue/install') {
      if (this.#isRefused())
        return { status: 403, body: 'A security error has occurred. Please check the terminal logs' };
      const data = JSON.parse(body.toString('utf8')) as { id?: string; files?: string[]; ui_id?: string };
      const pack = (this.options.packs ?? []).find(
        (item) => item.registryId === data.id || item.url === data.id || data.files?.includes(item.url),
      );
      if (!pack) return { status: 404, body: "Following node pack doesn't provide `nightly` version" };
      this.#queue.push({ kind: 'install', uiId: data.ui_id ?? '', pack });
      return { status: 200, body: '' };
    }
    return undefined;
  }

  #isRefused(): boolean {
    return this.options.securityLevel === 'strong';
  }

  #mappings(): Record<string, unknown> {
    return Object.fromEntries(
      (this.options.packs ?? []).map((pack) => [
        pack.url,
        [
          pack.nodeTypes,
          { title_aux: pack.url.split('/').at(-1), ...(pack.registryId ? { cnr_id: pack.registryId } : {}) },
        ],
      ]),
    );
  }

  async #work(): Promise<void> {
    for (let task = this.#queue.shift(); task; task = this.#queue.shift()) {
      this.#inProgress += 1;
      try {
        if (task.kind === 'install-model') this.results.set(task.uiId, await this.#download(task.model));
        else {
          this.#pendingPacks.push(task.pack);
          this.results.set(task.uiId, 'success');
        }
      } catch (error) {
        this.results.set(task.uiId, `Model installation error: ${String(error)}`);
      } finally {
        this.#inProgress -= 1;
        this.#done += 1;
      }
    }
  }

  async #download(model: ManagerListModel): Promise<string> {
    const folder =
      model.save_path === 'default' ? TYPE_FOLDERS[model.type.toLowerCase()] : model.save_path.split('/')[0];
    const dir = folder ? this.#host.folderPaths()[folder]?.[0] : undefined;
    if (!dir) throw new Error(`no folder for ${model.type}`);
    const response = await fetch(model.url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const target = join(dir, ...model.save_path.split('/').slice(1));
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, model.filename), bytes);
    return 'success';
  }

  async #reboot(): Promise<void> {
    const packs = this.#pendingPacks.splice(0);
    const definitions: Record<string, NodeDefinition> = {};
    for (const pack of packs)
      for (const type of pack.nodeTypes)
        definitions[type] = {
          input: { required: {} },
          input_order: { required: [] },
          output: [],
          output_is_list: [],
          output_name: [],
          name: type,
          display_name: type,
          description: '',
          python_module: `custom_nodes.${pack.url.split('/').at(-1)}`,
          category: 'custom',
          output_node: false,
        };
    this.#host.installNodes(definitions);
    await this.#host.restart();
  }
}
