import { expectTypeOf, test } from 'vitest';
import type { CommandInput, CommandName, CommandOutput } from '@shared/contract/commands';
import type { EventName, EventPayload } from '@shared/contract/events';
import type { Settings } from '@shared/domain/settings';
import type { Handlers } from '../../../src/main/core/router';

test('the router handler table has exactly one handler per command', () => {
  expectTypeOf<keyof Handlers>().toEqualTypeOf<CommandName>();
});

test('handler outputs are the contract outputs', () => {
  expectTypeOf<Awaited<ReturnType<Handlers['settings.get']>>>().toEqualTypeOf<CommandOutput<'settings.get'>>();
  expectTypeOf<CommandOutput<'settings.get'>>().toEqualTypeOf<Settings>();
});

test('callers may omit defaulted input fields', () => {
  expectTypeOf<{ general: { theme: 'light' } }>().toExtend<CommandInput<'settings.update'>>();
  expectTypeOf<{}>().toExtend<CommandInput<'app.info'>>();
});

test('event payloads are inferred from their schemas', () => {
  expectTypeOf<EventPayload<'settings.changed'>>().toEqualTypeOf<Settings>();
  expectTypeOf<'settings.changed'>().toExtend<EventName>();
});
