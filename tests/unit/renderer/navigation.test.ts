import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { ConnectionsSnapshot } from '../../../src/shared/domain/connection';
import ConnectionsHarness from './ConnectionsHarness.svelte';
import { fakeApi } from './fake-api';
import { card } from './support/jobs-data';

afterEach(() => {
  cleanup();
  window.location.hash = '';
});

const SNAPSHOT: ConnectionsSnapshot = {
  profiles: [{ id: 'local', name: 'This computer', kind: 'local', url: 'http://127.0.0.1:8188' }],
  activeId: 'local',
  online: ['local'],
  health: [{ serverId: 'local', state: 'online', isSocketOpen: true, checkedAt: 1 }],
  withSecrets: [],
  secretStorage: 'session-memory',
};

function core() {
  const cards = [
    card({ id: 'wf-a', name: 'Portrait', models: [{ name: 'sd15.safetensors', folder: 'checkpoints' }] }),
    card({
      id: 'wf-b',
      name: 'Landscape',
      models: [
        { name: 'sd15.safetensors', folder: 'checkpoints' },
        { name: 'grain.safetensors', folder: 'loras' },
      ],
    }),
    card({
      id: 'wf-c',
      name: 'Broken',
      models: [{ name: 'grain.safetensors', folder: 'loras' }],
      error: { code: 'invalid_json', reason: 'cut short' },
    }),
  ];
  return fakeApi({
    'connections.list': () => SNAPSHOT,
    'app.info': () => ({
      name: 'ComfyDesk',
      version: '1',
      mode: 'serve',
      platform: 'linux',
      canOpenFolders: false,
      folders: { data: '/d', logs: '/l', outputs: '/o', workflows: '/w' },
      notices: [],
    }),
    'models.list': () => ({
      serverId: 'local',
      folders: [
        { name: 'checkpoints', files: ['sd15.safetensors', 'unused.safetensors'] },
        { name: 'loras', files: ['grain.safetensors'] },
      ],
      fetchedAt: 1,
    }),
    'workflows.list': () => ({ version: 1, serverId: 'local', items: cards }),
    'workflows.roots': () => [],
    'workflows.search': () => ({
      version: 1,
      ids: cards.map((item) => item.id),
      facets: { categories: [], inputTypes: [], outputTypes: [], statuses: [] },
    }),
    'jobs.list': () => ({ jobs: [], paused: false }),
  });
}

describe('Models › Use in Generate', () => {
  test('a model used by one workflow opens Generate with it; one used by several offers them in a menu; an unused one has no button', async () => {
    render(ConnectionsHarness, { api: core().api, show: 'models' });
    const region = await screen.findByRole('region', { name: 'Installed models' });
    const grain = await within(region).findByRole('button', { name: 'Use in Generate: grain.safetensors' });
    expect(within(region).queryByRole('button', { name: /: unused\.safetensors$/ })).toBeNull();
    await fireEvent.click(grain);
    await waitFor(() => expect(window.location.hash).toBe('#/generate?workflow=wf-b'));

    await fireEvent.click(within(region).getByRole('button', { name: 'Use in Generate (2): sd15.safetensors' }));
    const menu = screen.getByRole('menu', { name: 'Workflows that use sd15.safetensors' });
    expect(
      within(menu)
        .getAllByRole('menuitem')
        .map((item) => item.textContent?.trim()),
    ).toEqual(['Landscape', 'Portrait']);
    await fireEvent.click(within(menu).getByRole('menuitem', { name: 'Portrait' }));
    await waitFor(() => expect(window.location.hash).toBe('#/generate?workflow=wf-a'));
  });
});
