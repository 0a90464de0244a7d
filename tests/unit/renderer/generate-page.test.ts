import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ConnectionsSnapshot } from '@shared/domain/connection';
import type { WorkflowCard, WorkflowDetails } from '@shared/domain/workflow';
import App from '../../../src/renderer/src/App.svelte';
import { FakeCore } from './support/fake-core';
import { card, fullForm } from './support/jobs-data';

/** What the page's effects threw: an effect loop surfaces here (Svelte's effect_update_depth_exceeded). */
let errors: string[] = [];
const onError = (event: ErrorEvent) => errors.push(String(event.error?.message ?? event.message));

/** jsdom has no matchMedia: a window of this width that never changes (enough for layout queries). */
function windowWidth(width: number): void {
  window.matchMedia = (query: string) => {
    const max = /max-width:\s*(\d+)px/.exec(query);
    const min = /min-width:\s*(\d+)px/.exec(query);
    const matches = (!max || width <= Number(max[1])) && (!min || width >= Number(min[1])) && !query.includes('light');
    return {
      matches,
      media: query,
      onchange: null,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      addListener: () => undefined,
      removeListener: () => undefined,
      dispatchEvent: () => false,
    } as MediaQueryList;
  };
}

beforeEach(() => {
  windowWidth(1280);
  errors = [];
  window.addEventListener('error', onError);
  window.location.hash = '';
});
afterEach(() => {
  window.removeEventListener('error', onError);
  cleanup();
});

const CONNECTIONS: ConnectionsSnapshot = {
  profiles: [{ id: 'local', name: 'This computer', kind: 'local', url: 'http://127.0.0.1:8188' }],
  activeId: 'local',
  online: ['local'],
  health: [{ serverId: 'local', state: 'online', latencyMs: 3, isSocketOpen: true, checkedAt: 1 }],
  withSecrets: [],
  secretStorage: 'session-memory',
};

function details(workflow: WorkflowCard): WorkflowDetails {
  return {
    ...workflow,
    nodeTypes: ['KSampler'],
    filePath: `/library/${workflow.path}`,
    modelStates: [],
    nodes: [{ type: 'KSampler', isKnown: true }],
  };
}

/** The whole app (as App.svelte builds it) on a fake core with one ready workflow and an online server. */
async function app(cards: WorkflowCard[] = [card()]) {
  const core = new FakeCore();
  core.handle('workflows.list', () => ({ version: 0, serverId: 'local', items: cards }));
  core.handle('workflows.roots', () => []);
  core.handle('workflows.search', () => ({
    version: 0,
    ids: cards.map((item) => item.id),
    facets: { categories: [], inputTypes: [], outputTypes: [], statuses: [] },
  }));
  core.handle('workflows.get', ({ id }) => details(cards.find((item) => item.id === id)!));
  core.handle('connections.list', () => CONNECTIONS);
  core.handle('jobs.list', () => ({ jobs: [], paused: false }));
  core.handle('history.list', () => ({ jobs: [] }));
  core.handle('generation.form', () => fullForm());
  render(App, { api: core.api });
  await screen.findByRole('listitem', { name: 'Text to image' });
  return core;
}

describe('the Generate page', () => {
  test('choosing a workflow reads its form once, with no effect loop on load or after', async () => {
    const core = await app();
    await fireEvent.click(screen.getByRole('button', { name: 'Generate with Text to image' }));
    await screen.findByRole('spinbutton', { name: 'Steps' });
    await core.answered();
    expect(core.callsOf('generation.form')).toEqual([{ workflowId: 'wf-t2i', serverId: 'local' }]);
    expect(errors).toEqual([]);
  });

  test('Details › Use this workflow closes the details and chooses the workflow', async () => {
    await app();
    await fireEvent.click(screen.getByRole('button', { name: 'Details of Text to image' }));
    const dialog = await screen.findByRole('dialog', { name: 'Text to image' });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Use this workflow' }));
    await waitFor(() => expect(window.location.hash).toBe('#/generate?workflow=wf-t2i'));
    await screen.findByRole('spinbutton', { name: 'Steps' });
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(errors).toEqual([]);
  });
});
