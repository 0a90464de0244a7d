import type { CommandName } from '../../../src/shared/contract/commands';
import type { EventName, EventPayload } from '../../../src/shared/contract/events';
import type { RequestEnvelope } from '../../../src/shared/protocol';
import { ApiClient } from '../../../src/renderer/src/api/client';
import { Listeners, type ClientTransport, type LinkState } from '../../../src/renderer/src/api/transport';

type Answer = (input: unknown) => unknown;

/**
 * A fake core for component tests: commands are answered by the functions a test gives (a thrown
 * `{ code, userMessage }` becomes an error response), and events can be pushed. Every message goes
 * through the real ApiClient, so contract validation still applies.
 */
export function fakeApi(answers: Partial<Record<CommandName, Answer>>) {
  const messages = new Listeners<unknown>();
  const states = new Listeners<LinkState>();
  const calls: Array<{ command: string; input: unknown }> = [];
  const transport: ClientTransport = {
    state: 'open',
    send(envelope: RequestEnvelope) {
      calls.push({ command: envelope.command, input: envelope.input });
      const answer = answers[envelope.command as CommandName];
      queueMicrotask(() => {
        try {
          if (!answer) throw { code: 'unknown_command', userMessage: `no fake for ${envelope.command}` };
          messages.emit({ kind: 'response', id: envelope.id, ok: true, output: answer(envelope.input) });
        } catch (error) {
          messages.emit({ kind: 'response', id: envelope.id, ok: false, error });
        }
      });
    },
    onMessage: (listener) => messages.add(listener),
    onState: (listener) => states.add(listener),
    close: () => undefined,
  };
  const api = new ApiClient(transport, {
    onInvalidMessage: (problem, message) => calls.push({ command: `invalid: ${problem}`, input: message }),
  });
  return {
    api,
    calls,
    emit<N extends EventName>(event: N, payload: EventPayload<N>) {
      messages.emit({ kind: 'event', event, payload });
    },
  };
}
