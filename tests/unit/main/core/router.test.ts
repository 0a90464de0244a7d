import { describe, expect, test } from 'vitest';
import { AppError } from '../../../../src/main/core/lib/errors';
import { createLogger, MemorySink } from '../../../../src/main/core/lib/logger';
import { Router, type Handlers } from '../../../../src/main/core/router';
import { commandNames } from '../../../../src/shared/contract/commands';
import { Settings } from '../../../../src/shared/domain/settings';

/** Settings with the given theme and every other section at its defaults. */
const settingsWith = (theme: 'dark' | 'light' | 'system') => Settings.parse({ general: { theme } });

function makeRouter(overrides: Partial<Handlers> = {}) {
  const sink = new MemorySink();
  // Commands this suite does not exercise answer with an error, so the table stays complete as areas add commands.
  const untested = Object.fromEntries(
    commandNames.map((name) => [
      name,
      () => Promise.reject(new AppError('internal', `${name} is not used by the router tests`)),
    ]),
  ) as unknown as Handlers;
  const handlers: Handlers = {
    ...untested,
    'app.info': () => ({
      name: 'ComfyDesk',
      version: '1.0.0',
      mode: 'cli',
      platform: 'linux',
      canOpenFolders: false,
      folders: { data: '/d', logs: '/l', outputs: '/o', workflows: '/w' },
      notices: [],
    }),
    'app.dismissNotice': () => ({}),
    'settings.get': () => settingsWith('dark'),
    'settings.update': (patch) => settingsWith(patch.general?.theme ?? 'dark'),
    ...overrides,
  };
  return {
    router: new Router({ handlers: handlers, log: createLogger(sink.sink, { level: 'debug' }) }),
    sink,
  };
}

const context = { clientId: 'test', transport: 'local' as const };

describe('Router', () => {
  test('a valid request reaches its handler and the output comes back', async () => {
    const { router } = makeRouter();
    const response = await router.handle(
      { kind: 'request', id: 'r1', command: 'settings.update', input: { general: { theme: 'light' } } },
      context,
    );
    expect(response).toEqual({ kind: 'response', id: 'r1', ok: true, output: settingsWith('light') });
  });

  test('something that is not an envelope gets invalid_message, echoing the id when there is one', async () => {
    const { router } = makeRouter();
    expect(await router.handle('hello', context)).toMatchObject({
      ok: false,
      id: '',
      error: { code: 'invalid_message' },
    });
    expect(await router.handle({ id: 'x7', kind: 'request' }, context)).toMatchObject({
      ok: false,
      id: 'x7',
      error: { code: 'invalid_message' },
    });
    expect(await router.handle(null, context)).toMatchObject({ ok: false, error: { code: 'invalid_message' } });
  });

  test('an unknown command gets unknown_command, even one named like an Object prototype member', async () => {
    const { router } = makeRouter();
    expect(
      await router.handle({ kind: 'request', id: '1', command: 'nope.nothing', input: {} }, context),
    ).toMatchObject({ ok: false, error: { code: 'unknown_command' } });
    expect(await router.handle({ kind: 'request', id: '2', command: 'constructor', input: {} }, context)).toMatchObject(
      { ok: false, error: { code: 'unknown_command' } },
    );
  });

  test('invalid input gets invalid_input with the zod issues flattened, and the handler never runs', async () => {
    let ran = false;
    const { router } = makeRouter({
      'settings.update': () => {
        ran = true;
        return settingsWith('dark');
      },
    });
    const response = await router.handle(
      { kind: 'request', id: '1', command: 'settings.update', input: { general: { theme: 7 } } },
      context,
    );
    expect(response).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', details: { issues: [{ path: 'general.theme' }] } },
    });
    expect(ran).toBe(false);
  });

  test('an AppError thrown by a handler crosses as its code and user message, without the technical message', async () => {
    const { router } = makeRouter({
      'settings.get': () => {
        throw new AppError('io_error', 'Could not read settings.', {
          message: 'EIO at /secret/path',
          details: { path: 'x' },
        });
      },
    });
    const response = await router.handle({ kind: 'request', id: '1', command: 'settings.get', input: {} }, context);
    expect(response).toEqual({
      kind: 'response',
      id: '1',
      ok: false,
      error: { code: 'io_error', userMessage: 'Could not read settings.', details: { path: 'x' } },
    });
  });

  test('any other error becomes internal with a reference, and the cause goes to the log only', async () => {
    const { router, sink } = makeRouter({
      'settings.get': async () => {
        throw new TypeError('secret internals');
      },
    });
    const response = await router.handle({ kind: 'request', id: '1', command: 'settings.get', input: {} }, context);
    expect(response.ok).toBe(false);
    if (response.ok) return;
    expect(response.error.code).toBe('internal');
    expect(JSON.stringify(response)).not.toContain('secret internals');
    const ref = response.error.details?.ref;
    expect(typeof ref).toBe('string');
    expect(sink.records.some((record) => record.fields?.ref === ref)).toBe(true);
  });

  test('call() runs a command in-process with the same validation', async () => {
    const { router } = makeRouter();
    await expect(router.call('settings.get', {})).resolves.toEqual(settingsWith('dark'));
    await expect(router.call('settings.update', { general: { theme: 'x' as 'dark' } })).rejects.toMatchObject({
      error: { code: 'invalid_input' },
    });
  });
});
