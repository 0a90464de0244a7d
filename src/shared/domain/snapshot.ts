import { z } from 'zod';

/**
 * A server snapshot: what a ComfyUI server has — its custom node packs and its model files — as a
 * plain JSON file a person can keep in git, and that `snapshot restore` rebuilds on another server.
 *
 * Format rules (version 1):
 * - `format` is always `comfydesk.server-snapshot`, `version` is 1. A change that would make an old
 *   reader misread a file raises `version`; readers refuse versions they do not know.
 * - Within version 1 new keys may be added (always optional); readers ignore keys they do not know.
 * - Arrays are sorted (packs by name, models by folder then name, node types by name), objects are
 *   written with 2-space indentation and a final newline, so saving the same server twice gives the
 *   same file apart from `createdAt`.
 * - `null` means "not known" (e.g. no SHA-256 because the server was reached over HTTP only);
 *   restore lists every model without `url` and every pack without `repository` for the user to fill in.
 */
export const SNAPSHOT_FORMAT = 'comfydesk.server-snapshot';
export const SNAPSHOT_VERSION = 1;

/** A custom node pack: one folder in the server's `custom_nodes`. */
export const SnapshotNodePack = z.object({
  /** The folder name in `custom_nodes` (without a `.disabled` suffix). */
  name: z.string().min(1),
  /** False for a `<name>.disabled` folder or one under `custom_nodes/.disabled/` (ComfyUI-Manager's convention). */
  enabled: z.boolean(),
  /** Where to get it: the checkout's `origin` remote (GitHub SSH remotes given as https), or the registry pack's repository. */
  repository: z.string().nullable(),
  /** The checked-out commit (40 hex digits). */
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .nullable(),
  /** The checked-out branch, null when detached or unknown. */
  branch: z.string().nullable(),
  /** The Comfy Registry id, for packs installed from the registry (their pyproject.toml `[project] name`). */
  registryId: z.string().nullable(),
  /** The registry version (pyproject.toml `[project] version`). */
  version: z.string().nullable(),
  /** The checkout has uncommitted changes to tracked files (restore installs the commit without them); null when unknown. */
  hasLocalChanges: z.boolean().nullable(),
  /** Node types the server loaded from this pack (object_info `python_module` `custom_nodes.<name>`), sorted. */
  nodeTypes: z.array(z.string()),
});
export type SnapshotNodePack = z.infer<typeof SnapshotNodePack>;

/** Who knew a model's download address. */
export const ModelUrlSource = z.enum([
  /** ComfyDesk's model catalog (bundled, or the user's model-catalog.json). */
  'catalog',
  /** A workflow in the library that embeds the address (`properties.models` / `models`). */
  'workflow',
  /** ComfyDesk downloaded the file onto the server from this address. */
  'download',
  /** The user wrote it in by hand. */
  'user',
]);
export type ModelUrlSource = z.infer<typeof ModelUrlSource>;

/** A model file on the server. */
export const SnapshotModel = z.object({
  /** ComfyUI's model folder key (`checkpoints`, `loras`, `vae`, …). */
  folder: z.string().min(1),
  /** The path inside the folder as ComfyUI lists it, always with `/`. */
  name: z.string().min(1),
  sizeBytes: z.number().int().nonnegative().nullable(),
  /** Lowercase hex; computed on the server (over SSH), null when it could not be. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  /** Where to download it; null when nobody knows yet. */
  url: z.string().nullable(),
  urlSource: ModelUrlSource.nullable(),
});
export type SnapshotModel = z.infer<typeof SnapshotModel>;

/** The server the snapshot was taken of. */
export const SnapshotServer = z.object({
  comfyuiVersion: z.string().nullable(),
  /** Python `os.name` or `sys.platform`. */
  os: z.string().nullable(),
  pythonVersion: z.string().nullable(),
  /** The first device ("cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "cpu"). */
  device: z.string().nullable(),
  /** Where it was reached: its URL, or `ssh://user@host:port` for an SSH connection. */
  address: z.string(),
});

/** A server snapshot file (version 1). */
export const ServerSnapshot = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  /** ISO 8601 (UTC). */
  createdAt: z.string(),
  /** The app that wrote it ("ComfyDesk 0.1.0"). */
  createdBy: z.string(),
  server: SnapshotServer,
  /**
   * How the facts were read: custom nodes from the server's disk over SSH, from ComfyUI-Manager's
   * list, or only from the node types ComfyUI reports (then packs have no repository); hashes over SSH or none.
   */
  sources: z.object({
    customNodes: z.enum(['ssh', 'comfyui-manager', 'object_info']),
    hashes: z.enum(['ssh', 'none']),
  }),
  customNodes: z.array(SnapshotNodePack),
  models: z.array(SnapshotModel),
  /** Every node type the server offered (object_info), sorted: restore's final check compares the new server with it. */
  nodeTypes: z.array(z.string()),
});
export type ServerSnapshot = z.infer<typeof ServerSnapshot>;

/** What `snapshot save` tells the user at the end. */
export const SnapshotSummary = z.object({
  packs: z.number().int(),
  models: z.number().int(),
  /** Models with a SHA-256. */
  hashed: z.number().int(),
  /** `folder/name` of models nobody knows a download address for. */
  modelsWithoutSource: z.array(z.string()),
  /** Packs without a repository to install them from. */
  packsWithoutRepository: z.array(z.string()),
});
export type SnapshotSummary = z.infer<typeof SnapshotSummary>;

/** The summary of a snapshot. */
export function summarize(snapshot: ServerSnapshot): SnapshotSummary {
  return {
    packs: snapshot.customNodes.length,
    models: snapshot.models.length,
    hashed: snapshot.models.filter((model) => model.sha256 !== null).length,
    modelsWithoutSource: snapshot.models
      .filter((model) => model.url === null)
      .map((model) => `${model.folder}/${model.name}`),
    packsWithoutRepository: snapshot.customNodes
      .filter((pack) => pack.repository === null && pack.registryId === null)
      .map((pack) => pack.name),
  };
}

/** One pack or model of a restore and where it stands. */
export const RestoreItem = z.object({
  kind: z.enum(['pack', 'model']),
  /** The pack's folder name, or a model's `folder/name`. */
  name: z.string(),
  /**
   * `present`: the server already had it; `queued`/`running`/`done`/`failed`: being put there;
   * `restart`: installed, loaded once ComfyUI restarts; `no-source`: the snapshot says nowhere to get
   * it (the user fills it in); `manual`: ComfyDesk cannot install it on this server (see `note`).
   */
  state: z.enum(['present', 'queued', 'running', 'done', 'failed', 'restart', 'no-source', 'manual']),
  receivedBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  /** What happened or what the user can do, in words. */
  note: z.string().nullable(),
});
export type RestoreItem = z.infer<typeof RestoreItem>;

/** The end of a restore: the final check of the new server against the snapshot. */
export const RestoreReport = z.object({
  items: z.array(RestoreItem),
  /** Node types of the snapshot the new server's object_info does not list. */
  missingNodeTypes: z.array(z.string()),
  /** `folder/name` of snapshot models the new server does not list. */
  missingModels: z.array(z.string()),
  /** Packs and models (`folder/name`) without a source in the snapshot: for the user to fill in. */
  withoutSource: z.array(z.string()),
  /** ComfyUI must restart to load packs installed on disk. */
  needsRestart: z.boolean(),
  /** Every node type and model of the snapshot is on the new server. */
  complete: z.boolean(),
});
export type RestoreReport = z.infer<typeof RestoreReport>;

/** A snapshot as file text: sorted, 2-space indentation, final newline (stable in git). */
export function snapshotText(snapshot: ServerSnapshot): string {
  const sorted: ServerSnapshot = {
    ...snapshot,
    customNodes: [...snapshot.customNodes]
      .map((pack) => ({ ...pack, nodeTypes: [...pack.nodeTypes].sort() }))
      .sort((a, b) => compare(a.name, b.name)),
    models: [...snapshot.models].sort((a, b) => compare(a.folder, b.folder) || compare(a.name, b.name)),
    nodeTypes: [...snapshot.nodeTypes].sort(),
  };
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/**
 * Reads a snapshot file's JSON: a known version is checked and returned; anything else throws an
 * Error whose message says what is wrong (not a snapshot, a newer version, a broken field).
 */
export function parseSnapshot(raw: unknown): ServerSnapshot {
  const head = z.object({ format: z.string(), version: z.number() }).loose().safeParse(raw);
  if (!head.success || head.data.format !== SNAPSHOT_FORMAT)
    throw new Error(`This is not a ComfyDesk server snapshot (no "format": "${SNAPSHOT_FORMAT}").`);
  if (head.data.version !== SNAPSHOT_VERSION)
    throw new Error(
      `This snapshot is version ${head.data.version}; this ComfyDesk reads version ${SNAPSHOT_VERSION}. Update ComfyDesk to read it.`,
    );
  const parsed = ServerSnapshot.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`The snapshot has a broken field ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}.`);
  }
  return parsed.data;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
