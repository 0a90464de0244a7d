import { z } from 'zod';
import {
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  type ModelUrlSource,
  type ServerSnapshot,
  type SnapshotModel,
  type SnapshotNodePack,
} from '@shared/domain/snapshot';
import type { ComfyClient } from '../comfy/comfy-client';
import type { RemoteShell } from '../connections/ssh-tunnel';
import { AppError, isAppError } from '../lib/errors';
import { readFolderPaths, type FolderPathsClient } from '../transfers/server-folders';
import { HASH_FILES, LIST_CUSTOM_NODES, parseCustomNodesListing, shCommand, type ListedPack } from './remote-scripts';

/** A command's output on the server is read up to this much (a listing of many packs, many hashes). */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** The server a snapshot is taken of: its ComfyUI client and, over SSH, a way to run commands there. */
export interface SnapshotTarget {
  client: Pick<ComfyClient, 'systemStats' | 'getObjectInfo' | 'listModelFolders' | 'listModels' | 'getOptionalJson'> &
    FolderPathsClient;
  /** Commands on the server over the connection's SSH session (SSH connections only). */
  shell?: Pick<RemoteShell, 'exec'>;
  /** Where it is ("http://127.0.0.1:8188", "ssh://root@203.0.113.7:10341"). */
  address: string;
}

/** Who knows where a model file can be downloaded from. */
export interface ModelSources {
  find(folder: string, name: string): { url: string; source: ModelUrlSource } | undefined;
}

/** Where a snapshot is: reading the server, its packs, its models, hashing model N of M. */
export interface SnapshotProgress {
  phase: 'server' | 'nodes' | 'models' | 'hashing';
  done: number;
  total: number;
  /** The model being hashed (`folder/name`). */
  item?: string;
}

export interface TakeSnapshotOptions {
  sources: ModelSources;
  /** Compute SHA-256 over SSH. @default true (ignored without an SSH shell) */
  hash?: boolean;
  /** "ComfyDesk 0.1.0". */
  createdBy: string;
  signal?: AbortSignal;
  onProgress?: (progress: SnapshotProgress) => void;
  /** @default new Date() */
  now?: () => Date;
}

const ExperimentModels = z.array(
  z
    .object({ name: z.string(), pathIndex: z.number().int().nonnegative(), size: z.number().nonnegative().optional() })
    .loose(),
);
/** ComfyUI-Manager's `/customnode/installed`: `{module: {ver, cnr_id, aux_id, enabled}}`. */
const ManagerInstalled = z.record(
  z.string(),
  z
    .object({
      ver: z.string().nullish(),
      cnr_id: z.string().nullish(),
      aux_id: z.string().nullish(),
      enabled: z.boolean().optional(),
    })
    .loose(),
);

/** Model folders that do not hold model files. */
const NOT_MODEL_FOLDERS = new Set(['custom_nodes']);

/**
 * Reads what a server has into a snapshot: version and device, every node type, the custom node
 * packs (from custom_nodes over SSH, else ComfyUI-Manager's list, else only the node types ComfyUI
 * reports), and the model files with their sizes, SHA-256 (over SSH) and download addresses.
 */
export async function takeSnapshot(target: SnapshotTarget, options: TakeSnapshotOptions): Promise<ServerSnapshot> {
  const { client, shell } = target;
  const { signal } = options;
  const progress = (update: SnapshotProgress) => options.onProgress?.(update);
  try {
    progress({ phase: 'server', done: 0, total: 1 });
    const [stats, { objectInfo }, folderPaths] = await Promise.all([
      client.systemStats({ signal }),
      client.getObjectInfo({ refresh: true, signal }),
      // A server that does not say where its folders are still has a snapshot (without paths to hash).
      readFolderPaths(client, signal).catch((error: unknown) => {
        if (isAppError(error) && error.code === 'comfy_unexpected_response') return undefined;
        throw error;
      }),
    ]);
    const isWindows = stats.system.os === 'nt' || stats.system.os === 'win32';
    progress({ phase: 'server', done: 1, total: 1 });

    // Node types by the pack that registered them (python_module "custom_nodes.<folder>").
    const typesByPack = new Map<string, string[]>();
    for (const [type, info] of Object.entries(objectInfo)) {
      const module = typeof info.python_module === 'string' ? info.python_module : '';
      if (!module.startsWith('custom_nodes.')) continue;
      const pack = module.slice('custom_nodes.'.length);
      typesByPack.set(pack, [...(typesByPack.get(pack) ?? []), type]);
    }

    progress({ phase: 'nodes', done: 0, total: 1 });
    let packs: SnapshotNodePack[] | undefined;
    let nodesSource: ServerSnapshot['sources']['customNodes'] = 'object_info';
    const customNodeDirs = folderPaths?.custom_nodes ?? [];
    if (shell && customNodeDirs.length > 0) {
      const result = await shell.exec(shCommand(LIST_CUSTOM_NODES), {
        stdin: `${customNodeDirs.join('\n')}\n`,
        signal,
        maxStdoutBytes: MAX_OUTPUT_BYTES,
      });
      throwIfCancelled(signal);
      if (result.code !== 0)
        throw new AppError(
          'snapshot_failed',
          `Reading custom_nodes on the server failed (exit ${result.code}): ${result.stderr.trim().slice(0, 300)}`,
        );
      packs = parseCustomNodesListing(result.stdout.toString('utf8')).packs.map((listed) =>
        packFromDisk(listed, typesByPack),
      );
      nodesSource = 'ssh';
    }
    if (!packs) {
      const manager = await readManagerList(client, signal);
      if (manager) {
        packs = manager.map((pack) => ({ ...pack, nodeTypes: typesByPack.get(pack.name) ?? [] }));
        nodesSource = 'comfyui-manager';
      }
    }
    packs ??= [...typesByPack.entries()].map(([name, nodeTypes]) => ({
      name,
      enabled: true,
      repository: null,
      commit: null,
      branch: null,
      registryId: null,
      version: null,
      hasLocalChanges: null,
      nodeTypes,
    }));
    // A pack ComfyUI loaded that the listing missed (another custom_nodes path) still counts.
    for (const [name, nodeTypes] of typesByPack)
      if (!packs.some((pack) => pack.name === name))
        packs.push({
          name,
          enabled: true,
          repository: null,
          commit: null,
          branch: null,
          registryId: null,
          version: null,
          hasLocalChanges: null,
          nodeTypes,
        });
    progress({ phase: 'nodes', done: 1, total: 1 });

    const folders = (await client.listModelFolders({ signal })).filter((folder) => !NOT_MODEL_FOLDERS.has(folder));
    const models: Array<SnapshotModel & { candidates: string[] }> = [];
    for (const [index, folder] of folders.entries()) {
      progress({ phase: 'models', done: index, total: folders.length });
      const bases = folderPaths?.[folder] ?? [];
      const detailed = ExperimentModels.safeParse(
        await client
          .getOptionalJson(`/experiment/models/${encodeURIComponent(folder)}`, { signal })
          .catch(() => undefined),
      );
      const files: Array<{ name: string; pathIndex?: number; size?: number }> = detailed.success
        ? detailed.data
        : (await client.listModels(folder, { signal }).catch(() => [])).map((name) => ({ name }));
      for (const file of files) {
        const name = isWindows ? file.name.replaceAll('\\', '/') : file.name;
        const source = options.sources.find(folder, name);
        const candidateBases = file.pathIndex !== undefined && bases[file.pathIndex] ? [bases[file.pathIndex]!] : bases;
        models.push({
          folder,
          name,
          sizeBytes: file.size ?? null,
          sha256: null,
          url: source?.url ?? null,
          urlSource: source?.source ?? null,
          candidates: candidateBases.map((base) => `${base.replace(/\/+$/, '')}/${name}`),
        });
      }
    }
    progress({ phase: 'models', done: folders.length, total: folders.length });

    const hashing = Boolean(shell) && (options.hash ?? true) && !isWindows;
    if (hashing && shell) {
      // Paths with a tab or a newline cannot be passed one a line; they keep no hash.
      const hashable = models.filter(
        (model) => model.candidates.length > 0 && !model.candidates.some((path) => /[\t\n]/.test(path)),
      );
      const total = hashable.length;
      let done = 0;
      let pending = '';
      const item = (index: number) =>
        hashable[index] ? `${hashable[index].folder}/${hashable[index].name}` : undefined;
      progress({ phase: 'hashing', done: 0, total, item: item(0) });
      const result = await shell.exec(shCommand(HASH_FILES), {
        stdin: hashable.map((model) => `${model.candidates.join('\t')}\n`).join(''),
        signal,
        maxStdoutBytes: 0,
        onStdout: (text) => {
          pending += text;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            const model = hashable[done];
            done += 1;
            if (!model) continue;
            const [state, size, sum] = line.trim().split(/\s+/);
            if (state === 'ok' || state === 'nohash') model.sizeBytes = Number(size);
            if (state === 'ok' && sum && /^[0-9a-f]{64}$/.test(sum)) model.sha256 = sum;
            progress({ phase: 'hashing', done, total, item: item(done) });
          }
        },
      });
      throwIfCancelled(signal);
      if (result.code !== 0)
        throw new AppError(
          'snapshot_failed',
          `Hashing the models on the server failed (exit ${result.code}): ${result.stderr.trim().slice(0, 300)}`,
        );
    }

    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      createdBy: options.createdBy,
      server: {
        comfyuiVersion: stats.system.comfyui_version ?? null,
        os: stats.system.os ?? null,
        pythonVersion: stats.system.python_version ?? null,
        device: stats.devices[0]?.name ?? null,
        address: target.address,
      },
      sources: { customNodes: nodesSource, hashes: hashing ? 'ssh' : 'none' },
      customNodes: packs,
      models: models.map(({ candidates: _candidates, ...model }) => model),
      nodeTypes: Object.keys(objectInfo).sort(),
    };
  } catch (error) {
    if (isAppError(error)) throw error;
    throw new AppError('snapshot_failed', 'The snapshot could not be taken; the log has details.', { cause: error });
  }
}

/** A command on the server ends early when the snapshot is cancelled: say so rather than "exit null". */
function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('cancelled', 'The snapshot was cancelled.');
}

/** A pack as read from disk, with what ComfyUI loaded from it. */
function packFromDisk(listed: ListedPack, typesByPack: Map<string, string[]>): SnapshotNodePack {
  const name = listed.name.replace(/\.disabled$/, '');
  const project = listed.pyproject ? readPyproject(listed.pyproject) : undefined;
  const repository = listed.remote ? normalizeRepository(listed.remote) : (project?.repository ?? null);
  return {
    name,
    enabled: listed.enabled,
    repository,
    commit: listed.commit ?? null,
    branch: listed.branch ?? null,
    registryId: project?.isRegistryPack ? (project.name ?? null) : null,
    version: project?.isRegistryPack ? (project.version ?? null) : null,
    hasLocalChanges: listed.dirty ?? null,
    nodeTypes: listed.enabled ? (typesByPack.get(name) ?? typesByPack.get(name.replace(/\.py$/, '')) ?? []) : [],
  };
}

/** ComfyUI-Manager's list of installed packs (v4 first, then the older route), or undefined without Manager. */
async function readManagerList(
  client: SnapshotTarget['client'],
  signal: AbortSignal | undefined,
): Promise<Array<Omit<SnapshotNodePack, 'nodeTypes'>> | undefined> {
  for (const path of ['/v2/customnode/installed', '/customnode/installed']) {
    const raw = await client.getOptionalJson(path, { signal }).catch(() => undefined);
    const parsed = ManagerInstalled.safeParse(raw);
    if (raw === undefined || !parsed.success) continue;
    return Object.entries(parsed.data).map(([module, info]) => {
      const version = info.ver ?? null;
      const isCommit = version !== null && /^[0-9a-f]{40}$/.test(version);
      const auxId = info.aux_id ?? null;
      return {
        name: module,
        enabled: info.enabled ?? true,
        repository: auxId && /^[\w.-]+\/[\w.-]+$/.test(auxId) ? `https://github.com/${auxId}` : null,
        commit: isCommit ? version : null,
        branch: null,
        registryId: info.cnr_id || null,
        version: isCommit ? null : version,
        hasLocalChanges: null,
      };
    });
  }
  return undefined;
}

/** `git@github.com:owner/repo.git` → `https://github.com/owner/repo`; other URLs lose only `.git` and credentials. */
export function normalizeRepository(remote: string): string {
  const ssh = /^(?:ssh:\/\/)?git@github\.com[:/]([^/]+)\/(.+?)(?:\.git)?\/?$/.exec(remote);
  if (ssh) return `https://github.com/${ssh[1]}/${ssh[2]}`;
  try {
    const url = new URL(remote);
    url.username = '';
    url.password = '';
    return url
      .toString()
      .replace(/\.git\/?$/, '')
      .replace(/\/$/, '');
  } catch {
    return remote.replace(/\.git$/, '');
  }
}

/** The few pyproject.toml facts a snapshot uses: `[project] name/version`, `[project.urls] Repository`, and whether it is a registry pack (`[tool.comfy]`). */
export function readPyproject(text: string): {
  name?: string;
  version?: string;
  repository?: string;
  isRegistryPack: boolean;
} {
  let section = '';
  const out: { name?: string; version?: string; repository?: string; isRegistryPack: boolean } = {
    isRegistryPack: false,
  };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      if (section === 'tool.comfy') out.isRegistryPack = true;
      continue;
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*["']([^"']*)["']/.exec(line);
    if (!pair) continue;
    const [, key, value] = pair;
    if (section === 'project' && key === 'name') out.name = value;
    if (section === 'project' && key === 'version') out.version = value;
    if (section === 'project.urls' && key?.toLowerCase() === 'repository') out.repository = value;
  }
  return out;
}
