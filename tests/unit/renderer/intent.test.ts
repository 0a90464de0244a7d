import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { IntentMatch } from '@shared/domain/workflow';
import { GenerationState } from '../../../src/renderer/src/state/generation.svelte';
import { LibraryState } from '../../../src/renderer/src/state/library.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { FakeCore } from './support/fake-core';
import IntentHarness from './support/IntentHarness.svelte';
import { card } from './support/jobs-data';

afterEach(() => cleanup());

/** What the core's matcher answers, closely enough: a description is a text-to-image prompt. */
function answer(text: string): IntentMatch {
  if (/video/.test(text))
    return {
      text,
      intent: { id: 't2v', label: 'Video from text', type: 't2v' },
      ids: ['wf-video'],
      prompt: null,
      message: '1 workflow can make a video from text.',
    };
  return {
    text,
    intent: { id: 't2i', label: 'Image from text', type: 't2i' },
    ids: ['wf-t2i'],
    prompt: text,
    message: `1 workflow can make an image from text. “${text}” goes in as the prompt.`,
  };
}

async function setup() {
  const core = new FakeCore();
  const cards = [card(), card({ id: 'wf-video', name: 'Waves', type: 't2v', outputTypes: ['video'] })];
  core.handle('workflows.list', () => ({ version: 1, serverId: 'local', items: cards }));
  core.handle('workflows.roots', () => []);
  core.handle('workflows.search', () => ({
    version: 1,
    ids: cards.map((item) => item.id),
    facets: { categories: [], inputTypes: [], outputTypes: [], statuses: [] },
  }));
  core.handle('intent.match', ({ text }) => answer(text));
  const library = new LibraryState(core.api, new Toasts(), { searchDelayMs: 0, intentDelayMs: 0 });
  const generation = new GenerationState(core.api);
  render(IntentHarness, { api: core.api, library, generation });
  await waitFor(() => expect(library.isLoaded).toBe(true));
  return { core, library, generation };
}

describe('the intent bar as you type', () => {
  test('results follow the typing after a pause, without Enter; only the last text is asked about', async () => {
    const { core } = await setup();
    const input = screen.getByLabelText('What do you want to make?');
    expect(screen.getByText(/Matching workflows show below as you type/)).toBeTruthy();
    for (const text of ['a', 'a v', 'a video of the sea']) await fireEvent.input(input, { target: { value: text } });
    await waitFor(() => expect(screen.getByText(/1 workflow can make a video from text\./)).toBeTruthy());
    expect(core.callsOf('intent.match')).toEqual([{ text: 'a video of the sea' }]);
    expect(screen.getByRole('listitem', { name: 'Waves' })).toBeTruthy();
    expect(screen.queryByRole('listitem', { name: 'Text to image' })).toBeNull();
  });

  test('a plain prompt offers the text-to-image workflows and fills in the prompt; clearing the box takes it back', async () => {
    const { core, generation } = await setup();
    const input = screen.getByLabelText('What do you want to make?');
    await fireEvent.input(input, { target: { value: 'a cat astronaut' } });
    await waitFor(() => expect((screen.getByLabelText('Prompt') as HTMLTextAreaElement).value).toBe('a cat astronaut'));
    expect(screen.getByText(/“a cat astronaut” goes in as the prompt/)).toBeTruthy();
    await fireEvent.input(input, { target: { value: '' } });
    await core.answered();
    expect(generation.prompt).toBe('');
    expect(screen.queryByText(/“a cat astronaut” goes in as the prompt/)).toBeNull();
  });

  test('an older answer never replaces a newer one, and Enter asks at once', async () => {
    const core = new FakeCore();
    let release: (() => void) | undefined;
    core.handle('intent.match', async ({ text }) => {
      if (text === 'slow') await new Promise<void>((resolve) => (release = resolve));
      return answer(text);
    });
    const library = new LibraryState(core.api, new Toasts(), { intentDelayMs: 60_000 });
    const first = library.matchIntent('slow');
    await waitFor(() => expect(release).toBeDefined());
    await library.matchIntent('a lighthouse');
    release!();
    await first;
    expect(library.intent?.prompt).toBe('a lighthouse');
    // Typing waits for the pause; submitting does not.
    library.setIntentText('a barn');
    expect(core.callsOf('intent.match')).toHaveLength(2);
    await library.matchIntent(library.intentText);
    expect(library.intent?.text).toBe('a barn');
  });

  test('the text stays in the box when the page is left and comes back (it lives in the library state)', async () => {
    const { core, library } = await setup();
    library.setIntentText('a cat astronaut');
    cleanup();
    render(IntentHarness, { api: core.api, library, generation: new GenerationState(new FakeCore().api) });
    expect((screen.getByLabelText('What do you want to make?') as HTMLInputElement).value).toBe('a cat astronaut');
  });
});
