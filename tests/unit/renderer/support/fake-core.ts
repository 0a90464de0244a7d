import type { CommandName, CommandOutput, ParsedCommandInput } from '@shared/contract/commands';
import type { SerializedError } from '@shared/contract/errors';
import type { EventName, EventPayload } from '@shared/contract/events';
import { Settings } from '@shared/domain/settings';
import type { RequestEnvelope } from '@shared/protocol';
import { ApiClient } from '../../../../src/renderer/src/api/client';
import { pathStager } from '../../../../src/renderer/src/api/stage-file';
import { Listeners, type ClientTransport, type LinkState } from '../../../../src/renderer/src/api/transport';

type Handler<N extends CommandName> = (input: ParsedCommandInput<N>) => CommandOutput<N> | Promise<CommandOutput<N>>;

/** A command the fake refuses, with the error the real core would send. */
export class FakeFailure extends Error {
  readonly error: SerializedError;
  constructor(error: SerializedError) {
    super(error.userMessage);
    this.error = error;
  }
}

/**
 * A stand-in for the core behind a real ApiClient: commands are answered by handlers the test
 * gives (settings and app info work out of the box), events are pushed with `emit`, and every
 * call is recorded. Messages still pass the client's validation, as they would over a real link.
 */
export class FakeCore {
  readonly calls: Array<{ command: CommandName; input: unknown }> = [];
  settings: Settings = Settings.parse({});
  readonly #inFlight = new Set<Promise<void>>();
  readonly #handlers = new Map<CommandName, (input: never) => unknown>();
  readonly #messages = new Listeners<unknown>();
  readonly #states = new Listeners<LinkState>();
  readonly api: ApiClient;
  /** Where a dropped file lies on disk, as the desktop preload would tell ('' = nowhere, e.g. pasted). */
  pathForFile: (file: File) => string = (file) => `/home/me/${file.name}`;
  #link: LinkState = 'open';

  constructor() {
    this.handle('app.info', () => ({
      name: 'ComfyDesk',
      version: '0.0.0',
      mode: 'serve',
      platform: 'linux',
      canOpenFolders: false,
      folders: { data: '/d', logs: '/l', outputs: '/o', workflows: '/w' },
      notices: [],
    }));
    this.handle('settings.get', () => this.settings);
    // One server (or none): no workflow shows on how many servers it runs.
    this.handle('workflows.servers', () => ({ total: 0, ready: {} }));
    this.handle('settings.update', (patch) => {
      const next: Record<string, unknown> = { ...this.settings };
      for (const [section, value] of Object.entries(patch))
        if (value) next[section] = { ...(next[section] as object), ...value };
      this.settings = Settings.parse(next);
      this.emit('settings.changed', this.settings);
      return this.settings;
    });
    const link = () => this.#link;
    const transport: ClientTransport = {
      get state() {
        return link();
      },
      send: (envelope: RequestEnvelope) => {
        const answer = this.#answer(envelope);
        this.#inFlight.add(answer);
        void answer.finally(() => this.#inFlight.delete(answer));
      },
      onMessage: (listener) => this.#messages.add(listener),
      onState: (listener) => this.#states.add(listener),
      close: () => undefined,
    };
    this.api = new ApiClient(transport, {
      timeoutMs: 2000,
      stageFile: pathStager({ pathForFile: (file) => this.pathForFile(file) }),
    });
  }

  handle<N extends CommandName>(command: N, handler: Handler<N>): this {
    this.#handlers.set(command, handler);
    return this;
  }

  /** The link to the core drops or comes back, as a transport reports it. */
  setLink(state: LinkState): void {
    this.#link = state;
    this.#states.emit(state);
  }

  emit<N extends EventName>(event: N, payload: EventPayload<N>): void {
    this.#messages.emit(JSON.parse(JSON.stringify({ kind: 'event', event, payload })));
  }

  /** Resolves once every request made so far has been answered and the answers handled. */
  async answered(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  callsOf(command: CommandName): unknown[] {
    return this.calls.filter((call) => call.command === command).map((call) => call.input);
  }

  async #answer(envelope: RequestEnvelope): Promise<void> {
    const command = envelope.command as CommandName;
    this.calls.push({ command, input: envelope.input });
    const handler = this.#handlers.get(command);
    await Promise.resolve();
    try {
      if (!handler)
        throw new FakeFailure({ code: 'unknown_command', userMessage: `${command} is not part of this test` });
      const output = await handler(envelope.input as never);
      this.#messages.emit(JSON.parse(JSON.stringify({ kind: 'response', id: envelope.id, ok: true, output })));
    } catch (error) {
      const serialized = error instanceof FakeFailure ? error.error : { code: 'internal', userMessage: String(error) };
      this.#messages.emit({ kind: 'response', id: envelope.id, ok: false, error: serialized });
    }
  }
}
