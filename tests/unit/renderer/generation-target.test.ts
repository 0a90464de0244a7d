import { cleanup, render } from '@testing-library/svelte';
import { afterEach, expect, test } from 'vitest';
import { flushSync } from 'svelte';
import { FakeCore } from './support/fake-core';
import GenerationUseHarness from './support/GenerationUseHarness.svelte';

afterEach(() => cleanup());

test('following the server from an effect does not make the effect loop (every health change re-ran it without end)', () => {
  const errors: unknown[] = [];
  const onError = (event: ErrorEvent) => errors.push(event.error);
  window.addEventListener('error', onError);
  try {
    const view = render(GenerationUseHarness, { api: new FakeCore().api, isOnline: false });
    flushSync();
    void view.rerender({ isOnline: true });
    flushSync();
    void view.rerender({ isOnline: false });
    flushSync();
  } finally {
    window.removeEventListener('error', onError);
  }
  expect(errors).toEqual([]);
});
