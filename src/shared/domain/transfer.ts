import { z } from 'zod';
import { SerializedError } from '../contract/errors';
import { ConnectionKind, SecretStorageKind } from './connection';

/**
 * How a file gets onto a server, by connection kind:
 * - `local`: the server runs on this machine; ComfyDesk writes into its folder itself.
 * - `ssh`: `curl` or `wget` runs on the server over the SSH connection, so the file never crosses this machine.
 * - `sftp`: the server has neither tool; ComfyDesk downloads and streams the file to it over SFTP.
 * - `manager`: ComfyUI-Manager on the server downloads or installs it.
 * - `manual`: nothing can do it from here; the user runs the command shown.
 */
export const TransferMethod = z.enum(['local', 'ssh', 'sftp', 'manager', 'manual']);
export type TransferMethod = z.infer<typeof TransferMethod>;

/** Where a model's download address came from, in the order they are tried. */
export const ModelSourceKind = z.enum(['workflow', 'note', 'catalog', 'user', 'none']);
export type ModelSourceKind = z.infer<typeof ModelSourceKind>;

/** Sites whose gated files need the user's access token. */
export const TokenProvider = z.enum(['huggingface', 'civitai']);
export type TokenProvider = z.infer<typeof TokenProvider>;

/** Display names of the token providers (the renderer and the CLI share them). */
export const TOKEN_PROVIDER_NAMES: Record<TokenProvider, string> = {
  huggingface: 'Hugging Face',
  civitai: 'Civitai',
};

/** A model file the server lacks, with where it can come from and where it would go. */
export const MissingModelEntry = z.object({
  /** As the workflow's loader selects it (may contain a sub folder). */
  name: z.string(),
  /** ComfyUI's model folder key; null when the loader is unknown. */
  folder: z.string().nullable(),
  /** The download address, when one is known. */
  url: z.string().optional(),
  source: ModelSourceKind,
  /** Download size, bytes: from an HTTP HEAD, else the catalog's (approximate) figure. */
  sizeBytes: z.number().int().nonnegative().optional(),
  /** Published SHA-256 (hex), checked after the download when known. */
  sha256: z.string().optional(),
  /** The server's folder the file goes to (absolute, on the server); null when the server did not say. */
  destinationDir: z.string().nullable(),
  /** Every folder the server reads this kind of model from; the user may pick another. */
  destinationChoices: z.array(z.string()),
  /** How this file would be fetched onto the server. */
  method: TransferMethod,
  /** Set when the address answered that it needs the user's token (a gated model). */
  needsToken: TokenProvider.optional(),
  /** What stands in the way, in words (no known source, a gated model, a page instead of a file…). */
  problem: z.string().optional(),
  /** The transfer already under way (or finished) for this file, if any. */
  transferId: z.string().optional(),
});
export type MissingModelEntry = z.infer<typeof MissingModelEntry>;

/** Where a custom-node pack's identity came from. */
export const PackSource = z.enum(['workflow', 'node-map', 'manager']);
export type PackSource = z.infer<typeof PackSource>;

/** A custom-node pack the server needs, with the node types it provides that the workflow uses. */
export const NodePack = z.object({
  /** Its repository URL, or the Comfy Registry id when that is all that is known. */
  id: z.string(),
  /** Short name ("ComfyUI-KJNodes"). */
  title: z.string(),
  /** The pack's page (repository or registry), for a link. */
  url: z.string().nullable(),
  /** The Comfy Registry id (`cnr_id`), when known. */
  registryId: z.string().optional(),
  /** Node types of the workflow it provides. */
  nodeTypes: z.array(z.string()),
  source: PackSource,
});
export type NodePack = z.infer<typeof NodePack>;

/** A public list ComfyDesk fetches and caches (the model catalog, the node-to-pack map). */
export const SourceStatus = z.object({
  url: z.string(),
  /** When the cached copy was fetched, ms since epoch; null when there is none. */
  fetchedAt: z.number().nullable(),
  /** Entries in it. */
  count: z.number().int(),
  /** Why the last fetch failed, when it did (the cached copy, if any, is used). */
  problem: z.string().nullable(),
});
export type SourceStatus = z.infer<typeof SourceStatus>;

export const SourcesStatus = z.object({ models: SourceStatus, nodes: SourceStatus });
export type SourcesStatus = z.infer<typeof SourcesStatus>;

/** Commands to copy for what ComfyDesk cannot do from here, with what they are for. */
export const CopyCommand = z.object({
  title: z.string(),
  /** Shell lines for the server (POSIX sh), ready to paste. */
  command: z.string(),
});
export type CopyCommand = z.infer<typeof CopyCommand>;

/** ComfyUI-Manager on a server, as detected from its routes. */
export const ManagerInfo = z.object({
  version: z.string(),
  /** The route prefix it answers under (`/manager` or `/v2/manager`). */
  prefix: z.string(),
});
export type ManagerInfo = z.infer<typeof ManagerInfo>;

/** What one workflow needs that one server lacks, and how ComfyDesk can put it there. */
export const MissingReport = z.object({
  workflowId: z.string(),
  workflowName: z.string(),
  serverId: z.string(),
  serverName: z.string(),
  connectionKind: ConnectionKind,
  /** How model files would get there (per model in `models[].method`; files only ComfyUI-Manager knows differ). */
  method: TransferMethod,
  /** One sentence on how files get there ("Downloaded on the server over SSH with curl."). */
  methodNote: z.string(),
  manager: ManagerInfo.nullable(),
  models: z.array(MissingModelEntry),
  /** Sum of known sizes, bytes; null when none is known. */
  totalBytes: z.number().nullable(),
  isTotalComplete: z.boolean(),
  packs: z.array(NodePack),
  /** Node types no source could place in a pack. */
  unresolvedNodeTypes: z.array(z.string()),
  /** The server's `custom_nodes` folder, when it said. */
  customNodesDir: z.string().nullable(),
  /** Commands for the user to run on the server, for what cannot be done from here. */
  commands: z.array(CopyCommand),
  sources: SourcesStatus,
});
export type MissingReport = z.infer<typeof MissingReport>;

/** Where one transfer is. `waiting`: for its server (or SSH tunnel) to come back; it resumes by itself. */
export const TransferState = z.enum([
  'queued',
  'waiting',
  'running',
  'paused',
  'verifying',
  'done',
  'failed',
  'cancelled',
]);
export type TransferState = z.infer<typeof TransferState>;

/** States a transfer ends in. */
export const FINISHED_TRANSFER_STATES: ReadonlySet<TransferState> = new Set(['done', 'failed', 'cancelled']);

/** One item of the Downloads view: a model file going onto a server, or a custom-node pack being installed. */
export const TransferItem = z.object({
  id: z.string(),
  serverId: z.string(),
  serverName: z.string(),
  kind: z.enum(['model', 'pack']),
  /** The model file as the workflow names it, or the pack's title. */
  name: z.string(),
  folder: z.string().nullable(),
  url: z.string().nullable(),
  /** The full path on the server (models) or the pack's id (packs). */
  destination: z.string(),
  method: TransferMethod,
  state: TransferState,
  receivedBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  /** Averaged over the last few seconds. */
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** Why it failed (or why it waits), in the core's words. */
  error: SerializedError.nullable(),
  /** Something to know about how it runs ("streamed through this computer: the server has no curl or wget"). */
  note: z.string().nullable(),
  /** The workflows this file or pack was fetched for. */
  workflowIds: z.array(z.string()),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type TransferItem = z.infer<typeof TransferItem>;

/** Every transfer ComfyDesk knows (running, waiting, and the finished ones until cleared). */
export const TransfersSnapshot = z.object({ items: z.array(TransferItem) });
export type TransfersSnapshot = z.infer<typeof TransfersSnapshot>;

/** Changed and removed transfers; progress is coalesced to at most 10 of these a second. */
export const TransfersDelta = z.object({ items: z.array(TransferItem), removed: z.array(z.string()) });
export type TransfersDelta = z.infer<typeof TransfersDelta>;

/** One file to put on a server. */
export const TransferRequest = z.object({
  name: z
    .string()
    .min(1)
    .max(512)
    .refine(
      (name) => !name.split(/[\\/]/).some((part) => part === '..' || part === '') && !/^([a-zA-Z]:)?[\\/]/.test(name),
      'The file name may contain sub folders, but no "..", empty parts or a leading slash.',
    ),
  folder: z.string().min(1).max(128),
  url: z.url({ protocol: /^https?$/ }),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/)
    .optional(),
  sizeBytes: z.number().int().positive().optional(),
  /** One of the server's folders for `folder`; the first one when absent. */
  destinationDir: z.string().min(1).max(4096).optional(),
});
export type TransferRequest = z.infer<typeof TransferRequest>;

/** What ComfyDesk learned about a download address before fetching it. */
export const UrlProbe = z.object({
  /** The address as it will be fetched (a Hugging Face `blob/` link becomes `resolve/`, a Civitai page its download). */
  url: z.string(),
  /** The file name the address serves, when it says. */
  fileName: z.string().nullable(),
  sizeBytes: z.number().nullable(),
  needsToken: TokenProvider.optional(),
  /** Why it cannot be used as is, in words. */
  problem: z.string().optional(),
});
export type UrlProbe = z.infer<typeof UrlProbe>;

/** Which access tokens are kept (never their values) and where. */
export const TokenStatus = z.object({
  huggingface: z.boolean(),
  civitai: z.boolean(),
  storage: SecretStorageKind,
});
export type TokenStatus = z.infer<typeof TokenStatus>;

/** The `transfers` settings section: where the public lists come from. */
export const TransfersSettings = z.object({
  /** ComfyUI-Manager's model list (names, folders, URLs). */
  modelListUrl: z
    .url({ protocol: /^https?$/ })
    .default('https://raw.githubusercontent.com/Comfy-Org/ComfyUI-Manager/main/model-list.json'),
  /** ComfyUI-Manager's node type → pack map. */
  nodeMapUrl: z
    .url({ protocol: /^https?$/ })
    .default('https://raw.githubusercontent.com/Comfy-Org/ComfyUI-Manager/main/extension-node-map.json'),
  /** Files fetched at once per server. @default 2 */
  parallelPerServer: z.number().int().min(1).max(8).default(2),
});
export type TransfersSettings = z.infer<typeof TransfersSettings>;
