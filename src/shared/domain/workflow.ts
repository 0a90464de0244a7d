import { z } from 'zod';

/** Kinds of media a workflow takes from the user or hands back. */
export const MediaType = z.enum(['text', 'image', 'video', 'audio', 'mask', '3d']);
export type MediaType = z.infer<typeof MediaType>;

/**
 * What a workflow makes, derived from its inputs, outputs and a few telling nodes: t2i (text to
 * image), i2i (image to image), inpaint, upscale, t2v (text to video), i2v (image to video), v2v
 * (video to video), audio, 3d, text (an LLM answer) and other.
 */
export const WorkflowType = z.enum([
  't2i',
  'i2i',
  'inpaint',
  'upscale',
  't2v',
  'i2v',
  'v2v',
  'audio',
  '3d',
  'text',
  'other',
]);
export type WorkflowType = z.infer<typeof WorkflowType>;

/** ComfyUI's two file formats: the editor's saved graph ("ui") or the prompt dict sent to /prompt ("api"). */
export const WorkflowFormat = z.enum(['ui', 'api']);
export type WorkflowFormat = z.infer<typeof WorkflowFormat>;

/** A model file a workflow loads when it runs. */
export const ModelRef = z.object({
  /** The file name as the loader selects it (may contain a sub folder, e.g. `sdxl/base.safetensors`). */
  name: z.string(),
  /** ComfyUI's model folder key (checkpoints, loras, vae, …); null when the loader is unknown. */
  folder: z.string().nullable(),
  /** Download address embedded in the workflow, when it has one. */
  url: z.string().optional(),
});
export type ModelRef = z.infer<typeof ModelRef>;

/** Why a file could not be read as a workflow. */
export const WorkflowProblemCode = z.enum([
  'too_large',
  'unreadable',
  'empty',
  'invalid_json',
  'truncated',
  'too_deep',
  'not_workflow',
  'collection',
  'bad_shape',
]);
export type WorkflowProblemCode = z.infer<typeof WorkflowProblemCode>;

/** Why a file could not be used, for its error card. */
export const WorkflowProblem = z.object({
  code: WorkflowProblemCode,
  /** A sentence for a person: what is wrong with the file and what to do. */
  reason: z.string(),
});
export type WorkflowProblem = z.infer<typeof WorkflowProblem>;

/**
 * Everything the scanner learns from one file. A file that is not a usable workflow still gets a
 * record (with `error` set and empty lists) so it shows up as an error card instead of vanishing.
 */
export const WorkflowRecord = z.object({
  /** Stable for the same file in the same root across restarts; different for same-named files in other folders. */
  id: z.string(),
  /** The watched folder the file was found in (absolute). */
  root: z.string(),
  /** Path relative to `root`, always with `/` separators. */
  path: z.string(),
  format: WorkflowFormat.nullable(),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  inputTypes: z.array(MediaType),
  outputTypes: z.array(MediaType),
  type: WorkflowType,
  models: z.array(ModelRef),
  /** Nodes in the file, subgraph definitions included. */
  nodeCount: z.number().int(),
  /** Distinct node types that run (virtual helpers, muted and bypassed nodes left out), sorted. */
  nodeTypes: z.array(z.string()),
  /** An image beside the file with the same base name, relative to `root`. */
  thumbnail: z.string().nullable(),
  fileSizeBytes: z.number().int(),
  /** Last modification, ms since epoch. */
  modifiedMs: z.number(),
  error: WorkflowProblem.nullable(),
});
export type WorkflowRecord = z.infer<typeof WorkflowRecord>;

/**
 * A workflow's standing against the connected ComfyUI server. `not_connected` means no server
 * inventory is known: ComfyDesk cannot tell, and says so instead of guessing "ready".
 */
export const WorkflowStatus = z.enum(['ready', 'missing', 'update', 'unknown_nodes', 'not_connected', 'invalid']);
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;

/** A model file the connected server does not have. */
export const MissingModel = ModelRef.extend({
  /** Download size in bytes, when the catalog or the download address tells it. */
  sizeBytes: z.number().optional(),
});
export type MissingModel = z.infer<typeof MissingModel>;

/** A model the workflow uses that has a newer version according to the model catalog. */
export const ModelUpdate = z.object({
  name: z.string(),
  folder: z.string().nullable(),
  newer: z.object({
    name: z.string(),
    url: z.string().optional(),
    sizeBytes: z.number().optional(),
    note: z.string().optional(),
  }),
});
export type ModelUpdate = z.infer<typeof ModelUpdate>;

/** Where a time estimate comes from: this workflow's past runs, or the model catalog's hint. */
export const EstimateSource = z.enum(['history', 'catalog']);
export type EstimateSource = z.infer<typeof EstimateSource>;

/** A workflow checked against the connected server (or its absence). */
export const Compatibility = z.object({
  status: WorkflowStatus,
  /** The server the check was made against; null when none is connected. */
  serverId: z.string().nullable(),
  missing: z.array(MissingModel),
  /** Sum of the known sizes of missing models, bytes; null when none is known. */
  missingSizeBytes: z.number().nullable(),
  /** True when every missing model's size is known, so `missingSizeBytes` is the whole download. */
  isMissingSizeComplete: z.boolean(),
  updates: z.array(ModelUpdate),
  /** Node types the server does not have (custom nodes to install), by name. */
  unknownNodeTypes: z.array(z.string()),
  /** How long a run takes: this workflow's median on this server, else a catalog hint; null when nothing is known. */
  estimate: z.object({ seconds: z.number(), source: EstimateSource }).nullable(),
});
export type Compatibility = z.infer<typeof Compatibility>;

/** What a card shows: the record (without the long node-type list) and its compatibility. */
export const WorkflowCard = WorkflowRecord.omit({ nodeTypes: true }).extend({ compat: Compatibility });
export type WorkflowCard = z.infer<typeof WorkflowCard>;

/** Whether the connected server has a model file; unknown without a server or for an unlisted folder. */
export const ModelState = z.enum(['installed', 'missing', 'unknown']);
export type ModelState = z.infer<typeof ModelState>;

/** The details view: everything about one workflow. */
export const WorkflowDetails = WorkflowRecord.extend({
  compat: Compatibility,
  /** Absolute path of the file. */
  filePath: z.string(),
  modelStates: z.array(MissingModel.extend({ state: ModelState })),
  /** Node types that run, and whether the server has each (null when no server is connected). */
  nodes: z.array(z.object({ type: z.string(), isKnown: z.boolean().nullable() })),
});
export type WorkflowDetails = z.infer<typeof WorkflowDetails>;

/** The whole library as one versioned snapshot. */
export const LibrarySnapshot = z.object({
  version: z.number().int(),
  serverId: z.string().nullable(),
  items: z.array(WorkflowCard),
});
export type LibrarySnapshot = z.infer<typeof LibrarySnapshot>;

/**
 * A versioned change to the library. A client applies it when `version` is exactly one more than
 * what it holds; otherwise (or when `resync` is set) it fetches the snapshot again.
 */
export const LibraryDelta = z.object({
  version: z.number().int(),
  upserted: z.array(WorkflowCard),
  removed: z.array(z.string()),
  resync: z.boolean(),
});
export type LibraryDelta = z.infer<typeof LibraryDelta>;

/** How a watched folder came to be in the library. */
export const RootSource = z.enum(['app', 'settings', 'session']);
export type RootSource = z.infer<typeof RootSource>;

/** One watched folder and how it is doing. */
export const RootStatus = z.object({
  path: z.string(),
  /** app = ComfyDesk's own folder, settings = added by the user, session = `serve --workflows` (this run only). */
  source: RootSource,
  /** scanned = read once without watching (the CLI). */
  state: z.enum(['scanning', 'watching', 'scanned', 'missing', 'error']),
  workflowCount: z.number().int(),
  errorCount: z.number().int(),
  /** What went wrong, for `missing` and `error`. */
  message: z.string().nullable(),
});
export type RootStatus = z.infer<typeof RootStatus>;

/** Search and filters over the library. Every filter is "any of"; empty or absent means no filter. */
export const LibraryQuery = z.object({
  text: z.string().max(500).default(''),
  categories: z.array(z.string()).default([]),
  inputTypes: z.array(MediaType).default([]),
  outputTypes: z.array(MediaType).default([]),
  statuses: z.array(WorkflowStatus).default([]),
  types: z.array(WorkflowType).default([]),
});
export type LibraryQuery = z.infer<typeof LibraryQuery>;

/** One filter value and how many workflows it would show. */
export const FacetCount = z.object({ value: z.string(), count: z.number().int() });
export type FacetCount = z.infer<typeof FacetCount>;

/** The answer to a library query: matching ids, best first, and counts per filter value. */
export const SearchResult = z.object({
  version: z.number().int(),
  /** Matching workflow ids, best first. */
  ids: z.array(z.string()),
  /** Per facet, how many workflows match the text and the other facets' filters. */
  facets: z.object({
    categories: z.array(FacetCount),
    inputTypes: z.array(FacetCount),
    outputTypes: z.array(FacetCount),
    statuses: z.array(FacetCount),
  }),
});
export type SearchResult = z.infer<typeof SearchResult>;

/** What the intent bar understood, and the workflows that fit. */
export const IntentMatch = z.object({
  text: z.string(),
  intent: z.object({ id: z.string(), label: z.string(), type: WorkflowType }).nullable(),
  /** Workflow ids that make what was asked, best first. */
  ids: z.array(z.string()),
  /**
   * What the text describes, to go in as the prompt of the workflow picked ("a cat astronaut", or
   * "a fox" from "an image of a fox"); null when the text only names a kind of workflow.
   */
  prompt: z.string().nullable(),
  /** One sentence for the user, always set: what was understood, or how to browse when nothing fits. */
  message: z.string(),
});
export type IntentMatch = z.infer<typeof IntentMatch>;

/** On how many of the servers used for generation each workflow can run ("runs on 2 of 3 servers"). */
export const FarmFit = z.object({
  /** Servers used for generation, online or not. */
  total: z.number().int().nonnegative(),
  /** Workflow id → online servers that have every node type and model it uses. */
  ready: z.record(z.string(), z.number().int().nonnegative()),
});
export type FarmFit = z.infer<typeof FarmFit>;
