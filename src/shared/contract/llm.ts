import { z } from 'zod';
import {
  DownloadProgress,
  EnhanceRequest,
  EnhanceResult,
  LlmModelList,
  LlmStatus,
  OpenAiEndpoint,
} from '../domain/llm';
import { sectionPatch } from '../domain/settings';
import { Empty } from './common';
import { SerializedError } from './errors';

/** A model to act on: a catalog id (downloads), or a catalog id / file path (remove). */
const ModelRef = z.object({ modelId: z.string().min(1).max(4096) }).strict();

/** How an enhancement ended: its result, or the error (a cancel is the `cancelled` code). */
export const EnhanceFinished = z.discriminatedUnion('ok', [
  z.object({ id: z.string(), ok: z.literal(true), result: EnhanceResult }),
  z.object({ id: z.string(), ok: z.literal(false), error: SerializedError }),
]);
export type EnhanceFinished = z.infer<typeof EnhanceFinished>;

/** How a download ended. */
export const DownloadFinished = z.discriminatedUnion('ok', [
  z.object({ downloadId: z.string(), modelId: z.string(), ok: z.literal(true), path: z.string() }),
  z.object({ downloadId: z.string(), modelId: z.string(), ok: z.literal(false), error: SerializedError }),
]);
export type DownloadFinished = z.infer<typeof DownloadFinished>;

/** Prompt enhancement: status, models and their downloads, and enhancements that stream. */
export const llmCommands = {
  /** What the enhancer is doing now. */
  'llm.status': { input: Empty, output: LlmStatus },
  /** The catalog and any file from disk, with install/download/load state per model. */
  'llm.models': { input: Empty, output: LlmModelList },
  /** Starts (or joins) a catalog model's download; progress arrives as `llm.downloadProgress`. */
  'llm.download': { input: ModelRef, output: z.object({ downloadId: z.string(), modelId: z.string() }) },
  /** Stops a download and deletes what it had written. */
  'llm.cancelDownload': { input: ModelRef, output: z.object({}) },
  /** Deletes a downloaded catalog model (files chosen from disk are never deleted). */
  'llm.remove': { input: ModelRef, output: LlmModelList },
  /** Queues an enhancement and returns its id at once; tokens stream as `llm.token`, the end as `llm.finished`. */
  'llm.enhance': { input: EnhanceRequest, output: z.object({ id: z.string() }) },
  /** Cancels a queued or running enhancement; it ends with a `cancelled` error. */
  'llm.cancel': { input: z.object({ id: z.string().min(1).max(128) }).strict(), output: z.object({}) },
  /** Starts the local engine again after it stopped unexpectedly; answers with the new status. */
  'llm.restartEngine': { input: Empty, output: LlmStatus },
  /** Asks an OpenAI-compatible server which models it serves (the settings' "Test connection"). */
  'llm.checkEndpoint': {
    input: sectionPatch(OpenAiEndpoint).strict(),
    output: z.object({ models: z.array(z.string()) }),
  },
} as const;

/** Snapshots of status and models, download progress, and the tokens and end of each enhancement (keyed by id). */
export const llmEvents = {
  'llm.statusChanged': LlmStatus,
  'llm.modelsChanged': LlmModelList,
  /** A piece of generated text, in order, for the enhancement `id`. */
  'llm.token': z.object({ id: z.string(), text: z.string() }),
  'llm.finished': EnhanceFinished,
  'llm.downloadProgress': z.object({ downloadId: z.string(), modelId: z.string(), progress: DownloadProgress }),
  'llm.downloadFinished': DownloadFinished,
} as const;
