import type { LlmEngineStatus } from '@shared/domain/llm';
import type { Unsubscribe } from '../lib/emitter';
import type { GenerateRequest, GenerateResult } from './backend';

/** What an engine tells its owner without being asked. */
export interface LlmEngineEvents {
  /** The engine's process ended unexpectedly; requests fail with `llm_engine_stopped` until `restart()`. */
  stopped: Extract<LlmEngineStatus, { state: 'stopped' }>;
  /** What is loaded, or what the engine computes on, changed by itself (e.g. a load finished after its caller gave up). */
  changed: void;
}

/**
 * The port LlmService runs local models through: one model in memory at a time, loaded only after
 * its header passed the checks in gguf.ts. Callers serialise requests; an engine does not queue.
 *
 * Implementations: {@link LocalEngine} runs node-llama-cpp in this process (tests, benches, the
 * engine's own worker); ProcessEngine runs it in a child process or an Electron utility process, so
 * that a native abort or an out-of-memory model cannot take ComfyDesk down with it.
 */
export interface LlmEngine {
  /** Path of the model in memory, if any. */
  readonly loadedPath: string | undefined;
  /** 'cuda', 'vulkan', 'metal' or 'cpu' once node-llama-cpp has started; null before. */
  readonly compute: string | null;
  /** CPU threads generation uses, once known. */
  readonly threads: number | null;
  /** Fine, or stopped unexpectedly (then every request fails until `restart()`). */
  readonly status: LlmEngineStatus;
  /** Loads the model at `path` (unloading any other first); resolves at once when it is already loaded. */
  load(path: string, signal: AbortSignal): Promise<void>;
  /** Generates an answer with the loaded model. */
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Frees the loaded model's memory. Safe to call when nothing is loaded. */
  unload(): Promise<void>;
  /** After a stop: the next request starts the engine afresh. */
  restart(): Promise<void>;
  /** Unloads and releases everything, the engine's process included. */
  dispose(): Promise<void>;
  on<K extends keyof LlmEngineEvents>(name: K, listener: (payload: LlmEngineEvents[K]) => void): Unsubscribe;
}
