import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { IntentMatch, LibraryDelta, WorkflowCard } from '@shared/domain/workflow';
import { ApiClient } from '../../../src/renderer/src/api/client';
import { Listeners, type ClientTransport, type LinkState } from '../../../src/renderer/src/api/transport';
import { LibraryState } from '../../../src/renderer/src/state/library.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import type { RequestEnvelope } from '../../../src/shared/protocol';
import LibraryHarness from './LibraryHarness.svelte';

function card(index: number, overrides: Partial<WorkflowCard> = {}): WorkflowCard {
  return {
    id: `wf-${index}`,
    root: '/library',
    path: `Flows/flow-${index}.json`,
    format: 'ui',
    name: `Flow ${String(index).padStart(4, '0')}`,
    description: 'Makes an image from text.',
    category: 'Flows',
    inputTypes: ['text'],
    outputTypes: ['image'],
    type: 't2i',
    models: [],
    nodeCount: 7,
    thumbnail: null,
    fileSizeBytes: 100,
    modifiedMs: 1,
    error: null,
    compat: {
      status: 'not_connected',
      serverId: null,
      missing: [],
      missingSizeBytes: null,
      isMissingSizeComplete: true,
      updates: [],
      unknownNodeTypes: [],
      estimate: null,
    },
    ...overrides,
  };
}

/** A fake core behind a real ApiClient: answers the library's commands from a list of cards. */
function fakeCore(cards: WorkflowCard[], intent?: IntentMatch) {
  const messages = new Listeners<unknown>();
  let version = 0;
  let items = cards;
  const calls: string[] = [];
  const answer = (envelope: RequestEnvelope): unknown => {
    const input = envelope.input as Record<string, unknown>;
    switch (envelope.command) {
      case 'workflows.list':
        return { version, serverId: null, items };
      case 'workflows.roots':
        return [];
      case 'workflows.search': {
        const text = String(input.text ?? '').toLowerCase();
        return {
          version,
          ids: items.filter((item) => item.name.toLowerCase().includes(text)).map((item) => item.id),
          facets: { categories: [], inputTypes: [], outputTypes: [], statuses: [] },
        };
      }
      case 'intent.match':
        return intent;
      case 'history.list':
        return { jobs: [] };
      default:
        throw new Error(`unexpected ${envelope.command}`);
    }
  };
  const transport: ClientTransport = {
    get state(): LinkState {
      return 'open';
    },
    send(envelope) {
      calls.push(envelope.command);
      queueMicrotask(() => messages.emit({ kind: 'response', id: envelope.id, ok: true, output: answer(envelope) }));
    },
    onMessage: (listener) => messages.add(listener),
    onState: () => () => undefined,
    close: () => undefined,
  };
  return {
    api: new ApiClient(transport),
    calls,
    /** Pushes a library.changed event as the core would. */
    push(delta: LibraryDelta, next: WorkflowCard[]) {
      items = next;
      version = delta.version;
      messages.emit({ kind: 'event', event: 'library.changed', payload: delta });
    },
  };
}

const disconnects: Array<() => void> = [];
afterEach(() => {
  for (const disconnect of disconnects.splice(0)) disconnect();
  cleanup();
});

async function mount(cards: WorkflowCard[], intent?: IntentMatch) {
  const core = fakeCore(cards, intent);
  const library = new LibraryState(core.api, new Toasts(), { searchDelayMs: 0 });
  const selected: string[] = [];
  disconnects.push(library.connect());
  render(LibraryHarness, { api: core.api, library, onselect: (id: string) => selected.push(id) });
  await waitFor(() => expect(library.isLoaded).toBe(true));
  return { core, library, selected };
}

describe('the workflow browser', () => {
  test('cards are list items named by their workflow, and thousands of them render only a window', async () => {
    await mount(Array.from({ length: 3000 }, (_, index) => card(index)));
    const list = await screen.findByRole('list', { name: 'Workflow cards' });
    const items = within(list).getAllByRole('listitem');
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThan(100);
    expect(within(list).getByRole('listitem', { name: 'Flow 0000' })).toHaveProperty('ariaSetSize', '3000');
    expect(screen.getByRole('status').textContent).toBe('3000 workflows');
  });

  test('typing in the search box narrows the grid', async () => {
    await mount([card(1, { name: 'Fox in the snow' }), card(2, { name: 'Ocean waves' })]);
    await fireEvent.input(screen.getByLabelText('Search workflows'), { target: { value: 'fox' } });
    await waitFor(() =>
      expect(screen.getAllByRole('listitem').map((item) => item.querySelector('h3')?.textContent)).toEqual([
        'Fox in the snow',
      ]),
    );
    expect(screen.getByRole('status').textContent).toBe('1 of 2 workflows');
  });

  test('an error card shows its reason and offers no Generate', async () => {
    await mount([
      card(1, {
        name: 'Half saved',
        error: { code: 'truncated', reason: 'The file ends in the middle of the workflow.' },
        compat: { ...card(1).compat, status: 'invalid' },
      }),
    ]);
    const item = await screen.findByRole('listitem', { name: 'Half saved' });
    expect(item.textContent).toContain('The file ends in the middle of the workflow.');
    expect(within(item).queryByRole('button', { name: /Generate/ })).toBeNull();
  });

  test('Generate on a card reports the workflow chosen', async () => {
    const { selected } = await mount([card(7, { name: 'Seven' })]);
    await fireEvent.click(screen.getByRole('button', { name: 'Generate with Seven' }));
    expect(selected).toEqual(['wf-7']);
  });

  test('an understood intent narrows the grid to its matches, in their order, with its message', async () => {
    const intent: IntentMatch = {
      text: 'a video',
      intent: { id: 't2v', label: 'Video from text', type: 't2v' },
      ids: ['wf-2'],
      prompt: null,
      message: '1 workflow can make a video from text.',
    };
    const { library } = await mount([card(1), card(2, { name: 'Clip' })], intent);
    await library.matchIntent('a video', 't2v');
    await waitFor(() => expect(screen.getAllByRole('listitem')).toHaveLength(1));
    expect(screen.getByText(/1 workflow can make a video from text\./)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Show all workflows' }));
    await waitFor(() => expect(screen.getAllByRole('listitem')).toHaveLength(2));
  });
});

describe('library state', () => {
  test('deltas in sequence are applied; a missed one makes it fetch the whole library again', async () => {
    const { core, library } = await mount([card(1)]);
    const listed = () => core.calls.filter((call) => call === 'workflows.list').length;
    expect(listed()).toBe(1);
    core.push({ version: 1, upserted: [card(2)], removed: [], resync: false }, [card(1), card(2)]);
    await waitFor(() => expect(library.count).toBe(2));
    expect(listed()).toBe(1);
    core.push({ version: 3, upserted: [], removed: ['wf-1'], resync: false }, [card(2)]);
    await waitFor(() => expect(listed()).toBe(2));
    await waitFor(() => expect([...library.items.keys()]).toEqual(['wf-2']));
  });
});
