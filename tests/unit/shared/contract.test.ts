import { describe, expect, test } from 'vitest';
import { commandNames, commands } from '@shared/contract/commands';
import { ErrorCode, SerializedError } from '@shared/contract/errors';
import { eventNames, events } from '@shared/contract/events';
import { RequestEnvelope, ResponseEnvelope, ServerMessage } from '@shared/protocol';

describe('the contract', () => {
  test('command names are area.verb and event names are area.noun or area.pastTense', () => {
    for (const name of commandNames) expect(name).toMatch(/^[a-z]+\.[a-z][A-Za-z]*$/);
    for (const name of eventNames) expect(name).toMatch(/^[a-z]+\.[a-z][A-Za-z]*$/);
  });

  test('error codes are snake_case', () => {
    for (const code of ErrorCode.options) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  test('settings.update accepts a partial section and rejects unknown keys and wrong values', () => {
    const input = commands['settings.update'].input;
    expect(input.safeParse({ general: { theme: 'light' } }).success).toBe(true);
    expect(input.safeParse({ general: { theme: 'purple' } }).success).toBe(false);
    expect(input.safeParse({ nonsense: true }).success).toBe(false);
  });

  test('settings.get output fills defaults for an empty object', () => {
    expect(commands['settings.get'].output.parse({})).toMatchObject({
      general: { theme: 'dark' },
      connections: { activeId: 'local' },
    });
  });

  test('app.info output refuses a payload that lacks fields', () => {
    expect(commands['app.info'].output.safeParse({ name: 'ComfyDesk' }).success).toBe(false);
  });

  test('event payloads are validated: a settings.changed with a wrong theme is refused', () => {
    expect(events['settings.changed'].safeParse({ general: { theme: 'nope' } }).success).toBe(false);
    expect(events['app.notice'].safeParse({ id: 'x', level: 'info', message: 'hi', createdAt: 1 }).success).toBe(true);
  });

  test('envelopes: a request needs kind, id and command; responses carry either output or a serialised error', () => {
    expect(RequestEnvelope.safeParse({ kind: 'request', id: '1', command: 'app.info', input: {} }).success).toBe(true);
    expect(RequestEnvelope.safeParse({ kind: 'request', command: 'app.info' }).success).toBe(false);
    expect(ResponseEnvelope.safeParse({ kind: 'response', id: '1', ok: true, output: 1 }).success).toBe(true);
    expect(
      ResponseEnvelope.safeParse({
        kind: 'response',
        id: '1',
        ok: false,
        error: { code: 'internal', userMessage: 'x' },
      }).success,
    ).toBe(true);
    expect(
      ResponseEnvelope.safeParse({ kind: 'response', id: '1', ok: false, error: { code: 'made_up', userMessage: 'x' } })
        .success,
    ).toBe(false);
    expect(ServerMessage.safeParse({ kind: 'event', event: 'settings.changed', payload: {} }).success).toBe(true);
  });

  test('a serialised error carries no stack or cause', () => {
    const parsed = SerializedError.parse({ code: 'internal', userMessage: 'x', stack: 'secret', cause: {} });
    expect(Object.keys(parsed).sort()).toEqual(['code', 'userMessage']);
  });
});
