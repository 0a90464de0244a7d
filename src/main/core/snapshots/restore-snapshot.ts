import { posix } from 'node:path';
import type { ServerInventory } from '@shared/domain/inventory';
import type { RestoreItem, RestoreReport, ServerSnapshot, SnapshotNodePack } from '@shared/domain/snapshot';
import { FINISHED_TRANSFER_STATES, type TransferItem } from '@shared/domain/transfer';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { shQuote } from '../lib/shell-quote';
import type { TransferTarget } from '../transfers/ports';
import type { TransferService } from '../transfers/transfer-service';

/** What a restore uses: the Missing-to-Ready machinery and the new server. */
export interface RestoreDeps {
  transfers: Pick<TransferService, 'enqueue' | 'installPack' | 'list' | 'on' | 'plan' | 'cancel'>;
  target: TransferTarget;
  log: Logger;
  signal?: AbortSignal;
  /** Every item as it stands, whenever one changes. */
  onProgress?: (items: RestoreItem[]) => void;
  /** Prepended to the SSH server's PATH for git (tests). */
  remotePathPrefix?: string;
}

const GIT_URL = /^(https:\/\/|file:\/\/|\/)[^\s]+$/;

/**
 * Rebuilds a snapshot on another server: packs it lacks are installed (ComfyUI-Manager when the
 * server has it, else `git clone` at the snapshot's commit over SSH), models it lacks are downloaded
 * onto it by the transfers service (on the server itself over SSH, SHA-256 checked where the
 * snapshot has one), then the server's object_info is read again and compared with the snapshot.
 * What the snapshot gives no source for is listed, never guessed.
 */
export async function restoreSnapshot(snapshot: ServerSnapshot, deps: RestoreDeps): Promise<RestoreReport> {
  const { target, transfers } = deps;
  const before = await target.refreshInventory();
  const plan = await transfers.plan(target.id);
  const items = new Map<string, RestoreItem>();
  const put = (key: string, item: RestoreItem) => {
    items.set(key, item);
    deps.onProgress?.([...items.values()]);
  };
  const update = (key: string, patch: Partial<RestoreItem>) => put(key, { ...items.get(key)!, ...patch });
  const base = { receivedBytes: 0, totalBytes: null, note: null };

  // Packs first: a model folder may come from a custom node.
  const packs = snapshot.customNodes.filter((pack) => pack.enabled);
  let needsRestart = false;
  for (const pack of packs) {
    const key = `pack:${pack.name}`;
    if (pack.nodeTypes.length > 0 && pack.nodeTypes.every((type) => before.nodeTypes.includes(type))) {
      put(key, { kind: 'pack', name: pack.name, state: 'present', ...base });
      continue;
    }
    if (!pack.repository && !pack.registryId) {
      put(key, { kind: 'pack', name: pack.name, state: 'no-source', ...base, note: 'The snapshot has no repository.' });
      continue;
    }
    put(key, { kind: 'pack', name: pack.name, state: 'running', ...base });
    throwIfAborted(deps.signal);
    try {
      if (plan.manager && pack.repository) {
        const item = await transfers.installPack({
          serverId: target.id,
          packId: pack.repository.replace(/\.git$/, ''),
          nodeTypes: pack.nodeTypes,
        });
        const ended = await follow(transfers, [item.id], deps.signal, () => undefined, true);
        const state = ended[0]?.state;
        if (state === 'done') update(key, { state: 'done' });
        else if (state === 'waiting') {
          needsRestart = true;
          update(key, { state: 'restart', note: ended[0]?.note ?? 'Restart ComfyUI to load it.' });
        } else update(key, { state: 'failed', note: ended[0]?.error?.userMessage ?? null });
      } else if (target.shell && pack.repository && GIT_URL.test(pack.repository)) {
        const dir = plan.folders.custom_nodes?.[0];
        if (!dir)
          throw new AppError('invalid_input', `${target.profile.name} does not say where its custom_nodes are.`);
        await clonePack(target, dir, pack, deps);
        needsRestart = true;
        update(key, {
          state: 'restart',
          note: `Cloned into ${posix.join(dir, pack.name)}${pack.commit ? ` at ${pack.commit.slice(0, 10)}` : ''}; restart ComfyUI to load it.`,
        });
      } else {
        update(key, {
          state: 'manual',
          note: pack.repository
            ? `Install it on the server from ${pack.repository}${pack.commit ? ` (commit ${pack.commit})` : ''}: ComfyDesk needs SSH or ComfyUI-Manager to do it.`
            : `Install the registry pack ${pack.registryId ?? pack.name} on the server (comfy node install ${pack.registryId ?? pack.name}).`,
        });
      }
    } catch (error) {
      if (deps.signal?.aborted) throw error;
      update(key, { state: 'failed', note: error instanceof AppError ? error.userMessage : String(error) });
    }
  }

  // Models: what the server lacks, downloaded on it.
  const requests: Array<{ key: string; model: ServerSnapshot['models'][number] }> = [];
  for (const model of snapshot.models) {
    const key = `model:${model.folder}/${model.name}`;
    const name = `${model.folder}/${model.name}`;
    if (hasModel(before, model.folder, model.name))
      put(key, { kind: 'model', name, state: 'present', ...base, totalBytes: model.sizeBytes });
    else if (!model.url)
      put(key, {
        kind: 'model',
        name,
        state: 'no-source',
        ...base,
        totalBytes: model.sizeBytes,
        note: 'The snapshot has no download address: add its "url" to the file.',
      });
    else {
      put(key, { kind: 'model', name, state: 'queued', ...base, totalBytes: model.sizeBytes });
      requests.push({ key, model });
    }
  }
  throwIfAborted(deps.signal);
  const ids: string[] = [];
  const keys = new Map<string, string>();
  for (const { key, model } of requests) {
    try {
      const [id] = await transfers.enqueue({
        serverId: target.id,
        models: [
          {
            name: model.name,
            folder: model.folder,
            url: model.url!,
            ...(model.sha256 ? { sha256: model.sha256 } : {}),
            ...(model.sizeBytes ? { sizeBytes: model.sizeBytes } : {}),
          },
        ],
      });
      ids.push(id!);
      keys.set(id!, key);
    } catch (error) {
      update(key, { state: 'failed', note: error instanceof AppError ? error.userMessage : String(error) });
    }
  }
  await follow(transfers, ids, deps.signal, (item) => {
    const key = keys.get(item.id);
    if (!key) return;
    update(key, {
      state:
        item.state === 'done'
          ? 'done'
          : FINISHED_TRANSFER_STATES.has(item.state) || item.state === 'paused'
            ? 'failed'
            : item.state === 'queued'
              ? 'queued'
              : 'running',
      receivedBytes: item.receivedBytes,
      totalBytes: item.totalBytes,
      note:
        item.state === 'paused'
          ? 'Paused in Downloads; resume it there, then restore again.'
          : (item.error?.userMessage ?? null),
    });
  });

  // The final check: the new server's own lists against the snapshot.
  const after = await target.refreshInventory();
  const missingNodeTypes = snapshot.nodeTypes.filter((type) => !after.nodeTypes.includes(type));
  const missingModels = snapshot.models
    .filter((model) => !hasModel(after, model.folder, model.name))
    .map((model) => `${model.folder}/${model.name}`);
  const list = [...items.values()];
  return {
    items: list,
    missingNodeTypes,
    missingModels,
    withoutSource: list.filter((item) => item.state === 'no-source').map((item) => item.name),
    needsRestart,
    complete: missingNodeTypes.length === 0 && missingModels.length === 0,
  };
}

function hasModel(inventory: ServerInventory, folder: string, name: string): boolean {
  const wanted = name.replaceAll('\\', '/');
  return (inventory.models[folder] ?? []).some((file) => file.replaceAll('\\', '/') === wanted);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('cancelled', 'The restore was cancelled.');
}

/** `git clone` into custom_nodes on the SSH server, at the snapshot's commit, then its requirements with pip. */
async function clonePack(
  target: TransferTarget,
  dir: string,
  pack: SnapshotNodePack,
  deps: RestoreDeps,
): Promise<void> {
  const folder = posix.join(dir, pack.name);
  const lines = [
    'set -e',
    ...(deps.remotePathPrefix ? [`PATH=${shQuote(deps.remotePathPrefix)}:"$PATH"`] : []),
    `if [ -e ${shQuote(folder)} ]; then echo "exists" >&2; exit 3; fi`,
    `git clone --quiet ${shQuote(pack.repository!)} ${shQuote(folder)}`,
    ...(pack.commit ? [`git -C ${shQuote(folder)} checkout --quiet ${shQuote(pack.commit)}`] : []),
    `if [ -f ${shQuote(`${folder}/requirements.txt`)} ]; then (python3 -m pip install -q -r ${shQuote(`${folder}/requirements.txt`)} || python -m pip install -q -r ${shQuote(`${folder}/requirements.txt`)}) >&2 || echo "pip failed" >&2; fi`,
  ];
  const result = await target.shell!.exec(lines.join('\n'), { signal: deps.signal });
  if (result.code === 3)
    throw new AppError(
      'invalid_input',
      `${folder} already exists on the server but ComfyUI does not list its nodes; restart ComfyUI, or remove the folder and restore again.`,
    );
  if (result.code !== 0)
    throw new AppError(
      'snapshot_failed',
      `git could not get ${pack.name} from ${pack.repository}: ${result.stderr.trim().slice(-300) || `exit ${String(result.code)}`}.`,
    );
}

/**
 * Waits until these transfers end (done, failed or cancelled; a model waiting for its server resumes by
 * itself and is waited for), telling each change; a cancel cancels them.
 */
async function follow(
  transfers: RestoreDeps['transfers'],
  ids: string[],
  signal: AbortSignal | undefined,
  onItem: (item: TransferItem) => void,
  /** A pack waiting for ComfyUI's restart has ended its part. */
  waitingEnds = false,
): Promise<TransferItem[]> {
  const current = () => transfers.list().items.filter((item) => ids.includes(item.id));
  const settled = (items: TransferItem[]) =>
    items.every((item) => FINISHED_TRANSFER_STATES.has(item.state) || (waitingEnds && item.state === 'waiting'));
  if (ids.length === 0) return [];
  return new Promise<TransferItem[]>((resolve) => {
    const finish = () => {
      off();
      signal?.removeEventListener('abort', abort);
      resolve(current());
    };
    const off = transfers.on('updated', (delta) => {
      for (const item of delta.items) if (ids.includes(item.id)) onItem(item);
      if (settled(current())) finish();
    });
    const abort = () => {
      for (const id of ids) void transfers.cancel(id).catch(() => undefined);
    };
    signal?.addEventListener('abort', abort, { once: true });
    if (settled(current())) finish();
  });
}
