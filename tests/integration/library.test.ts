import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ServerInventory } from '@shared/domain/inventory';
import type { LibraryDelta, RootStatus } from '@shared/domain/workflow';
import { NoticeCenter } from '../../src/main/core/app/notice-center';
import { createCore } from '../../src/main/core/create-core';
import { Emitter } from '../../src/main/core/lib/emitter';
import { silentLogger } from '../../src/main/core/lib/logger';
import { resolvePaths } from '../../src/main/core/paths';
import { SettingsService } from '../../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../../src/main/core/settings/settings-store';
import { sealSettings } from '../support/sealed';
import { ModelCatalog } from '../../src/main/core/workflows/catalog';
import { LibraryService, type LibraryServiceDeps } from '../../src/main/core/workflows/library-service';
import { headSizeFetcher, type InventorySource } from '../../src/main/core/workflows/ports';
import { SAMPLE_WORKFLOWS } from '../../src/main/core/workflows/resources';
import { readWorkflowFile } from '../../src/main/core/workflows/scan-file';
import type { ReadWorkflow } from '../../src/main/core/workflows/scan-root';
import { tempDir, waitFor } from '../support/core';
import { textToImageUi, uiNode, uiWorkflow, writeTree } from '../support/workflows';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const json = (value: unknown) => JSON.stringify(value, null, 2);

function folder(files: Record<string, string> = {}): string {
  const dir = tempDir('comfydesk-library-');
  cleanups.push(() => dir.remove());
  return writeTree(dir.path, files);
}

/** A fake inventory source: tests set what the "server" has. */
class FakeInventory implements InventorySource {
  readonly #emitter = new Emitter<{ changed: ServerInventory | undefined }>();
  value: ServerInventory | undefined;
  current(): ServerInventory | undefined {
    return this.value;
  }
  on(_event: 'changed', listener: (inventory: ServerInventory | undefined) => void) {
    return this.#emitter.on('changed', listener);
  }
  set(value: ServerInventory | undefined): void {
    this.value = value;
    this.#emitter.emit('changed', value);
  }
}

/** Counts reads per relative file name, to prove a file was read once. */
function countingRead(): { read: ReadWorkflow; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    read: async (path) => {
      const name = path.slice(path.lastIndexOf('/') + 1);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return readWorkflowFile(path);
    },
  };
}

async function startLibrary(
  options: {
    roots?: string[];
    dataDir?: string;
    overrides?: Partial<LibraryServiceDeps>;
    includeAppFolder?: boolean;
  } = {},
) {
  const dataDir = options.dataDir ?? folder();
  const settings = new SettingsService({
    store: new MemorySettingsStore({
      library: { includeAppFolder: options.includeAppFolder ?? false, folders: options.roots ?? [] },
    }),
    notices: new NoticeCenter(),
    log: silentLogger,
  });
  await settings.start();
  const library = new LibraryService({
    settings,
    appFolder: join(dataDir, 'workflows'),
    cacheFile: join(dataDir, 'cache', 'library-index.json'),
    catalog: new ModelCatalog(),
    log: silentLogger,
    debounceMs: 50,
    saveDelayMs: 50,
    ...options.overrides,
  });
  const deltas: LibraryDelta[] = [];
  const roots: RootStatus[][] = [];
  library.on('changed', (delta) => deltas.push(delta));
  library.on('roots', (status) => roots.push(status));
  await library.start();
  cleanups.push(() => library.stop());
  return { library, settings, deltas, roots, dataDir };
}

const names = (library: LibraryService) =>
  library
    .records()
    .map((record) => record.path)
    .sort();

describe('the library watches its folders', () => {
  test('added, changed, deleted and renamed files and new sub folders reach the index and the events within a second', async () => {
    const root = folder({ 'start.json': json(textToImageUi()) });
    const { library, deltas } = await startLibrary({ roots: [root] });
    await library.ready();
    expect(names(library)).toEqual(['start.json']);
    const seen = (check: () => boolean) => waitFor(check, { timeoutMs: 1000 });

    writeFileSync(join(root, 'added.json'), json(textToImageUi('added.safetensors')));
    await seen(() => deltas.some((delta) => delta.upserted.some((card) => card.path === 'added.json')));

    writeFileSync(join(root, 'added.json'), json(textToImageUi('changed.safetensors')));
    await seen(
      () => library.records().find((record) => record.path === 'added.json')?.models[0]?.name === 'changed.safetensors',
    );

    const startId = library.records().find((record) => record.path === 'start.json')!.id;
    rmSync(join(root, 'start.json'));
    await seen(() => deltas.some((delta) => delta.removed.includes(startId)));

    renameSync(join(root, 'added.json'), join(root, 'renamed.json'));
    await seen(() => names(library).join() === 'renamed.json');

    mkdirSync(join(root, 'Video', 'Wan'), { recursive: true });
    writeFileSync(join(root, 'Video', 'Wan', 'new.json'), json(textToImageUi()));
    await seen(() =>
      library.records().some((record) => record.path === 'Video/Wan/new.json' && record.category === 'Video'),
    );

    renameSync(join(root, 'Video'), join(root, 'Clips'));
    await seen(() => names(library).join() === 'Clips/Wan/new.json,renamed.json');
    const versions = deltas.map((delta) => delta.version);
    expect(versions).toEqual(versions.map((_, index) => versions[0]! + index));
  });

  test('a file written slowly in chunks is read once, complete', async () => {
    const root = folder();
    const { read, counts } = countingRead();
    const { library } = await startLibrary({ roots: [root], overrides: { read, debounceMs: 250 } });
    await library.ready();
    const content = Buffer.from(json(textToImageUi('slow.safetensors')));
    const handle = await open(join(root, 'slow.json'), 'w');
    const chunk = Math.ceil(content.length / 8);
    for (let offset = 0; offset < content.length; offset += chunk) {
      await handle.write(content.subarray(offset, offset + chunk));
      await handle.sync();
      await new Promise((resolve) => setTimeout(resolve, 30)); // a slow writer, well inside the debounce
    }
    await handle.close();
    await waitFor(() => library.records().some((record) => record.path === 'slow.json'));
    const record = library.records().find((item) => item.path === 'slow.json')!;
    expect(record.error).toBeNull();
    expect(record.models).toEqual([{ name: 'slow.safetensors', folder: 'checkpoints' }]);
    expect(counts.get('slow.json')).toBe(1);
  });

  test('hidden folders, other files and images are not workflows; an image beside a workflow becomes its thumbnail live', async () => {
    const root = folder({ 'flow.json': json(textToImageUi()) });
    const { library } = await startLibrary({ roots: [root] });
    await library.ready();
    mkdirSync(join(root, '.cache'));
    writeFileSync(join(root, '.cache', 'temp.json'), json(textToImageUi()));
    writeFileSync(join(root, 'readme.txt'), 'hello');
    writeFileSync(join(root, 'flow.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
    await waitFor(() => library.records()[0]?.thumbnail === 'flow.png');
    expect(names(library)).toEqual(['flow.json']);
    expect(await library.thumbnail(library.records()[0]!.id)).toBe(
      `data:image/png;base64,${Buffer.from('89504e470d0a1a0a', 'hex').toString('base64')}`,
    );
  });

  test('a second start shows the saved index at once and reads only what changed', async () => {
    const root = folder({ 'a.json': json(textToImageUi()), 'b.json': json(textToImageUi()) });
    const dataDir = folder();
    const first = await startLibrary({ roots: [root], dataDir });
    await first.library.ready();
    await first.library.stop();
    writeFileSync(join(root, 'b.json'), json(textToImageUi('edited.safetensors')));

    const { read, counts } = countingRead();
    const second = await startLibrary({ roots: [root], dataDir, overrides: { read } });
    expect(names(second.library)).toEqual(['a.json', 'b.json']);
    await second.library.ready();
    expect(counts.get('a.json')).toBeUndefined();
    expect(counts.get('b.json')).toBe(1);
    expect(second.library.records().find((record) => record.path === 'b.json')?.models[0]?.name).toBe(
      'edited.safetensors',
    );
  });
});

describe('library roots', () => {
  test('a folder added in settings is watched and remembered; removing it drops its workflows', async () => {
    const root = folder({ 'one.json': json(textToImageUi()) });
    const { library, settings, roots } = await startLibrary();
    await expect(library.addRoot('relative/path')).rejects.toMatchObject({ code: 'workflow_root_invalid' });
    await expect(library.addRoot(join(root, 'nope'))).rejects.toMatchObject({
      code: 'workflow_root_invalid',
      userMessage: expect.stringContaining('does not exist'),
    });
    await library.addRoot(root);
    expect(settings.get().library.folders).toEqual([root]);
    await library.ready();
    expect(names(library)).toEqual(['one.json']);
    expect(roots.at(-1)).toEqual([
      { path: root, source: 'settings', state: 'watching', workflowCount: 1, errorCount: 0, message: null },
    ]);
    library.removeRoot(root);
    expect(settings.get().library.folders).toEqual([]);
    expect(library.records()).toEqual([]);
  });

  test('a missing folder is reported as missing instead of failing the library', async () => {
    const gone = join(folder(), 'unplugged-drive');
    const { library } = await startLibrary({ roots: [gone] });
    await library.ready();
    expect(library.roots()).toEqual([
      expect.objectContaining({ path: gone, state: 'missing', message: expect.stringContaining('does not exist') }),
    ]);
  });

  test('a new app folder is seeded with the sample workflows once; deleted samples stay deleted', async () => {
    const dataDir = folder();
    const first = await startLibrary({ dataDir, includeAppFolder: true, overrides: { samples: SAMPLE_WORKFLOWS } });
    await first.library.ready();
    expect(
      first.library
        .records()
        .map((record) => record.name)
        .sort(),
    ).toEqual(['Image to image (SD 1.5)', 'Text to image (SD 1.5)', 'Upscale 4× (Real-ESRGAN)']);
    expect(
      first.library
        .records()
        .map((record) => record.type)
        .sort(),
    ).toEqual(['i2i', 't2i', 'upscale']);
    await first.library.stop();
    rmSync(join(dataDir, 'workflows', 'Getting started'), { recursive: true });
    const second = await startLibrary({ dataDir, includeAppFolder: true, overrides: { samples: SAMPLE_WORKFLOWS } });
    await second.library.ready();
    expect(second.library.records()).toEqual([]);
    expect(readdirSync(join(dataDir, 'workflows'))).toEqual([]);
  });
});

describe('compatibility with the connected server', () => {
  const loraFlow = () =>
    json(
      uiWorkflow([
        uiNode({ id: 1, type: 'CheckpointLoaderSimple', widgets: ['sd15.safetensors'] }),
        uiNode({
          id: 2,
          type: 'LoraLoader',
          widgets: ['style.safetensors', 1, 1],
          models: [{ name: 'style.safetensors', url: 'URL', directory: 'loras' }],
        }),
        uiNode({ id: 3, type: 'SaveImage' }),
      ]),
    );

  test('statuses follow the inventory as servers connect and disconnect, announced as deltas', async () => {
    const root = folder({ 'flow.json': loraFlow() });
    const inventory = new FakeInventory();
    const { library, deltas } = await startLibrary({ roots: [root], overrides: { inventory } });
    await library.ready();
    expect(library.snapshot().items[0]!.compat.status).toBe('not_connected');

    inventory.set({
      serverId: 'pod',
      nodeTypes: ['CheckpointLoaderSimple', 'LoraLoader', 'SaveImage'],
      models: { checkpoints: ['sd15.safetensors'], loras: [] },
      fetchedAt: 1,
    });
    await waitFor(() => deltas.at(-1)?.upserted[0]?.compat.status === 'missing');
    expect(library.snapshot()).toMatchObject({
      serverId: 'pod',
      items: [{ compat: { missing: [{ name: 'style.safetensors', folder: 'loras', url: 'URL' }] } }],
    });
    expect(
      library.search({ text: '', categories: [], inputTypes: [], outputTypes: [], statuses: ['missing'], types: [] })
        .ids,
    ).toHaveLength(1);

    inventory.set(undefined);
    await waitFor(() => deltas.at(-1)?.upserted[0]?.compat.status === 'not_connected');
  });

  test('the size of a missing model is asked of its download URL in the background', async () => {
    const server: Server = createServer((request, response) => {
      response.writeHead(request.method === 'HEAD' ? 200 : 405, { 'Content-Length': '123456789' });
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as { port: number }).port;
    const root = folder({ 'flow.json': loraFlow().replace('"URL"', `"http://127.0.0.1:${port}/style.safetensors"`) });
    const inventory = new FakeInventory();
    inventory.value = {
      serverId: 'pod',
      nodeTypes: ['CheckpointLoaderSimple', 'LoraLoader', 'SaveImage'],
      models: { checkpoints: ['sd15.safetensors'], loras: [] },
      fetchedAt: 1,
    };
    const { library } = await startLibrary({
      roots: [root],
      overrides: { inventory, fetchModelSize: headSizeFetcher() },
    });
    await library.ready();
    await waitFor(() => library.snapshot().items[0]?.compat.missingSizeBytes === 123456789);
    expect(library.snapshot().items[0]!.compat).toMatchObject({ status: 'missing', isMissingSizeComplete: true });
  });
});

describe('the library through the contract', () => {
  test('list, search, details, intent, thumbnail and reveal answer through the router', async () => {
    const dataDir = folder();
    const extra = folder({
      'Video/fox.json': json(
        uiWorkflow([uiNode({ id: 1, type: 'CLIPTextEncode' }), uiNode({ id: 2, type: 'SaveVideo' })], {
          extra: { info: { name: 'Fox clip' } },
        }),
      ),
      'broken.json': '{"nodes": [',
    });
    const revealed: string[] = [];
    const core = await createCore({
      mode: 'serve',
      version: '0.0.0-test',
      paths: resolvePaths(dataDir),
      settingsStore: new MemorySettingsStore(sealSettings({})),
      log: silentLogger,
      library: { sessionRoots: [extra], debounceMs: 50, revealFile: async (path) => (revealed.push(path), true) },
    });
    cleanups.push(() => core.stop());
    await core.library.ready();
    const list = await core.router.call('workflows.list', {});
    expect(list.items.map((item) => item.name).sort()).toEqual([
      'Broken',
      'Fox clip',
      'Image to image (SD 1.5)',
      'Text to image (SD 1.5)',
      'Upscale 4× (Real-ESRGAN)',
    ]);
    const broken = list.items.find((item) => item.name === 'Broken')!;
    expect(broken).toMatchObject({ error: { code: 'truncated' }, compat: { status: 'invalid' } });

    const found = await core.router.call('workflows.search', { text: 'fox' });
    expect(found.ids).toHaveLength(1);
    const details = await core.router.call('workflows.get', { id: found.ids[0]! });
    expect(details).toMatchObject({
      name: 'Fox clip',
      filePath: join(extra, 'Video', 'fox.json'),
      nodes: [
        { type: 'CLIPTextEncode', isKnown: null },
        { type: 'SaveVideo', isKnown: null },
      ],
    });

    const intent = await core.router.call('intent.match', { text: 'upscale this photo' });
    expect(intent.intent?.type).toBe('upscale');
    expect(intent.ids).toHaveLength(1);

    expect(await core.router.call('workflows.thumbnail', { id: found.ids[0]! })).toEqual({ dataUrl: null });
    expect(await core.router.call('workflows.reveal', { id: found.ids[0]! })).toEqual({
      isRevealed: true,
      path: join(extra, 'Video', 'fox.json'),
    });
    expect(revealed).toEqual([join(extra, 'Video', 'fox.json')]);
    await expect(core.router.call('workflows.get', { id: 'gone' })).rejects.toMatchObject({
      error: { code: 'workflow_not_found' },
    });

    const roots = await core.router.call('workflows.roots', {});
    expect(roots.map((root) => root.source)).toEqual(['app', 'session']);
  });
});
