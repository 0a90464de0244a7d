import type { z } from 'zod';
import { commands, type CommandName, type CommandOutput } from '@shared/contract/commands';
import { events, isEventName, type EventName, type EventPayload } from '@shared/contract/events';
import type { SerializedError } from '@shared/contract/errors';
import type { StagedInput } from '@shared/domain/job';
import { ServerMessage } from '@shared/protocol';
import type { FileStager } from './stage-file';
import { ApiError } from './api-error';
import { Listeners, type ClientTransport, type LinkState } from './transport';

export { ApiError };

/** What to tell a person about a failed call: the core's user message, else the error's text. */
export function errorMessage(error: unknown): string {
  return error instanceof ApiError ? error.userMessage : String(error);
}

export interface ApiClientOptions {
  /** Per-call deadline unless a call sets its own. @default 30000 */
  timeoutMs?: number;
  /** Told about messages that failed validation (they are logged, never silently dropped). */
  onInvalidMessage?: (problem: string, message: unknown) => void;
  /** Ids for requests. @default crypto.randomUUID */
  createId?: () => string;
  /** How files reach the core (by path over IPC, by upload in serve mode). @default none: staging fails */
  stageFile?: FileStager;
}

interface Pending {
  command: CommandName;
  resolve: (output: unknown) => void;
  reject: (error: ApiError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The renderer's typed API: `call('jobs.enqueue', input)` and `on('jobs.updated', fn)`. Every
 * response and every event is validated against the contract; every call ends — with its output,
 * a typed error, a timeout, or `disconnected` when the link drops.
 */
export class ApiClient {
  readonly #transport: ClientTransport;
  readonly #pending = new Map<string, Pending>();
  readonly #eventListeners = new Map<EventName, Listeners<unknown>>();
  readonly #linkListeners = new Listeners<LinkState>();
  readonly #timeoutMs: number;
  readonly #onInvalid: (problem: string, message: unknown) => void;
  readonly #createId: () => string;
  readonly #stageFile: FileStager | undefined;
  readonly #unsubscribe: Array<() => void>;

  constructor(transport: ClientTransport, options: ApiClientOptions = {}) {
    this.#transport = transport;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#onInvalid =
      options.onInvalidMessage ?? ((problem, message) => console.warn(`ComfyDesk: ${problem}`, message));
    this.#createId = options.createId ?? (() => crypto.randomUUID());
    this.#stageFile = options.stageFile;
    this.#unsubscribe = [
      transport.onMessage((message) => this.#receive(message)),
      transport.onState((state) => {
        if (state !== 'open')
          this.#rejectAll({ code: 'disconnected', userMessage: 'The connection to ComfyDesk was lost. Reconnecting…' });
        this.#linkListeners.emit(state);
      }),
    ];
  }

  get linkState(): LinkState {
    return this.#transport.state;
  }

  call<N extends CommandName>(
    command: N,
    input: z.input<(typeof commands)[N]['input']>,
    options: { timeoutMs?: number } = {},
  ): Promise<CommandOutput<N>> {
    return new Promise<CommandOutput<N>>((resolve, reject) => {
      const id = this.#createId();
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new ApiError({
            code: 'timeout',
            userMessage: `ComfyDesk did not answer "${command}" within ${Math.round(timeoutMs / 1000)} s.`,
          }),
        );
      }, timeoutMs);
      this.#pending.set(id, { command, resolve: resolve as (output: unknown) => void, reject, timer });
      try {
        this.#transport.send({ kind: 'request', id, command, input });
      } catch {
        this.#settle(id)?.reject(
          new ApiError({
            code: 'disconnected',
            userMessage: 'ComfyDesk is not connected right now. Try again in a moment.',
          }),
        );
      }
    });
  }

  /**
   * Keeps a dropped or picked file for a run and answers its handle (use it as `{ staged: id }`).
   * Its bytes never go into a message: the transport's stager sends a path or an upload.
   */
  async stageFile(file: File, options: { timeoutMs?: number } = {}): Promise<StagedInput> {
    if (!this.#stageFile)
      throw new ApiError({ code: 'invalid_input', userMessage: `${file.name} cannot be added here.` });
    return this.#stageFile(file, this, { timeoutMs: options.timeoutMs ?? this.#timeoutMs });
  }

  on<N extends EventName>(event: N, listener: (payload: EventPayload<N>) => void): () => void {
    let listeners = this.#eventListeners.get(event);
    if (!listeners) {
      listeners = new Listeners();
      this.#eventListeners.set(event, listeners);
    }
    return listeners.add(listener as (payload: unknown) => void);
  }

  /** Link state changes; on a return to `open`, state holders re-fetch their snapshots. */
  onLink(listener: (state: LinkState) => void): () => void {
    return this.#linkListeners.add(listener);
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#rejectAll({ code: 'disconnected', userMessage: 'The connection to ComfyDesk was closed.' });
    this.#transport.close();
  }

  #receive(raw: unknown): void {
    const message = ServerMessage.safeParse(raw);
    if (!message.success) return this.#onInvalid('message with an unknown shape', raw);
    const data = message.data;
    if (data.kind === 'event') {
      if (!isEventName(data.event)) return this.#onInvalid(`unknown event "${data.event}"`, raw);
      const payload = events[data.event].safeParse(data.payload);
      if (!payload.success) return this.#onInvalid(`invalid payload for event "${data.event}"`, raw);
      this.#eventListeners.get(data.event)?.emit(payload.data);
      return;
    }
    const pending = this.#settle(data.id);
    if (!pending) return this.#onInvalid(`response to an unknown request "${data.id}"`, raw);
    if (!data.ok) return pending.reject(new ApiError(data.error));
    const output = commands[pending.command].output.safeParse(data.output);
    if (!output.success) {
      this.#onInvalid(`invalid output for "${pending.command}"`, raw);
      return pending.reject(
        new ApiError({
          code: 'invalid_output',
          userMessage: `ComfyDesk sent an answer to "${pending.command}" this window does not understand. Reload the window.`,
        }),
      );
    }
    pending.resolve(output.data);
  }

  #settle(id: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    return pending;
  }

  #rejectAll(error: SerializedError): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(new ApiError(error));
  }
}
