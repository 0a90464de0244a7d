import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { MissingReport, TransferItem } from '@shared/domain/transfer';
import type { WorkflowCard } from '@shared/domain/workflow';
import { FakeCore } from './support/fake-core';
import TransfersHarness from './support/TransfersHarness.svelte';

afterEach(() => cleanup());

function item(overrides: Partial<TransferItem> = {}): TransferItem {
  return {
    id: 't1',
    serverId: 'pod',
    serverName: 'RunPod A100',
    kind: 'model',
    name: 'flux1-dev-fp8.safetensors',
    folder: 'checkpoints',
    url: 'https://huggingface.co/x/flux1-dev-fp8.safetensors',
    destination: '/workspace/ComfyUI/models/checkpoints/flux1-dev-fp8.safetensors',
    method: 'ssh',
    state: 'running',
    receivedBytes: 4_294_967_296,
    totalBytes: 17_179_869_184,
    bytesPerSecond: 104_857_600,
    etaSeconds: 123,
    error: null,
    note: null,
    workflowIds: ['wf'],
    createdAt: 2,
    updatedAt: 3,
    finishedAt: null,
    ...overrides,
  };
}

function card(overrides: Partial<WorkflowCard['compat']> = {}): WorkflowCard {
  return {
    id: 'wf',
    root: '/w',
    path: 'flux.json',
    format: 'ui',
    name: 'Flux portrait',
    description: '',
    category: 'Images',
    inputTypes: ['text'],
    outputTypes: ['image'],
    type: 't2i',
    models: [],
    nodeCount: 9,
    thumbnail: null,
    fileSizeBytes: 10,
    modifiedMs: 1,
    error: null,
    compat: {
      status: 'missing',
      serverId: 'pod',
      missing: [
        { name: 'a.safetensors', folder: 'checkpoints' },
        { name: 'b.safetensors', folder: 'vae' },
        { name: 'c.safetensors', folder: 'loras' },
      ],
      missingSizeBytes: 8_804_682_956,
      isMissingSizeComplete: true,
      updates: [],
      unknownNodeTypes: [],
      estimate: null,
      ...overrides,
    },
  };
}

function report(overrides: Partial<MissingReport> = {}): MissingReport {
  return {
    workflowId: 'wf',
    workflowName: 'Flux portrait',
    serverId: 'pod',
    serverName: 'RunPod A100',
    connectionKind: 'ssh',
    method: 'ssh',
    methodNote:
      'Downloaded on root@pod itself with curl, over the SSH connection: the files never pass through this computer.',
    manager: null,
    models: [
      {
        name: 'a.safetensors',
        folder: 'checkpoints',
        url: 'https://huggingface.co/x/a.safetensors',
        source: 'workflow',
        sizeBytes: 2_000_000_000,
        sha256: 'a'.repeat(64),
        destinationDir: '/workspace/ComfyUI/models/checkpoints',
        destinationChoices: ['/workspace/ComfyUI/models/checkpoints', '/workspace/ComfyUI/output/checkpoints'],
        method: 'ssh',
      },
      {
        name: 'c.safetensors',
        folder: 'loras',
        source: 'none',
        destinationDir: '/workspace/ComfyUI/models/loras',
        destinationChoices: ['/workspace/ComfyUI/models/loras'],
        method: 'ssh',
        problem: 'No known source: paste a download link.',
      },
    ],
    totalBytes: 2_000_000_000,
    isTotalComplete: false,
    packs: [
      {
        id: 'https://github.com/kijai/ComfyUI-KJNodes',
        title: 'ComfyUI-KJNodes',
        url: 'https://github.com/kijai/ComfyUI-KJNodes',
        nodeTypes: ['ColorMatch', 'GetImageSizeAndCount', 'ImageResizeKJ'],
        source: 'node-map',
      },
    ],
    unresolvedNodeTypes: [],
    customNodesDir: '/workspace/ComfyUI/custom_nodes',
    commands: [
      { title: 'Install ComfyUI-KJNodes on the server', command: "cd '/workspace/ComfyUI/custom_nodes'\ngit clone …" },
    ],
    sources: {
      models: { url: 'https://x/model-list.json', fetchedAt: 1, count: 445, problem: null },
      nodes: { url: 'https://x/map.json', fetchedAt: 1, count: 3000, problem: null },
    },
    ...overrides,
  };
}

function core(items: TransferItem[] = []): FakeCore {
  return new FakeCore()
    .handle('transfers.list', () => ({ items }))
    .handle('transfers.tokens', () => ({ huggingface: false, civitai: false, storage: 'session-memory' }))
    .handle('workflows.list', () => ({ version: 1, serverId: 'pod', items: [card()] }))
    .handle('workflows.roots', () => []);
}

describe('the Downloads view', () => {
  test('shows each transfer by server with bytes, speed and time left; pause and cancel reach the core', async () => {
    const fake = core([
      item(),
      item({ id: 't2', serverId: 'local', serverName: 'This computer', state: 'paused', method: 'local' }),
    ]);
    fake.handle('transfers.pause', ({ id }) => item({ id, state: 'paused' }));
    fake.handle('transfers.resume', ({ id }) => item({ id, state: 'queued' }));
    render(TransfersHarness, { api: fake.api, view: 'downloads' });
    const pod = await screen.findByRole('region', { name: 'RunPod A100' });
    const row = within(pod).getByRole('listitem', { name: 'flux1-dev-fp8.safetensors' });
    expect(row.textContent).toContain('4.0 GB of 16 GB · 100 MB/s · ~2 min 3 s left');
    expect(within(row).getByRole('progressbar', { name: 'Download of flux1-dev-fp8.safetensors' })).toHaveProperty(
      'ariaValueNow',
      '25',
    );
    await fireEvent.click(within(row).getByRole('button', { name: 'Pause flux1-dev-fp8.safetensors' }));
    await fake.answered();
    expect(fake.callsOf('transfers.pause')).toEqual([{ id: 't1' }]);
    const local = screen.getByRole('region', { name: 'This computer' });
    await fireEvent.click(within(local).getByRole('button', { name: 'Resume flux1-dev-fp8.safetensors' }));
    await fake.answered();
    expect(fake.callsOf('transfers.resume')).toEqual([{ id: 't2' }]);
    // Progress events update the row in place.
    fake.emit('transfers.updated', {
      items: [
        item({ state: 'failed', error: { code: 'disk_full', userMessage: 'Not enough disk space on root@pod.' } }),
      ],
      removed: [],
    });
    await waitFor(() => expect(row.textContent).toContain('Not enough disk space on root@pod.'));
    expect(within(row).getByRole('button', { name: 'Resume flux1-dev-fp8.safetensors' }).textContent).toContain(
      'Retry',
    );
  });

  test('an access token is sent to the core once and never shown again', async () => {
    const fake = core();
    fake.handle('transfers.setToken', ({ provider, token }) => ({
      huggingface: provider === 'huggingface' && token !== '',
      civitai: false,
      storage: 'session-memory',
    }));
    render(TransfersHarness, { api: fake.api, view: 'downloads' });
    const field = await screen.findByLabelText('Hugging Face token');
    await fireEvent.input(field, { target: { value: 'hf_secret' } });
    const form = field.closest('form')!;
    await fireEvent.click(within(form).getByRole('button', { name: 'Save' }));
    await fake.answered();
    expect(fake.callsOf('transfers.setToken')).toEqual([{ provider: 'huggingface', token: 'hf_secret' }]);
    await waitFor(() => expect(within(form).getByRole('status').textContent).toBe('Hugging Face token kept'));
    expect((field as HTMLInputElement).value).toBe('');
    expect(screen.getByText(/kept in memory for this session only/)).toBeTruthy();
  });
});

describe('Get missing', () => {
  test('the card says what is missing and which pack it needs', async () => {
    const fake = core();
    fake.handle('transfers.packs', ({ nodeTypes }) => ({
      packs: [
        {
          id: 'https://github.com/kijai/ComfyUI-KJNodes',
          title: 'ComfyUI-KJNodes',
          url: 'https://github.com/kijai/ComfyUI-KJNodes',
          nodeTypes: nodeTypes.filter((type) => type !== 'Mystery'),
          source: 'node-map',
        },
      ],
      unresolved: ['Mystery'],
    }));
    render(TransfersHarness, {
      api: fake.api,
      view: 'card',
      card: card({ unknownNodeTypes: ['ColorMatch', 'GetImageSizeAndCount', 'ImageResizeKJ', 'Mystery'] }),
    });
    expect(
      await screen.findByRole('button', { name: 'Get missing (3 models, 8.2 GB) for Flux portrait' }),
    ).toBeTruthy();
    await waitFor(() =>
      expect(screen.getByText(/needs/).textContent).toMatch(/needs\s+ComfyUI-KJNodes\s+\(3 node types\)/),
    );
    expect(screen.getByRole('link', { name: 'ComfyUI-KJNodes' }).getAttribute('href')).toBe(
      'https://github.com/kijai/ComfyUI-KJNodes',
    );
    expect(screen.getByText('1 node type from an unknown pack')).toBeTruthy();
    // One batch for all node types of all cards.
    expect(fake.callsOf('transfers.packs')).toHaveLength(1);
  });

  test('the dialog shows sources and folders, takes a pasted link, and starts the downloads', async () => {
    const fake = core();
    fake.handle('transfers.missing', () => report());
    fake.handle('transfers.probeUrl', ({ url }) => ({
      url: url.replace('/blob/', '/resolve/'),
      fileName: 'c.safetensors',
      sizeBytes: 150_000_000,
    }));
    fake.handle('transfers.start', ({ models }) => ({ ids: models.map((_, index) => `new-${index}`) }));
    render(TransfersHarness, { api: fake.api, view: 'card', card: card() });
    await fireEvent.click(await screen.findByRole('button', { name: /Get missing .* for Flux portrait/ }));
    const dialog = await screen.findByRole('dialog', { name: 'Get missing: Flux portrait' });
    await within(dialog).findByText(/over the SSH connection/);
    expect(within(dialog).getByText('from the workflow:', { exact: false })).toBeTruthy();
    // Only a.safetensors can be fetched so far.
    expect(within(dialog).getByRole('button', { name: /Download 1 file \(1\.9 GB\)/ })).toBeTruthy();
    await fireEvent.change(within(dialog).getByRole('combobox'), {
      target: { value: '/workspace/ComfyUI/output/checkpoints' },
    });
    await fireEvent.input(within(dialog).getByLabelText('Download link for c.safetensors'), {
      target: { value: 'https://huggingface.co/y/blob/main/c.safetensors' },
    });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Use this link' }));
    await fake.answered();
    const start = await within(dialog).findByRole('button', { name: /Download 2 files \(2\.0 GB\)/ });
    await fireEvent.click(start);
    await fake.answered();
    expect(fake.callsOf('transfers.start')).toEqual([
      {
        workflowId: 'wf',
        serverId: 'pod',
        models: [
          {
            name: 'a.safetensors',
            folder: 'checkpoints',
            url: 'https://huggingface.co/x/a.safetensors',
            destinationDir: '/workspace/ComfyUI/output/checkpoints',
            sha256: 'a'.repeat(64),
          },
          {
            name: 'c.safetensors',
            folder: 'loras',
            url: 'https://huggingface.co/y/resolve/main/c.safetensors',
            destinationDir: '/workspace/ComfyUI/models/loras',
          },
        ],
      },
    ]);
    // Progress shows in the dialog as the core reports it.
    fake.emit('transfers.updated', {
      items: [item({ id: 'new-0', name: 'a.safetensors', receivedBytes: 1_000_000_000, totalBytes: 2_000_000_000 })],
      removed: [],
    });
    await waitFor(() =>
      expect(
        within(dialog).getByRole('progressbar', { name: 'Download of a.safetensors' }).getAttribute('aria-valuenow'),
      ).toBe('50'),
    );
    // The pack: its link, and the commands to copy (no ComfyUI-Manager on this server).
    expect(within(dialog).getByText(/needs/, { selector: 'span' }).textContent).toContain(
      '(3 node types: ColorMatch, GetImageSizeAndCount, ImageResizeKJ)',
    );
    expect(within(dialog).queryByRole('button', { name: /^Install/ })).toBeNull();
    expect(within(dialog).getByRole('region', { name: 'Install ComfyUI-KJNodes on the server' }).textContent).toContain(
      'git clone',
    );
  });

  test('with ComfyUI-Manager on the server a pack installs from the dialog, then asks for the restart', async () => {
    const fake = core();
    fake.handle('transfers.missing', () => report({ manager: { version: 'V3.30', prefix: '/manager' }, commands: [] }));
    fake.handle('transfers.installPack', ({ packId }) =>
      item({
        id: 'p1',
        kind: 'pack',
        name: 'ComfyUI-KJNodes',
        destination: packId,
        method: 'manager',
        state: 'queued',
        folder: null,
      }),
    );
    fake.handle('transfers.restartServer', () => ({}));
    render(TransfersHarness, { api: fake.api, view: 'card', card: card() });
    await fireEvent.click(await screen.findByRole('button', { name: /Get missing .* for Flux portrait/ }));
    const dialog = await screen.findByRole('dialog', { name: 'Get missing: Flux portrait' });
    await fireEvent.click(
      await within(dialog).findByRole('button', { name: 'Install ComfyUI-KJNodes with ComfyUI-Manager' }),
    );
    await fake.answered();
    expect(fake.callsOf('transfers.installPack')).toEqual([
      { packId: 'https://github.com/kijai/ComfyUI-KJNodes', workflowId: 'wf', serverId: 'pod' },
    ]);
    fake.emit('transfers.updated', {
      items: [
        item({
          id: 'p1',
          kind: 'pack',
          name: 'ComfyUI-KJNodes',
          destination: 'https://github.com/kijai/ComfyUI-KJNodes',
          method: 'manager',
          state: 'waiting',
          folder: null,
          note: 'ComfyUI-Manager installed it. Restart ComfyUI to load it.',
        }),
      ],
      removed: [],
    });
    await fireEvent.click(await within(dialog).findByRole('button', { name: 'Restart ComfyUI' }));
    await fake.answered();
    expect(fake.callsOf('transfers.restartServer')).toEqual([{ serverId: 'pod' }]);
  });
});
