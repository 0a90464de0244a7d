import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import type { LlmEngineStatus } from '@shared/domain/llm';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type * as NodeLlamaCpp from 'node-llama-cpp';
import type { GenerateRequest, GenerateResult } from './backend';
import type { LlmEngine, LlmEngineEvents } from './engine';
import { inspectGguf, type GgufSummary } from './gguf';

type Binding = typeof NodeLlamaCpp;

/** How the engine runs models; tests turn GPU probing off and decode greedily. */
export interface LocalEngineDeps {
  log: Logger;
  /** 'auto' uses CUDA, Vulkan or Metal when node-llama-cpp finds one, else the CPU. @default 'auto' */
  gpu?: 'auto' | false;
  /**
   * Upper bound on CPU threads. llama.cpp's threads wait for each other at every step, spinning:
   * one that has to share its core with another busy program stalls them all, and generation gets
   * 10–100× slower (node-llama-cpp's own default of at least 4 does this to small machines even when
   * idle). So ComfyDesk uses the physical cores minus one, leaving a core for the window, ComfyUI or
   * the browser; on a 2-core machine that is one thread.
   * @default os.availableParallelism() - 1, at least 1
   */
  maxThreads?: number;
  /** Context window in tokens (capped at what the model was trained with). @default 2048 */
  contextSize?: number;
  /** Sampling temperature; 0 is greedy (same answer every time). @default 0.6 */
  temperature?: number;
  /** Imports node-llama-cpp; late, so starting ComfyDesk never pays for it. @default import('node-llama-cpp') */
  loadBinding?: () => Promise<Binding>;
}

interface Loaded {
  path: string;
  model: LlamaModel;
  context: LlamaContext;
  header: GgufSummary;
}

/**
 * Runs GGUF models in this process through node-llama-cpp: one model in memory at a time, loaded
 * only after its header passed {@link inspectGguf} (a malformed header can abort the whole process
 * inside llama.cpp). Callers serialise requests; this class does not queue. The app runs it inside
 * the engine's own process (engine-worker.ts); tests and benches use it directly.
 */
export class LocalEngine implements LlmEngine {
  readonly #deps: LocalEngineDeps;
  readonly #emitter: Emitter<LlmEngineEvents>;
  #binding: Binding | undefined;
  #llama: Promise<Llama> | undefined;
  #llamaReady: Llama | undefined;
  #loaded: Loaded | undefined;
  #threads: number | undefined;

  constructor(deps: LocalEngineDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  /** In this process the engine cannot stop on its own: if it did, so would everything else. */
  get status(): LlmEngineStatus {
    return { state: 'ok' };
  }

  on<K extends keyof LlmEngineEvents>(name: K, listener: (payload: LlmEngineEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** Releases node-llama-cpp; the next request starts it again. */
  async restart(): Promise<void> {
    await this.dispose();
  }

  /** Path of the model in memory, if any. */
  get loadedPath(): string | undefined {
    return this.#loaded?.path;
  }

  /** 'cuda', 'vulkan', 'metal' or 'cpu' once node-llama-cpp has started; null before. */
  get compute(): string | null {
    return this.#llamaReady ? this.#llamaReady.gpu || 'cpu' : null;
  }

  /** CPU threads generation uses, once known. */
  get threads(): number | null {
    return this.#threads ?? null;
  }

  /** Loads the model at `path` (unloading any other first); resolves at once when it is already loaded. */
  async load(path: string, signal: AbortSignal): Promise<void> {
    if (this.#loaded?.path === path) return;
    await this.unload();
    const header = await inspectGguf(path, { signal });
    signal.throwIfAborted();
    const llama = await this.#getLlama();
    signal.throwIfAborted();
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: path, loadSignal: signal });
    } catch (error) {
      signal.throwIfAborted();
      throw this.#loadError(error, path);
    }
    try {
      const contextSize = Math.min(this.#deps.contextSize ?? 2048, model.trainContextSize || header.contextLength);
      const context = await model.createContext({
        contextSize,
        sequences: 1,
        threads: this.#threads,
        createSignal: signal,
      });
      this.#loaded = { path, model, context, header };
    } catch (error) {
      await model.dispose();
      signal.throwIfAborted();
      throw this.#loadError(error, path);
    }
    this.#deps.log.info('model loaded', {
      path,
      architecture: header.architecture,
      compute: this.compute,
      threads: this.#threads,
    });
  }

  /** Generates an answer with the loaded model. */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const loaded = this.#loaded;
    if (!loaded) throw new AppError('internal', 'No model is loaded.');
    const binding = await this.#getBinding();
    const sequence = loaded.context.getSequence();
    const session = new binding.LlamaChatSession({
      contextSequence: sequence,
      systemPrompt: request.system,
      autoDisposeSequence: false,
    });
    let tokens = 0;
    try {
      const text = await session.prompt(request.user, {
        maxTokens: request.maxTokens,
        temperature: this.#deps.temperature ?? 0.6,
        topP: 0.9,
        repeatPenalty: { penalty: 1.1, lastTokens: 64 },
        signal: request.signal,
        onToken: (generated) => (tokens += generated.length),
        onTextChunk: request.onText,
      });
      return { text, tokens };
    } finally {
      session.dispose({ disposeSequence: false });
      await sequence.dispose();
    }
  }

  /** Frees the loaded model's memory. Safe to call when nothing is loaded. */
  async unload(): Promise<void> {
    const loaded = this.#loaded;
    if (!loaded) return;
    this.#loaded = undefined;
    await loaded.context.dispose();
    await loaded.model.dispose();
    this.#deps.log.info('model unloaded', { path: loaded.path });
  }

  /** Unloads and releases node-llama-cpp itself. */
  async dispose(): Promise<void> {
    await this.unload();
    const llama = this.#llamaReady;
    this.#llama = undefined;
    this.#llamaReady = undefined;
    if (llama && !llama.disposed) await llama.dispose();
  }

  async #getBinding(): Promise<Binding> {
    this.#binding ??= await (this.#deps.loadBinding ?? (() => import('node-llama-cpp')))();
    return this.#binding;
  }

  #getLlama(): Promise<Llama> {
    this.#llama ??= this.#startLlama().catch((error: unknown) => {
      this.#llama = undefined;
      throw error;
    });
    return this.#llama;
  }

  async #startLlama(): Promise<Llama> {
    const binding = await this.#getBinding();
    // One core stays free unless the caller chose a number (see maxThreads).
    const spare = this.#deps.maxThreads === undefined ? 1 : 0;
    const maxThreads = Math.max(1, this.#deps.maxThreads ?? availableParallelism() - spare);
    const log = this.#deps.log.child('llama.cpp');
    try {
      const llama = await binding.getLlama({
        gpu: this.#deps.gpu ?? 'auto',
        // Never compile llama.cpp on a user's machine: the prebuilt binaries are what ships.
        build: 'never',
        maxThreads,
        logLevel: binding.LlamaLogLevel.warn,
        logger: (level, message) =>
          level === binding.LlamaLogLevel.error || level === binding.LlamaLogLevel.fatal
            ? log.warn(message)
            : log.debug(message),
      });
      // Physical cores do the math; hyper-threads past them only contend.
      const physical = llama.cpuMathCores > 0 ? llama.cpuMathCores - spare : maxThreads;
      this.#threads = Math.max(1, Math.min(maxThreads, physical));
      this.#llamaReady = llama;
      return llama;
    } catch (error) {
      throw new AppError(
        'llm_load_failed',
        'The local AI runtime (llama.cpp) could not start on this machine. Your prompt is unchanged; use an OpenAI-compatible server (Ollama, LM Studio) in Settings › AI prompt enhancement instead.',
        { cause: error },
      );
    }
  }

  #loadError(error: unknown, path: string): AppError {
    const binding = this.#binding;
    if (binding && error instanceof binding.InsufficientMemoryError) {
      return new AppError(
        'llm_load_failed',
        `There is not enough free memory to load ${basename(path)}. Close other programs or choose a smaller model; your prompt is unchanged.`,
        {
          cause: error,
          details: { path },
        },
      );
    }
    return new AppError(
      'llm_load_failed',
      `llama.cpp could not load ${basename(path)} (the log has its reason). Your prompt is unchanged; try another model.`,
      {
        cause: error,
        details: { path },
      },
    );
  }
}
