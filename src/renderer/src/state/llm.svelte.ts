import type { ErrorCode } from '@shared/contract/errors';
import type { EnhanceFinished } from '@shared/contract/llm';
import type {
  DownloadProgress,
  EnhanceResult,
  EnhanceStyle,
  LlmModelList,
  LlmStatus,
  OpenAiEndpoint,
} from '@shared/domain/llm';
import type { ApiClient } from '../api';
import { ApiError, errorMessage } from '../api';
import type { Toasts } from './toasts.svelte';

/** Where one enhancement is. */
export type EnhancePhase = 'starting' | 'streaming' | 'done' | 'failed' | 'cancelled';

/** One enhancement as the window sees it: the text streaming in, then its result or error. */
export class Enhancement {
  readonly original: string;
  readonly style: EnhanceStyle;
  #id: string | undefined;
  #text = $state('');
  #phase = $state<EnhancePhase>('starting');
  #result = $state.raw<EnhanceResult | undefined>(undefined);
  #error = $state.raw<{ code: ErrorCode; message: string } | undefined>(undefined);
  readonly #settled: Promise<void>;
  #settle!: () => void;

  constructor(original: string, style: EnhanceStyle) {
    this.original = original;
    this.style = style;
    this.#settled = new Promise((resolve) => (this.#settle = resolve));
  }

  get id(): string | undefined {
    return this.#id;
  }
  /** Everything generated so far, as the model wrote it. */
  get text(): string {
    return this.#text;
  }
  get phase(): EnhancePhase {
    return this.#phase;
  }
  get result(): EnhanceResult | undefined {
    return this.#result;
  }
  get error(): { code: ErrorCode; message: string } | undefined {
    return this.#error;
  }
  get isRunning(): boolean {
    return this.#phase === 'starting' || this.#phase === 'streaming';
  }
  /** Resolves when it is done, failed or cancelled. */
  get settled(): Promise<void> {
    return this.#settled;
  }

  /** @internal LlmState routes the core's events here. */
  started(id: string): void {
    this.#id = id;
  }
  appended(text: string): void {
    if (!this.isRunning) return;
    this.#phase = 'streaming';
    this.#text += text;
  }
  finished(event: EnhanceFinished): void {
    if (!this.isRunning) return;
    if (event.ok) {
      this.#result = event.result;
      this.#phase = 'done';
    } else {
      this.#error = { code: event.error.code, message: event.error.userMessage };
      this.#phase = event.error.code === 'cancelled' ? 'cancelled' : 'failed';
    }
    this.#settle();
  }
  failed(code: ErrorCode, message: string): void {
    this.finished({ id: this.#id ?? '', ok: false, error: { code, userMessage: message } });
  }
}

/**
 * Prompt enhancement as the window sees it: the enhancer's status, the models and their downloads
 * (kept in step through `llm.*` events, re-fetched after a reconnect), and the enhancement in progress.
 */
export class LlmState {
  #status = $state.raw<LlmStatus | undefined>(undefined);
  #models = $state.raw<LlmModelList | undefined>(undefined);
  #current = $state.raw<Enhancement | undefined>(undefined);
  /** Events that arrived for an enhancement whose id this window did not know yet (replayed once it does). */
  #early: Array<{ id: string; deliver: (enhancement: Enhancement) => void }> = [];
  /** Model ids with a command on its way (download, cancel, remove), so their buttons wait. */
  #pending = $state.raw<ReadonlySet<string>>(new Set());
  #isRestarting = $state(false);
  readonly #api: ApiClient;
  readonly #toasts: Toasts;

  constructor(api: ApiClient, toasts: Toasts) {
    this.#api = api;
    this.#toasts = toasts;
  }

  get status(): LlmStatus | undefined {
    return this.#status;
  }
  get models(): LlmModelList | undefined {
    return this.#models;
  }
  /** The latest enhancement started from this window. */
  get current(): Enhancement | undefined {
    return this.#current;
  }
  isPending(modelId: string): boolean {
    return this.#pending.has(modelId);
  }
  /** Whether the local engine stopped unexpectedly and waits for a restart (local backend only). */
  get isEngineStopped(): boolean {
    return this.#status?.backend === 'local' && this.#status.engine.state === 'stopped';
  }
  /** What happened to the engine, while it is stopped. */
  get engineProblem(): string | undefined {
    const engine = this.#status?.engine;
    return engine?.state === 'stopped' ? engine.message : undefined;
  }
  /** A restart is on its way. */
  get isRestarting(): boolean {
    return this.#isRestarting;
  }

  connect(): () => void {
    const offs = [
      this.#api.on('llm.statusChanged', (status) => (this.#status = status)),
      this.#api.on('llm.modelsChanged', (list) => (this.#models = list)),
      this.#api.on('llm.downloadProgress', ({ modelId, progress }) => this.#patchProgress(modelId, progress)),
      this.#api.on('llm.downloadFinished', (event) => {
        const name = this.#models?.models.find((model) => model.id === event.modelId)?.name ?? event.modelId;
        if (event.ok) this.#toasts.push({ level: 'success', message: `${name} is downloaded and ready.` });
        else if (event.error.code !== 'cancelled')
          this.#toasts.push({ level: 'error', message: event.error.userMessage });
      }),
      this.#api.on('llm.token', ({ id, text }) => this.#route(id, (enhancement) => enhancement.appended(text))),
      this.#api.on('llm.finished', (event) => this.#route(event.id, (enhancement) => enhancement.finished(event))),
      this.#api.onLink((state) => {
        if (state === 'open')
          void this.refresh(); // errors become a toast inside refresh
        // Events for a running enhancement may have been missed: it cannot be trusted to finish.
        else if (this.#current?.isRunning)
          this.#current.failed(
            'disconnected',
            'The connection to ComfyDesk was lost during enhancement. Your prompt is unchanged.',
          );
      }),
    ];
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      for (const off of offs) off();
    };
  }

  async refresh(): Promise<void> {
    try {
      const [status, models] = await Promise.all([this.#api.call('llm.status', {}), this.#api.call('llm.models', {})]);
      this.#status = status;
      this.#models = models;
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** Starts enhancing `prompt`; the returned enhancement fills in as tokens arrive. */
  enhance(prompt: string, style: EnhanceStyle): Enhancement {
    if (this.#current?.isRunning) this.cancelEnhancement();
    const enhancement = new Enhancement(prompt, style);
    this.#current = enhancement;
    this.#early = [];
    // The caller follows the returned enhancement, not this call: both outcomes land in it.
    void this.#api.call('llm.enhance', { prompt, style }).then(
      ({ id }) => {
        enhancement.started(id);
        for (const event of this.#early.splice(0)) if (event.id === id) event.deliver(enhancement);
      },
      (error: unknown) => enhancement.failed(error instanceof ApiError ? error.code : 'internal', errorMessage(error)),
    );
    return enhancement;
  }

  /** Stops the running enhancement (the core answers with a `cancelled` end). */
  cancelEnhancement(): void {
    const id = this.#current?.id;
    // The end arrives as `llm.finished`; a failed cancel request only needs telling.
    if (id) void this.#api.call('llm.cancel', { id }).catch((error: unknown) => this.#toasts.error(error));
  }

  /** Starts the local engine again after it stopped; a failure becomes a toast. */
  async restartEngine(): Promise<void> {
    this.#isRestarting = true;
    try {
      this.#status = await this.#api.call('llm.restartEngine', {});
    } catch (error) {
      this.#toasts.error(error);
    } finally {
      this.#isRestarting = false;
    }
  }

  async download(modelId: string): Promise<void> {
    await this.#withPending(modelId, () => this.#api.call('llm.download', { modelId }));
  }

  async cancelDownload(modelId: string): Promise<void> {
    await this.#withPending(modelId, () => this.#api.call('llm.cancelDownload', { modelId }));
  }

  async remove(modelId: string): Promise<void> {
    await this.#withPending(modelId, async () => (this.#models = await this.#api.call('llm.remove', { modelId })));
  }

  /** Asks an OpenAI-compatible server for its models: the list, or the reason it failed. */
  async checkEndpoint(endpoint: Partial<OpenAiEndpoint>): Promise<{ models: string[] } | { error: string }> {
    try {
      return await this.#api.call('llm.checkEndpoint', endpoint, { timeoutMs: 20_000 });
    } catch (error) {
      return { error: errorMessage(error) };
    }
  }

  /**
   * Hands an event to the current enhancement. Events of other windows' enhancements are ignored;
   * while this window's request has no id yet, events are kept (the core replies first, but a
   * transport may reorder) and replayed once the id is known.
   */
  #route(id: string, deliver: (enhancement: Enhancement) => void): void {
    const current = this.#current;
    if (!current) return;
    if (current.id === id) deliver(current);
    else if (current.id === undefined && current.isRunning && this.#early.length < 10_000)
      this.#early.push({ id, deliver });
  }

  async #withPending(modelId: string, body: () => Promise<unknown>): Promise<void> {
    this.#pending = new Set([...this.#pending, modelId]);
    try {
      await body();
    } catch (error) {
      this.#toasts.error(error);
    } finally {
      const next = new Set(this.#pending);
      next.delete(modelId);
      this.#pending = next;
    }
  }

  #patchProgress(modelId: string, progress: DownloadProgress): void {
    const list = this.#models;
    if (!list) return;
    this.#models = {
      ...list,
      models: list.models.map((model) =>
        model.id === modelId ? { ...model, state: 'downloading', download: progress } : model,
      ),
    };
  }
}
