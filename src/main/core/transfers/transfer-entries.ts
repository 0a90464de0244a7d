import { randomUUID } from 'node:crypto';
import { basename, join, posix } from 'node:path';
import type { NodePack, TransferRequest } from '@shared/domain/transfer';
import { AppError } from '../lib/errors';
import { normalizeDownloadUrl } from './http-answers';
import { modelCommands } from './manual-commands';
import type { ManagerModelEntry, ModelList } from './model-list';
import type { TransferTarget } from './ports';
import { foldersFor } from './server-folders';
import type { ServerPlan } from './server-plan';
import type { Entry } from './transfer-queue';

/** Where a requested file goes on the server (one of its folders for that kind) and its download address; throws when it cannot. */
export function placeRequest(
  target: TransferTarget,
  plan: ServerPlan,
  request: TransferRequest,
): { url: string; dir: string; destination: string } {
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
  if (normalized.problem) throw new AppError('invalid_input', normalized.problem, { details: { url: request.url } });
  const url = normalized.url;
  const destination = plan.isLocal ? join(dir, ...request.name.split(/[\\/]/)) : posix.join(dir, request.name);
  return { url, dir, destination };
}

/**
 * The ComfyUI-Manager model entry a file is installed from (on a server reached through Manager);
 * throws when the server cannot take the file from ComfyDesk at all.
 */
export function managerEntryFor(
  target: TransferTarget,
  plan: ServerPlan,
  request: TransferRequest,
  context: { url: string; dir: string; modelList: ModelList | undefined },
): ManagerModelEntry | undefined {
  const { url, dir, modelList } = context;
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
  return managerEntry;
}

/** A new queued model transfer. */
export function modelEntry(input: {
  target: TransferTarget;
  plan: ServerPlan;
  request: TransferRequest;
  url: string;
  destination: string;
  sizeBytes: number | undefined;
  managerEntry: ManagerModelEntry | undefined;
  workflowId: string | undefined;
  now: number;
}): Entry {
  const { target, plan, request, url, destination, sizeBytes, managerEntry, now } = input;
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
  return entry;
}

/** A new queued pack install (through ComfyUI-Manager). */
export function packEntry(input: {
  target: TransferTarget;
  pack: NodePack;
  workflowId: string | undefined;
  now: number;
}): Entry {
  const { target, pack, now } = input;
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
  return entry;
}

/** The pack with this id among the candidates, or a GitHub repository given by its address. */
export function pickPack(candidates: readonly NodePack[], packId: string): NodePack {
  const found = candidates.find((pack) => pack.id === packId);
  if (found) return found;
  if (/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/.test(packId))
    return { id: packId, title: basename(packId), url: packId, nodeTypes: [], source: 'workflow' };
  throw new AppError('not_found', `ComfyDesk does not know the pack "${packId}".`, { details: { packId } });
}
