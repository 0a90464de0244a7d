import { fork } from 'node:child_process';
import { basename } from 'node:path';
import type { LlmEngineStatus } from '@shared/domain/llm';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { GenerateRequest, GenerateResult } from './backend';
import type { LlmEngine, LlmEngineEvents } from './engine';
import { FromEngine, type EngineError, type EngineOptions, type ToEngine } from './engine-protocol';

/** How the engine's process ended: its exit code, or the signal that ended it. */
export interface EngineExit {
  code: number | null;
  signal: string | null;
}

/**
 * The engine's process as the main process sees it. The shells provide it: a Node child process in
 * serve mode and the CLI ({@link forkEngineProcess}), an Electron utility process in the desktop app.
 */
export interface EngineProcess {
  send(message: ToEngine): void;
  /** Every message the engine sends (validated by the receiver). */
  onMessage(listener: (message: unknown) => void): void;
  /** Called once, when the process has ended for whatever reason (or could not start). */
  onExit(listener: (exit: EngineExit) => void): void;
  /** Ends the process at once. */
  kill(): void;
}

/** Starts a new engine process. */
export type SpawnEngineProcess = () => EngineProcess;

/** What a ProcessEngine needs. */
export interface ProcessEngineDeps {
  spawn: SpawnEngineProcess;
  /** How the engine runs models (GPU, threads, context, temperature). @default {} */
  options?: EngineOptions;
  log: Logger;
  /** @default Date.now */
  now?: () => number;
  /**
   * How long a request may take to honour an abort before the engine's process is ended (a native
   * call that does not return), in ms. The next request starts a new process. @default 10000
   */
  abortGraceMs?: number;
  /** How long `dispose` waits for the process to exit by itself before ending it, in ms. @default 5000 */
  exitGraceMs?: number;
}

interface Pending {
  resolve(result: GenerateResult | undefined): void;
  reject(error: unknown): void;
  onText?: (text: string) => void;
  /** What the request is doing, for the message if the process dies meanwhile ("loading model.gguf"). */
  doing: string;
  signal: AbortSignal;
  cleanup(): void;
}

/** Node's own child process running out/main/llm-worker.js (serve mode and the CLI). */
export function forkEngineProcess(workerPath: string): SpawnEngineProcess {
  return () => {
    // The engine's stdout goes to our stderr: `enhance --json` keeps stdout for its own JSON lines.
    const child = fork(workerPath, [], { stdio: ['ignore', 2, 'inherit', 'ipc'], serialization: 'advanced' });
    let exited = false;
    const exitListeners: Array<(exit: EngineExit) => void> = [];
    const ended = (exit: EngineExit) => {
      if (exited) return;
      exited = true;
      for (const listener of exitListeners) listener(exit);
    };
    child.once('exit', (code, signal) => ended({ code, signal }));
    child.once('error', () => ended({ code: null, signal: null }));
    return {
      send: (message) => {
        if (child.connected) child.send(message);
      },
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => exitListeners.push(listener),
      kill: () => child.kill('SIGKILL'),
    };
  };
}

/** Why the process probably ended, in words, from how it ended. */
function exitHint({ code, signal }: EngineExit): string {
  if (signal === 'SIGABRT' || code === 134)
    return 'llama.cpp aborted, which a damaged model file or one of a kind it cannot run causes';
  if (signal === 'SIGKILL' || code === 137) return 'it was killed, most often because the computer ran out of memory';
  if (signal === 'SIGSEGV' || code === 139) return 'it crashed inside llama.cpp';
  return signal ? `it ended with ${signal}` : code === null ? 'it could not start' : `it exited with code ${code}`;
}

/**
 * Runs node-llama-cpp in a process of its own (see engine-worker.ts) behind the {@link LlmEngine}
 * port. The process starts on the first request. If it dies (a native abort, out of memory, killed),
 * the request in flight fails with `llm_engine_stopped`, ComfyDesk keeps running, and every request
 * fails at once with the same message until `restart()`: the user decides when to try again, since
 * the model that brought it down would usually do it again.
 */
export class ProcessEngine implements LlmEngine {
  readonly #deps: ProcessEngineDeps;
  readonly #emitter: Emitter<LlmEngineEvents>;
  readonly #pending = new Map<number, Pending>();
  #process: EngineProcess | undefined;
  /** Set when we end the process ourselves: its exit is then not a failure. */
  #isEnding = false;
  #exited: Promise<void> | undefined;
  #nextId = 1;
  #loadedPath: string | undefined;
  #compute: string | null = null;
  #threads: number | null = null;
  #status: LlmEngineStatus = { state: 'ok' };

  constructor(deps: ProcessEngineDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  get loadedPath(): string | undefined {
    return this.#loadedPath;
  }

  get compute(): string | null {
    return this.#compute;
  }

  get threads(): number | null {
    return this.#threads;
  }

  get status(): LlmEngineStatus {
    return this.#status;
  }

  on<K extends keyof LlmEngineEvents>(name: K, listener: (payload: LlmEngineEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  async load(path: string, signal: AbortSignal): Promise<void> {
    if (this.#loadedPath === path && this.#process) return;
    await this.#request({ type: 'load', path }, { signal, doing: `loading ${basename(path)}` });
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const model = this.#loadedPath ? basename(this.#loadedPath) : 'the model';
    const result = await this.#request(
      { type: 'generate', system: request.system, user: request.user, maxTokens: request.maxTokens },
      { signal: request.signal, onText: request.onText, doing: `generating with ${model}` },
    );
    if (!result) throw new AppError('internal', 'The engine answered a generation without a result.');
    return result;
  }

  async unload(): Promise<void> {
    if (!this.#process) {
      this.#loadedPath = undefined;
      return;
    }
    await this.#request({ type: 'unload' }, { signal: new AbortController().signal, doing: 'unloading the model' });
  }

  async restart(): Promise<void> {
    if (this.#status.state === 'ok') return;
    this.#status = { state: 'ok' };
    this.#deps.log.info('engine restarted');
  }

  async dispose(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#isEnding = true;
    const exited = this.#exited;
    child.send({ type: 'dispose', id: this.#nextId++ });
    const timer = setTimeout(() => child.kill(), this.#deps.exitGraceMs ?? 5000);
    timer.unref();
    await exited;
    clearTimeout(timer);
  }

  #start(): EngineProcess {
    if (this.#status.state === 'stopped') throw new AppError('llm_engine_stopped', this.#status.message);
    if (this.#process) return this.#process;
    const child = this.#deps.spawn();
    this.#process = child;
    this.#isEnding = false;
    this.#exited = new Promise((resolve) =>
      child.onExit((exit) => {
        this.#exited = undefined;
        this.#ended(child, exit);
        resolve();
      }),
    );
    child.onMessage((message) => this.#received(child, message));
    child.send({ type: 'init', options: this.#deps.options ?? {} });
    this.#deps.log.debug('engine process started');
    return child;
  }

  #request(
    message: ToEngine extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never,
    how: { signal: AbortSignal; onText?: (text: string) => void; doing: string },
  ): Promise<GenerateResult | undefined> {
    how.signal.throwIfAborted();
    const child = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        child.send({ type: 'abort', id, reason: String(how.signal.reason) });
        // A native call that never returns would hold every later request: end the process.
        timer = setTimeout(() => this.#endUnresponsive(child), this.#deps.abortGraceMs ?? 10_000);
        timer.unref();
      };
      how.signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve,
        reject,
        onText: how.onText,
        doing: how.doing,
        signal: how.signal,
        cleanup: () => {
          how.signal.removeEventListener('abort', onAbort);
          clearTimeout(timer);
        },
      });
      child.send({ ...message, id });
    });
  }

  #received(child: EngineProcess, raw: unknown): void {
    if (child !== this.#process) return;
    const parsed = FromEngine.safeParse(raw);
    if (!parsed.success) {
      this.#deps.log.warn('engine sent an invalid message', { issues: parsed.error.issues.length });
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'state': {
        this.#loadedPath = message.loadedPath ?? undefined;
        this.#compute = message.compute;
        this.#threads = message.threads;
        this.#emitter.emit('changed', undefined);
        return;
      }
      case 'text': {
        // Text that was on its way when the request was stopped is not shown.
        const pending = this.#pending.get(message.id);
        if (pending && !pending.signal.aborted) pending.onText?.(message.text);
        return;
      }
      case 'log':
        this.#deps.log[message.level](message.message, message.fields);
        return;
      case 'done':
        this.#settle(message.id, (pending) => pending.resolve(message.result));
        return;
      case 'failed':
        this.#settle(message.id, (pending) => pending.reject(this.#toError(message.error, pending.signal)));
        return;
    }
  }

  #settle(id: number, finish: (pending: Pending) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.cleanup();
    finish(pending);
  }

  #toError(error: EngineError, signal: AbortSignal): unknown {
    if (error.abortReason !== undefined) return signal.aborted ? signal.reason : error.abortReason;
    if (error.code && error.userMessage)
      return new AppError(error.code, error.userMessage, { message: error.message, details: error.details });
    return new Error(error.message);
  }

  #endUnresponsive(child: EngineProcess): void {
    if (child !== this.#process) return;
    this.#deps.log.warn('the engine did not stop when asked; ending its process');
    this.#isEnding = true;
    child.kill();
  }

  #ended(child: EngineProcess, exit: EngineExit): void {
    if (child !== this.#process) return;
    this.#process = undefined;
    this.#loadedPath = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    if (this.#isEnding) {
      // Ended on purpose (dispose, or an abort it ignored): the requests fail with their own reasons.
      this.#deps.log.debug('engine process ended', { ...exit });
      for (const entry of pending) {
        entry.cleanup();
        entry.reject(
          entry.signal.aborted ? entry.signal.reason : new AppError('cancelled', 'The AI engine was stopped.'),
        );
      }
      this.#emitter.emit('changed', undefined);
      return;
    }
    const doing = pending.find((entry) => !entry.signal.aborted)?.doing ?? pending[0]?.doing;
    const message = `The AI engine stopped unexpectedly${doing ? ` while ${doing}` : ''}: ${exitHint(exit)}. ComfyDesk kept running and your prompt is unchanged; restart the engine to try again, or choose another model.`;
    this.#status = { state: 'stopped', message, stoppedAt: (this.#deps.now ?? Date.now)() };
    this.#deps.log.error('engine process stopped unexpectedly', { ...exit, doing });
    const failure = new AppError('llm_engine_stopped', message, { details: { ...exit } });
    for (const entry of pending) {
      entry.cleanup();
      entry.reject(failure);
    }
    this.#emitter.emit('stopped', this.#status);
  }
}
