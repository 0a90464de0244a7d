import type { z } from 'zod';
import {
  commands,
  isCommandName,
  type CommandName,
  type CommandOutput,
  type ParsedCommandInput,
} from '@shared/contract/commands';
import type { SerializedError } from '@shared/contract/errors';
import { RequestEnvelope, type ResponseEnvelope } from '@shared/protocol';
import { serializeError } from './lib/errors';
import { RouterCallError } from './router-call-error';
import type { Logger } from './lib/logger';

/** Who is asking: lets handlers answer per client (e.g. open a URL in that client's own way). */
export interface RequestContext {
  /** Stable for the life of one connection (a window or a socket). */
  clientId: string;
  transport: 'ipc' | 'ws' | 'local';
}

type Handler<N extends CommandName> = (
  input: ParsedCommandInput<N>,
  context: RequestContext,
) => Promise<CommandOutput<N>> | CommandOutput<N>;

/** One handler per command: a mapped type, so a command without a handler does not compile. */
export type Handlers = { [N in CommandName]: Handler<N> };

/**
 * The only code that maps commands to services. It validates the envelope and the input before
 * any service runs, and turns every failure into a typed error response: a bad message never
 * crashes a transport and never leaves a caller waiting.
 */
export class Router {
  readonly #handlers: Handlers;
  readonly #log: Logger;

  constructor(deps: { handlers: Handlers; log: Logger }) {
    this.#handlers = deps.handlers;
    this.#log = deps.log;
  }

  async handle(message: unknown, context: RequestContext): Promise<ResponseEnvelope> {
    const envelope = RequestEnvelope.safeParse(message);
    if (!envelope.success) {
      return failure(idOf(message), {
        code: 'invalid_message',
        userMessage: 'ComfyDesk received a message it does not understand.',
        details: { issues: flattenIssues(envelope.error) },
      });
    }
    const { id, command, input } = envelope.data;
    if (!isCommandName(command)) {
      return failure(id, {
        code: 'unknown_command',
        userMessage: `Unknown command "${command}".`,
        details: { command },
      });
    }
    const parsedInput = commands[command].input.safeParse(input ?? {});
    if (!parsedInput.success) {
      return failure(id, {
        code: 'invalid_input',
        userMessage: `The request "${command}" had invalid values.`,
        details: { command, issues: flattenIssues(parsedInput.error) },
      });
    }
    try {
      const output = await this.#dispatch(command, parsedInput.data, context);
      return { kind: 'response', id, ok: true, output };
    } catch (error) {
      return failure(id, serializeError(error, this.#log.child(command)));
    }
  }

  /** Calls a handler directly with a typed input (the CLI and tests use this in-process). */
  async call<N extends CommandName>(
    command: N,
    input: z.input<(typeof commands)[N]['input']>,
    context: RequestContext = LOCAL_CONTEXT,
  ): Promise<CommandOutput<N>> {
    const response = await this.handle({ kind: 'request', id: 'local', command, input }, context);
    if (!response.ok) throw new RouterCallError(response.error);
    return response.output as CommandOutput<N>;
  }

  #dispatch<N extends CommandName>(
    command: N,
    input: ParsedCommandInput<N>,
    context: RequestContext,
  ): Promise<CommandOutput<N>> | CommandOutput<N> {
    const handler = this.#handlers[command] as Handler<N>;
    return handler(input, context);
  }
}

export const LOCAL_CONTEXT: RequestContext = { clientId: 'local', transport: 'local' };

/** A failed in-process call, carrying the same serialised error a remote client would see. */
function failure(id: string, error: SerializedError): ResponseEnvelope {
  return { kind: 'response', id, ok: false, error };
}

function idOf(message: unknown): string {
  if (typeof message === 'object' && message !== null && 'id' in message) {
    const { id } = message;
    if (typeof id === 'string') return id.slice(0, 128);
  }
  return '';
}

/** zod issues reduced to what is safe and useful to send: path and message. */
export function flattenIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

export { RouterCallError };
