import { randomUUID } from 'node:crypto';
import type { DownloadFinished, EnhanceFinished } from '@shared/contract/llm';
import type {
  DownloadProgress,
  EnhanceRequest,
  EnhanceResult,
  LlmActivity,
  LlmModelList,
  LlmSettings,
  LlmStatus,
  OpenAiEndpoint,
} from '@shared/domain/llm';
import { Disposer } from '../lib/disposer';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, serializeError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { SettingsService } from '../settings/settings-service';
import { stopReasonOf, type GenerateRequest, type GenerateResult } from './backend';
import type { LlmEngine } from './engine';
import type { LlmModelStore } from './model-store';
import type { OpenAiBackend } from './openai-backend';
import { checkSubject, cleanEnhancedPrompt } from './output';
import { planEnhancement } from './styles';

interface LlmServiceEvents {
  status: LlmStatus;
  models: LlmModelList;
  token: { id: string; text: string };
  finished: EnhanceFinished;
  downloadProgress: { downloadId: string; modelId: string; progress: DownloadProgress };
  downloadFinished: DownloadFinished;
}

/** Runs `callback` after `delayMs` unless the returned function cancels it first. */
export type Schedule = (callback: () => void, delayMs: number) => () => void;

/** Real timers that never keep the process alive on their own (the CLI exits when its work is done). */
export const realSchedule: Schedule = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

/** The service's collaborators and limits. */
export interface LlmServiceDeps {
  settings: SettingsService;
  store: LlmModelStore;
  /** Runs local models: in a process of its own in the app, in this process in tests. */
  engine: LlmEngine;
  openai: OpenAiBackend;
  log: Logger;
  /** @default Date.now */
  now?: () => number;
  /** Timers for the idle unload and the time limit. @default realSchedule */
  schedule?: Schedule;
  /** How long one enhancement may take once it is taken up (loading included), in ms. @default 180000 */
  timeLimitMs?: number;
  /** How long "Test connection" waits for a server, in ms. @default 10000 */
  endpointCheckMs?: number;
  /** @default crypto.randomUUID */
  createId?: () => string;
}

interface Job {
  id: string;
  request: EnhanceRequest;
  controller: AbortController;
}

/**
 * Prompt enhancement: a queue of requests run one at a time (never over each other), each streamed
 * token by token, cancellable and bounded by a time limit. The local model is loaded on the first
 * request, kept for the next ones, and unloaded after the idle timeout; one model is in memory at a
 * time. Answers are cleaned to the bare prompt and checked to still name the user's subject.
 */
export class LlmService {
  readonly #deps: LlmServiceDeps;
  readonly #emitter: Emitter<LlmServiceEvents>;
  readonly #disposer: Disposer;
  readonly #queue: Job[] = [];
  readonly #now: () => number;
  readonly #schedule: Schedule;
  #running: { job: Job; done: Promise<void> } | undefined;
  #activity: LlmActivity = 'unloaded';
  #loadedId: string | null = null;
  #loadingId: string | null = null;
  #unloadAt: number | null = null;
  #cancelIdleTimer: (() => void) | undefined;
  #idleUnload: Promise<void> = Promise.resolve();
  #started = false;
  #stopping = false;
  /** The last status announced, as JSON. */
  #lastStatus = '';

  constructor(deps: LlmServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
    this.#disposer = new Disposer(deps.log);
    this.#now = deps.now ?? Date.now;
    this.#schedule = deps.schedule ?? realSchedule;
  }

  on<K extends keyof LlmServiceEvents>(name: K, listener: (payload: LlmServiceEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    const { store, settings } = this.#deps;
    this.#disposer.add(store.on('changed', () => this.#announceModels()));
    this.#disposer.add(store.on('progress', (progress) => this.#emitter.emit('downloadProgress', progress)));
    this.#disposer.add(store.on('finished', (finished) => this.#emitter.emit('downloadFinished', finished)));
    const { engine } = this.#deps;
    // The engine's process died: what it had loaded is gone; the request in flight fails by itself.
    this.#disposer.add(
      engine.on('stopped', () => {
        this.#loadedId = null;
        this.#loadingId = null;
        this.#clearIdleTimer();
        if (!this.#running) this.#setActivity('unloaded');
        else this.#announceStatus();
        this.#announceModels();
      }),
    );
    // What the engine computes on becomes known with its first load; only a real change is news.
    this.#disposer.add(
      engine.on('changed', () => {
        if (JSON.stringify(this.status()) !== this.#lastStatus) this.#announceStatus();
      }),
    );
    let previous = settings.get().llm;
    this.#disposer.add(
      settings.on('changed', (value) => {
        const before = previous;
        previous = value.llm;
        this.#settingsChanged(before, value.llm);
      }),
    );
  }

  /** Cancels everything queued or running, stops downloads (keeping them resumable) and frees the model. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#stopping = true;
    for (const job of this.#queue.splice(0)) this.#finishCancelled(job);
    this.#running?.job.controller.abort('cancelled');
    await this.#running?.done;
    this.#clearIdleTimer();
    await this.#idleUnload;
    await this.#disposer.dispose();
    await this.#deps.store.stop();
    await this.#deps.engine.dispose();
    this.#loadedId = null;
    this.#activity = 'unloaded';
  }

  status(): LlmStatus {
    const llm = this.#deps.settings.get().llm;
    const { engine } = this.#deps;
    return {
      enabled: llm.enabled,
      backend: llm.backend,
      model: llm.backend === 'openai' ? llm.openai.model : llm.model,
      activity: this.#activity,
      loadedModel: this.#loadedId,
      compute: engine.compute,
      threads: engine.threads,
      queued: this.#queue.length,
      unloadAt: this.#unloadAt,
      engine: engine.status,
    };
  }

  /** Lets the local engine start again after it stopped unexpectedly; answers with the new status. */
  async restartEngine(): Promise<LlmStatus> {
    await this.#deps.engine.restart();
    this.#announceStatus();
    return this.status();
  }

  /** The store's list with what is loaded (or loading) right now. */
  async models(): Promise<LlmModelList> {
    const list = await this.#deps.store.list();
    return {
      ...list,
      models: list.models.map((model) =>
        model.id === this.#loadingId
          ? { ...model, state: 'loading' }
          : model.id === this.#loadedId && model.state === 'installed'
            ? { ...model, state: 'loaded' }
            : model,
      ),
    };
  }

  /** Queues an enhancement and returns its id; tokens and the end arrive as events. */
  enhance(request: EnhanceRequest): { id: string } {
    if (!this.#started || this.#stopping)
      throw new AppError('cancelled', 'ComfyDesk is shutting down; your prompt is unchanged.');
    const job: Job = { id: (this.#deps.createId ?? randomUUID)(), request, controller: new AbortController() };
    this.#queue.push(job);
    this.#clearIdleTimer();
    this.#announceStatus();
    // Start on the next turn of the event loop, after the caller has the id: no event may name an
    // id its client has not seen yet.
    setImmediate(() => this.#pump());
    return { id: job.id };
  }

  /** Cancels a queued or running enhancement; unknown or finished ids are ignored. */
  cancel(id: string): void {
    const index = this.#queue.findIndex((job) => job.id === id);
    if (index >= 0) {
      const [job] = this.#queue.splice(index, 1);
      this.#finishCancelled(job!);
      this.#announceStatus();
      return;
    }
    if (this.#running?.job.id === id) this.#running.job.controller.abort('cancelled');
  }

  /** Asks an OpenAI-compatible server for its models; missing fields come from settings. */
  async checkEndpoint(endpoint: Partial<OpenAiEndpoint>): Promise<{ models: string[] }> {
    const merged = { ...this.#deps.settings.get().llm.openai, ...endpoint };
    const limitMs = this.#deps.endpointCheckMs ?? 10_000;
    const signal = AbortSignal.timeout(limitMs);
    try {
      return { models: await this.#deps.openai.listModels(merged, signal) };
    } catch (error) {
      if (signal.aborted) {
        throw new AppError(
          'llm_endpoint_unreachable',
          `${merged.baseUrl} did not answer within ${Math.round(limitMs / 1000)} s. Check that the server runs and the address is right.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  #pump(): void {
    if (this.#running || this.#stopping) return;
    const job = this.#queue.shift();
    if (!job) return;
    const done = this.#run(job).finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#pump();
      else this.#becomeIdle();
    });
    this.#running = { job, done };
  }

  async #run(job: Job): Promise<void> {
    const { signal } = job.controller;
    const started = this.#now();
    const limitMs = this.#deps.timeLimitMs ?? 180_000;
    const cancelTimer = this.#schedule(() => job.controller.abort('timeout'), limitMs);
    try {
      await this.#idleUnload;
      signal.throwIfAborted();
      const llm = this.#deps.settings.get().llm;
      const style = job.request.style ?? llm.defaultStyle;
      const plan = planEnhancement(job.request.prompt, style);
      const generation: GenerateRequest = {
        system: plan.system,
        user: plan.user,
        maxTokens: plan.maxTokens,
        signal,
        onText: (text) => this.#emitter.emit('token', { id: job.id, text }),
      };
      const { model, generated } = await this.#generate(llm, job, generation);
      const cleaned = cleanEnhancedPrompt(generated.text, { maxWords: plan.maxWords });
      if (!cleaned.text) {
        throw new AppError(
          'llm_empty_output',
          'The model gave no usable answer. Your prompt is unchanged; try again, another style, or another model.',
          {
            details: { raw: generated.text.slice(0, 500) },
          },
        );
      }
      const subject = checkSubject(job.request.prompt, cleaned.text);
      const result: EnhanceResult = {
        text: cleaned.text,
        original: job.request.prompt,
        style,
        model,
        isSubjectKept: subject.isKept,
        missingWords: subject.missing,
        isTruncated: cleaned.isTruncated,
        tokens: generated.tokens,
        durationMs: this.#now() - started,
      };
      this.#emitter.emit('finished', { id: job.id, ok: true, result });
    } catch (error) {
      const reason = stopReasonOf(signal);
      const failure =
        reason === 'cancelled'
          ? new AppError('cancelled', 'Enhancement cancelled; your prompt is unchanged.')
          : reason === 'timeout'
            ? new AppError(
                'llm_timeout',
                `Enhancement took longer than ${Math.round(limitMs / 1000)} s and was stopped. Your prompt is unchanged; try a smaller model or a shorter prompt.`,
                { cause: error },
              )
            : error;
      this.#emitter.emit('finished', { id: job.id, ok: false, error: serializeError(failure, this.#deps.log) });
    } finally {
      cancelTimer();
    }
  }

  async #generate(
    llm: LlmSettings,
    job: Job,
    generation: GenerateRequest,
  ): Promise<{ model: string; generated: GenerateResult }> {
    if (llm.backend === 'openai' && job.request.model === undefined) {
      this.#setActivity('generating');
      return { model: llm.openai.model, generated: await this.#deps.openai.generate(llm.openai, generation) };
    }
    const { engine, store } = this.#deps;
    const model = await store.resolve(job.request.model ?? llm.model);
    if (engine.loadedPath !== model.path) {
      this.#loadingId = model.id;
      this.#loadedId = null;
      this.#setActivity('loading');
      this.#announceModels();
      try {
        await engine.load(model.path, generation.signal);
        this.#loadedId = model.id;
      } finally {
        this.#loadingId = null;
        this.#announceModels();
      }
    }
    this.#setActivity('generating');
    return { model: model.id, generated: await engine.generate(generation) };
  }

  /** Nothing left to do: keep the model for a while, then free its memory. */
  #becomeIdle(): void {
    const { engine } = this.#deps;
    this.#setActivity(engine.loadedPath ? 'ready' : 'unloaded');
    if (!engine.loadedPath || this.#stopping) return;
    this.#scheduleIdleUnload(this.#deps.settings.get().llm.idleTimeoutSeconds);
  }

  #scheduleIdleUnload(seconds: number): void {
    this.#clearIdleTimer();
    this.#unloadAt = this.#now() + seconds * 1000;
    this.#cancelIdleTimer = this.#schedule(() => this.#unloadNow('idle'), seconds * 1000);
    this.#announceStatus();
  }

  #clearIdleTimer(): void {
    this.#cancelIdleTimer?.();
    this.#cancelIdleTimer = undefined;
    this.#unloadAt = null;
  }

  /** Unloads unless a request is running or waiting (it would only load the model again). */
  #unloadNow(why: string): void {
    this.#clearIdleTimer();
    if (this.#running || this.#queue.length > 0 || !this.#deps.engine.loadedPath) return;
    this.#idleUnload = this.#deps.engine
      .unload()
      .catch((error: unknown) => this.#deps.log.error('unloading the model failed', { error }))
      .then(() => {
        this.#deps.log.debug('model unloaded', { why });
        this.#loadedId = null;
        if (!this.#running) this.#setActivity('unloaded');
        this.#announceModels();
      });
  }

  #settingsChanged(before: LlmSettings, after: LlmSettings): void {
    if (this.#running || this.#queue.length > 0 || !this.#deps.engine.loadedPath) {
      this.#announceStatus();
      return;
    }
    // A loaded model nobody will use any more is memory wasted: free it now.
    if (after.backend !== before.backend || after.model !== before.model || after.modelsDir !== before.modelsDir)
      this.#unloadNow('settings changed');
    else if (after.idleTimeoutSeconds !== before.idleTimeoutSeconds) this.#scheduleIdleUnload(after.idleTimeoutSeconds);
    this.#announceStatus();
    if (after.model !== before.model || after.modelsDir !== before.modelsDir) this.#announceModels();
  }

  #finishCancelled(job: Job): void {
    this.#emitter.emit('finished', {
      id: job.id,
      ok: false,
      error: { code: 'cancelled', userMessage: 'Enhancement cancelled; your prompt is unchanged.' },
    });
  }

  #setActivity(activity: LlmActivity): void {
    this.#activity = activity;
    this.#announceStatus();
  }

  #announceStatus(): void {
    const status = this.status();
    this.#lastStatus = JSON.stringify(status);
    this.#emitter.emit('status', status);
  }

  #announceModels(): void {
    // Listing touches the disk; a failure only delays the next snapshot, so it is logged, not thrown.
    void this.models().then(
      (list) => this.#emitter.emit('models', list),
      (error: unknown) => this.#deps.log.warn('could not list models', { error }),
    );
  }
}
