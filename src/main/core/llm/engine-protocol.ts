import { z } from 'zod';
import { ErrorCode } from '@shared/contract/errors';

/**
 * The messages between ProcessEngine (in ComfyDesk's main process) and the engine's own process
 * (engine-worker.ts), over Node's IPC channel or an Electron utility process's port. Both ends
 * validate what they receive, like every other boundary of ComfyDesk.
 */

/** How the engine runs models (the LocalEngine options that can cross a process boundary). */
export const EngineOptions = z.object({
  gpu: z.union([z.literal('auto'), z.literal(false)]).optional(),
  maxThreads: z.number().int().positive().optional(),
  contextSize: z.number().int().positive().optional(),
  temperature: z.number().min(0).optional(),
});
export type EngineOptions = z.infer<typeof EngineOptions>;

/** Main process → engine. Every request carries an id its answer repeats. */
export const ToEngine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('init'), options: EngineOptions }),
  z.object({ type: z.literal('load'), id: z.number(), path: z.string() }),
  z.object({
    type: z.literal('generate'),
    id: z.number(),
    system: z.string(),
    user: z.string(),
    maxTokens: z.number().int().positive(),
  }),
  /** Stops the request `id` (a load or a generation) with this reason. */
  z.object({ type: z.literal('abort'), id: z.number(), reason: z.string() }),
  z.object({ type: z.literal('unload'), id: z.number() }),
  /** Unload, release llama.cpp, then exit. */
  z.object({ type: z.literal('dispose'), id: z.number() }),
]);
export type ToEngine = z.infer<typeof ToEngine>;

/** An error as it crosses from the engine: the AppError fields, or a plain message for anything else. */
export const EngineError = z.object({
  code: ErrorCode.optional(),
  message: z.string(),
  userMessage: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  /** The signal's reason when the request was aborted. */
  abortReason: z.string().optional(),
});
export type EngineError = z.infer<typeof EngineError>;

/** Engine → main process. */
export const FromEngine = z.discriminatedUnion('type', [
  /** What is loaded and what it computes on, sent whenever that changes. */
  z.object({
    type: z.literal('state'),
    loadedPath: z.string().nullable(),
    compute: z.string().nullable(),
    threads: z.number().int().positive().nullable(),
  }),
  /** A piece of generated text for the request `id`. */
  z.object({ type: z.literal('text'), id: z.number(), text: z.string() }),
  /** The request `id` finished; a generation carries its result. */
  z.object({
    type: z.literal('done'),
    id: z.number(),
    result: z.object({ text: z.string(), tokens: z.number().int().nonnegative() }).optional(),
  }),
  z.object({ type: z.literal('failed'), id: z.number(), error: EngineError }),
  /** A log line for the main process's log (the engine has no log file of its own). */
  z.object({
    type: z.literal('log'),
    level: z.enum(['debug', 'info', 'warn', 'error']),
    message: z.string(),
    fields: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type FromEngine = z.infer<typeof FromEngine>;
