import { expectTypeOf, test } from 'vitest';
import type { CommandOutput } from '@shared/contract/commands';
import type { EventPayload } from '@shared/contract/events';
import type { EnhanceResult, LlmModelList, LlmStatus } from '@shared/domain/llm';
import type { Handlers } from '../../../src/main/core/router';

test('llm.enhance answers with an id at once; the text and the end come as events keyed by it', () => {
  expectTypeOf<CommandOutput<'llm.enhance'>>().toEqualTypeOf<{ id: string }>();
  expectTypeOf<EventPayload<'llm.token'>>().toEqualTypeOf<{ id: string; text: string }>();
  expectTypeOf<Extract<EventPayload<'llm.finished'>, { ok: true }>['result']>().toEqualTypeOf<EnhanceResult>();
});

test('status and model snapshots are the same shape as command outputs and events', () => {
  expectTypeOf<Awaited<ReturnType<Handlers['llm.status']>>>().toEqualTypeOf<LlmStatus>();
  expectTypeOf<EventPayload<'llm.statusChanged'>>().toEqualTypeOf<LlmStatus>();
  expectTypeOf<CommandOutput<'llm.models'>>().toEqualTypeOf<LlmModelList>();
  expectTypeOf<EventPayload<'llm.modelsChanged'>>().toEqualTypeOf<LlmModelList>();
});
