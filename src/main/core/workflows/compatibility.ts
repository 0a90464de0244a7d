import type { ServerInventory } from '@shared/domain/inventory';
import type {
  Compatibility,
  MissingModel,
  ModelRef,
  ModelState,
  ModelUpdate,
  WorkflowRecord,
} from '@shared/domain/workflow';
import type { ModelCatalog } from './catalog';
import { FOLDER_ALIASES, canonicalFolder } from './node-types';
import type { RunStats } from './ports';

/** A server inventory prepared for lookups: node types as a set, model names per canonical folder with `/` separators. */
export interface PreparedInventory {
  serverId: string;
  nodeTypes: ReadonlySet<string>;
  models: ReadonlyMap<string, ReadonlySet<string>>;
}

const normalizeName = (name: string) => name.replaceAll('\\', '/');

/** Prepares an inventory once for the thousands of lookups a library check makes. */
export function prepareInventory(inventory: ServerInventory): PreparedInventory {
  const models = new Map<string, Set<string>>();
  for (const [folder, names] of Object.entries(inventory.models)) {
    const canonical = canonicalFolder(folder);
    const set = models.get(canonical) ?? new Set<string>();
    for (const name of names) set.add(normalizeName(name));
    models.set(canonical, set);
  }
  return { serverId: inventory.serverId, nodeTypes: new Set(inventory.nodeTypes), models };
}

/** Everything a compatibility check reads besides the workflow itself. */
export interface CompatibilityContext {
  inventory: PreparedInventory | undefined;
  catalog: ModelCatalog;
  runStats?: RunStats;
  /** Sizes learned from download URLs, bytes by URL. */
  sizeOf?: (url: string) => number | undefined;
}

/** Whether the server has a model file: installed, missing, or unknown (its folder is not in the inventory). */
export function modelState(model: ModelRef, inventory: PreparedInventory | undefined): ModelState {
  if (!inventory) return 'unknown';
  const name = normalizeName(model.name);
  if (model.folder === null) {
    for (const names of inventory.models.values()) if (names.has(name)) return 'installed';
    return inventory.models.size > 0 ? 'missing' : 'unknown';
  }
  const folder = canonicalFolder(model.folder);
  const names = inventory.models.get(folder);
  if (!names) {
    // Some servers list a legacy alias folder (clip, unet) instead of the current key.
    const alias = Object.entries(FOLDER_ALIASES).find(([, target]) => target === folder)?.[0];
    const aliased = alias ? inventory.models.get(alias) : undefined;
    if (!aliased) return 'unknown';
    return aliased.has(name) ? 'installed' : 'missing';
  }
  return names.has(name) ? 'installed' : 'missing';
}

/** A model's download size from the catalog or from what its URL reported. */
export function modelSize(model: ModelRef, context: CompatibilityContext): number | undefined {
  return (
    context.catalog.find(model.name, model.folder)?.sizeBytes ?? (model.url ? context.sizeOf?.(model.url) : undefined)
  );
}

/**
 * A workflow's status against the connected server: Ready, Missing N (with folders, download
 * URLs and the size when known), Update (newer versions in the catalog), Unknown node types. With
 * no server the status is `not_connected`, never a made-up Ready; updates still show, because they
 * come from the catalog, not the server.
 */
export function checkCompatibility(record: WorkflowRecord, context: CompatibilityContext): Compatibility {
  const { inventory, catalog } = context;
  const serverId = inventory?.serverId ?? null;
  if (record.error) {
    return {
      status: 'invalid',
      serverId,
      missing: [],
      missingSizeBytes: null,
      isMissingSizeComplete: true,
      updates: [],
      unknownNodeTypes: [],
      estimate: null,
    };
  }
  const missing: MissingModel[] = [];
  const updates: ModelUpdate[] = [];
  for (const model of record.models) {
    if (modelState(model, inventory) === 'missing') {
      const sizeBytes = modelSize(model, context);
      missing.push(sizeBytes === undefined ? { ...model } : { ...model, sizeBytes });
    }
    const newer = catalog.newest(model.name, model.folder);
    if (newer) {
      updates.push({
        name: model.name,
        folder: model.folder,
        newer: {
          name: newer.name,
          ...(newer.url ? { url: newer.url } : {}),
          ...(newer.sizeBytes ? { sizeBytes: newer.sizeBytes } : {}),
          ...(catalog.find(model.name, model.folder)?.note
            ? { note: catalog.find(model.name, model.folder)!.note! }
            : {}),
        },
      });
    }
  }
  const unknownNodeTypes = inventory ? record.nodeTypes.filter((type) => !inventory.nodeTypes.has(type)) : [];
  const knownSizes = missing.map((model) => model.sizeBytes).filter((size): size is number => size !== undefined);
  const status: Compatibility['status'] = !inventory
    ? 'not_connected'
    : unknownNodeTypes.length > 0
      ? 'unknown_nodes'
      : missing.length > 0
        ? 'missing'
        : updates.length > 0
          ? 'update'
          : 'ready';
  return {
    status,
    serverId,
    missing,
    missingSizeBytes: knownSizes.length > 0 ? knownSizes.reduce((sum, size) => sum + size, 0) : null,
    isMissingSizeComplete: knownSizes.length === missing.length,
    updates,
    unknownNodeTypes,
    estimate: estimate(record, context),
  };
}

function estimate(record: WorkflowRecord, context: CompatibilityContext): Compatibility['estimate'] {
  const serverId = context.inventory?.serverId;
  if (serverId && context.runStats) {
    const medianMs = context.runStats.medianDurationMs(record.id, serverId);
    if (medianMs !== undefined && Number.isFinite(medianMs) && medianMs > 0)
      return { seconds: Math.round(medianMs / 100) / 10, source: 'history' };
  }
  // The slowest model's hint: the main model dominates a run, helpers (VAE, encoders) add little.
  const hints = record.models
    .map((model) => context.catalog.find(model.name, model.folder)?.typicalSeconds)
    .filter((seconds): seconds is number => seconds !== undefined);
  return hints.length > 0 ? { seconds: Math.max(...hints), source: 'catalog' } : null;
}
