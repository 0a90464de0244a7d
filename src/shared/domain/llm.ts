import { z } from 'zod';

/** How an enhancement rewrites a prompt; each has its own system prompt and word limit. */
export const EnhanceStyle = z.enum(['detailed', 'cinematic', 'artistic', 'minimal']);
export type EnhanceStyle = z.infer<typeof EnhanceStyle>;

/** Labels and one-line descriptions for pickers (the renderer and the CLI's help share them). */
export const ENHANCE_STYLES: ReadonlyArray<{ value: EnhanceStyle; label: string; description: string }> = [
  { value: 'detailed', label: 'Detailed', description: 'quality tags, lighting, composition' },
  { value: 'cinematic', label: 'Cinematic', description: 'film terms, camera angles, mood' },
  { value: 'artistic', label: 'Artistic', description: 'art styles, techniques, references' },
  { value: 'minimal', label: 'Minimal', description: 'grammar and clarity only' },
];

/** Where enhancement runs: a GGUF model loaded in ComfyDesk, or a server the user already runs. */
export const LlmBackend = z.enum(['local', 'openai']);
export type LlmBackend = z.infer<typeof LlmBackend>;

/** The catalog model selected until the user picks another (the smallest one). */
export const DEFAULT_LLM_MODEL = 'qwen2.5-1.5b-instruct';

/** An OpenAI-compatible chat endpoint (Ollama, llama.cpp server, LM Studio). */
export const OpenAiEndpoint = z.object({
  /** Base URL including `/v1`. @default 'http://127.0.0.1:11434/v1' (Ollama) */
  baseUrl: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:11434/v1'),
  /** The server's model name, e.g. `qwen2.5:1.5b-instruct` for Ollama. @default '' */
  model: z.string().max(200).default(''),
  /** Sent as a Bearer token when set; most local servers need none. @default '' */
  apiKey: z.string().max(500).default(''),
});
export type OpenAiEndpoint = z.infer<typeof OpenAiEndpoint>;

/** The `llm` settings section. Enhancement is opt-in: off until the user turns it on. */
export const LlmSettings = z.object({
  /** Shows the Enhance control on the Generate page. @default false */
  enabled: z.boolean().default(false),
  /** @default 'local' */
  backend: LlmBackend.default('local'),
  /** A catalog model id, or the absolute path of a GGUF file on disk. @default 'qwen2.5-1.5b-instruct' */
  model: z.string().min(1).max(4096).default(DEFAULT_LLM_MODEL),
  /** Where catalog models are downloaded; empty means `<data dir>/models/llm`. @default '' */
  modelsDir: z.string().max(4096).default(''),
  /** A loaded model is unloaded after this many idle seconds (0: right after each use). @default 300 */
  idleTimeoutSeconds: z.number().int().min(0).max(86_400).default(300),
  /** @default 'detailed' */
  defaultStyle: EnhanceStyle.default('detailed'),
  openai: OpenAiEndpoint.default(OpenAiEndpoint.parse({})),
});
export type LlmSettings = z.infer<typeof LlmSettings>;

/** Download progress of one model file. */
export const DownloadProgress = z.object({
  receivedBytes: z.number().int().nonnegative(),
  /** Unknown until the server says (no Content-Length). */
  totalBytes: z.number().int().nonnegative().nullable(),
  /** Averaged over the last few seconds. */
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
});
export type DownloadProgress = z.infer<typeof DownloadProgress>;

/** Where a model stands on this machine. */
export const LlmModelState = z.enum(['not_installed', 'downloading', 'installed', 'loading', 'loaded', 'missing']);
export type LlmModelState = z.infer<typeof LlmModelState>;

/** One model ComfyDesk can use: a catalog entry or a GGUF file the user chose. */
export const LlmModel = z.object({
  /** Catalog id, or the file's absolute path for a file from disk. */
  id: z.string(),
  name: z.string(),
  source: z.enum(['catalog', 'file']),
  description: z.string(),
  /** Where the file is (or will be once downloaded). */
  path: z.string(),
  /** File size; null when unknown. */
  sizeBytes: z.number().int().nonnegative().nullable(),
  /** About how much memory the model takes while loaded (weights + context); null when unknown. */
  memoryBytes: z.number().int().nonnegative().nullable(),
  /** Download address (catalog models). */
  url: z.string().optional(),
  /** Published SHA-256 of the file, checked after download; absent when none is published. */
  sha256: z.string().optional(),
  license: z.string().optional(),
  state: LlmModelState,
  /** Present while downloading. */
  download: DownloadProgress.optional(),
  /** Whether settings point at this model. */
  isSelected: z.boolean(),
});
export type LlmModel = z.infer<typeof LlmModel>;

/** Every model, the folder they live in, and how much room is left there. */
export const LlmModelList = z.object({
  modelsDir: z.string(),
  /** Free space in the models folder; null when it cannot be read. */
  freeBytes: z.number().nonnegative().nullable(),
  models: z.array(LlmModel),
});
export type LlmModelList = z.infer<typeof LlmModelList>;

/** What the enhancer is doing right now. */
export const LlmActivity = z.enum(['unloaded', 'loading', 'ready', 'generating']);
export type LlmActivity = z.infer<typeof LlmActivity>;

/**
 * The local engine (node-llama-cpp, in a process of its own): fine — running, or not started yet —
 * or stopped unexpectedly (a crash inside llama.cpp, out of memory, killed). While stopped, local
 * enhancements fail at once until the user restarts it (`llm.restartEngine`).
 */
export const LlmEngineStatus = z.discriminatedUnion('state', [
  z.object({ state: z.literal('ok') }),
  z.object({
    state: z.literal('stopped'),
    /** What happened, for a person: which model it was working on and how the process ended. */
    message: z.string(),
    /** When it stopped (ms since epoch). */
    stoppedAt: z.number(),
  }),
]);
export type LlmEngineStatus = z.infer<typeof LlmEngineStatus>;

/** A snapshot of the enhancer: which backend and model, what is loaded, what is queued. */
export const LlmStatus = z.object({
  enabled: z.boolean(),
  backend: LlmBackend,
  /** The model requests use: a catalog id or path (local), or the server's model name (openai). */
  model: z.string(),
  activity: LlmActivity,
  /** The model currently in memory (local backend), as an id or path. */
  loadedModel: z.string().nullable(),
  /** What node-llama-cpp computes on once something was loaded: 'cuda', 'vulkan', 'metal' or 'cpu'. */
  compute: z.string().nullable(),
  /** CPU threads generation uses. */
  threads: z.number().int().positive().nullable(),
  /** Requests waiting behind the running one. */
  queued: z.number().int().nonnegative(),
  /** When the loaded model will be unloaded if nothing else comes (ms since epoch). */
  unloadAt: z.number().nullable(),
  /** Whether the local engine's process is fine or stopped unexpectedly. */
  engine: LlmEngineStatus,
});
export type LlmStatus = z.infer<typeof LlmStatus>;

/** The longest prompt enhancement accepts, in characters. */
export const MAX_ENHANCE_PROMPT_CHARS = 4000;

/** A request to enhance a prompt. */
export const EnhanceRequest = z
  .object({
    prompt: z.string().trim().min(1).max(MAX_ENHANCE_PROMPT_CHARS),
    /** @default the `llm.defaultStyle` setting */
    style: EnhanceStyle.optional(),
    /** A catalog id or GGUF path for this request only (uses the local backend). */
    model: z.string().min(1).max(4096).optional(),
  })
  .strict();
export type EnhanceRequest = z.infer<typeof EnhanceRequest>;

/** A finished enhancement. When the subject was lost the caller keeps `original` and says why. */
export const EnhanceResult = z.object({
  /** The cleaned enhanced prompt (no preamble, no quotes, within the word limit). */
  text: z.string(),
  original: z.string(),
  style: EnhanceStyle,
  /** Which model answered (id, path, or the server's model name). */
  model: z.string(),
  /** False when words naming the subject are missing from `text`; then `original` should be kept. */
  isSubjectKept: z.boolean(),
  /** The subject words `text` lost. */
  missingWords: z.array(z.string()),
  /** True when the answer was cut at the style's word limit. */
  isTruncated: z.boolean(),
  /** Tokens generated. */
  tokens: z.number().int().nonnegative(),
  /** From the request being taken up to the last token, in milliseconds (includes loading). */
  durationMs: z.number().nonnegative(),
});
export type EnhanceResult = z.infer<typeof EnhanceResult>;
