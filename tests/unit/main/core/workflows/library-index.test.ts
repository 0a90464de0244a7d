import { describe, expect, test } from 'vitest';
import type { ServerInventory } from '@shared/domain/inventory';
import { LibraryQuery, type WorkflowRecord } from '@shared/domain/workflow';
import { ModelCatalog } from '../../../../../src/main/core/workflows/catalog';
import {
  checkCompatibility,
  prepareInventory,
  type CompatibilityContext,
} from '../../../../../src/main/core/workflows/compatibility';
import { matchIntent, promptFromIntent, recognizeIntent } from '../../../../../src/main/core/workflows/intent';
import { LibraryIndex } from '../../../../../src/main/core/workflows/library-index';
import { errorRecord, recordFromBytes, workflowId } from '../../../../../src/main/core/workflows/scan-file';
import { isAbbreviationOf, tokenize, withinEdits } from '../../../../../src/main/core/workflows/search-index';
import { textToImageUi, uiNode, uiWorkflow } from '../../../../support/workflows';

function record(path: string, workflow: unknown): WorkflowRecord {
  return recordFromBytes(
    { root: '/lib', path, sizeBytes: 100, modifiedMs: 1, thumbnail: null },
    Buffer.from(JSON.stringify(workflow)),
  );
}

const video = (path: string, name: string, image = false) =>
  record(
    path,
    uiWorkflow(
      [
        uiNode({ id: 1, type: 'UNETLoader', widgets: ['wan2.2_t2v.safetensors', 'default'] }),
        uiNode({ id: 2, type: 'CLIPTextEncode', widgets: ['a fox'] }),
        uiNode({ id: 3, type: 'SaveVideo', widgets: ['video/ComfyUI'] }),
        ...(image ? [uiNode({ id: 4, type: 'LoadImage', widgets: ['a.png', 'image'] })] : []),
      ],
      { extra: { info: { name } } },
    ),
  );

const upscaler = record(
  'Upscale/esrgan.json',
  uiWorkflow([
    uiNode({ id: 1, type: 'LoadImage' }),
    uiNode({ id: 2, type: 'UpscaleModelLoader', widgets: ['4x.pth'] }),
    uiNode({ id: 3, type: 'ImageUpscaleWithModel' }),
    uiNode({ id: 4, type: 'SaveImage' }),
  ]),
);

function inventory(
  models: Record<string, string[]>,
  nodeTypes: string[] = [
    'CheckpointLoaderSimple',
    'CLIPTextEncode',
    'EmptyLatentImage',
    'KSampler',
    'VAEDecode',
    'SaveImage',
  ],
): ServerInventory {
  return { serverId: 'local', nodeTypes, models, fetchedAt: 0 };
}

const catalog = new ModelCatalog([
  {
    version: 1,
    models: [
      {
        name: 'sd15.safetensors',
        folder: 'checkpoints',
        sizeBytes: 2_000_000_000,
        typicalSeconds: 6,
        supersededBy: 'sd15-v2.safetensors',
        note: 'Sharper.',
      },
      { name: 'sd15-v2.safetensors', folder: 'checkpoints', sizeBytes: 2_100_000_000, url: 'https://example.test/v2' },
    ],
  },
]);

function context(overrides: Partial<CompatibilityContext> = {}): CompatibilityContext {
  return { inventory: undefined, catalog: new ModelCatalog(), ...overrides };
}

describe('compatibility', () => {
  const t2i = record('a.json', textToImageUi('sd15.safetensors'));

  test('without a server the status is "not connected", never a made-up ready', () => {
    expect(checkCompatibility(t2i, context())).toMatchObject({
      status: 'not_connected',
      serverId: null,
      missing: [],
      unknownNodeTypes: [],
      estimate: null,
    });
  });

  test('a server with every model and node makes it ready', () => {
    expect(
      checkCompatibility(
        t2i,
        context({ inventory: prepareInventory(inventory({ checkpoints: ['sd15.safetensors'] })) }),
      ).status,
    ).toBe('ready');
  });

  test('a missing model is listed with its folder, URL and the size the catalog or the URL gives', () => {
    const withUrl = record(
      'b.json',
      uiWorkflow([
        uiNode({
          id: 1,
          type: 'VAELoader',
          widgets: ['vae.safetensors'],
          models: [{ name: 'vae.safetensors', url: 'https://example.test/vae', directory: 'vae' }],
        }),
      ]),
    );
    const compat = checkCompatibility(
      withUrl,
      context({
        inventory: prepareInventory(inventory({ vae: ['other.safetensors'] }, ['VAELoader'])),
        sizeOf: (url) => (url === 'https://example.test/vae' ? 300 : undefined),
      }),
    );
    expect(compat).toMatchObject({
      status: 'missing',
      missing: [{ name: 'vae.safetensors', folder: 'vae', url: 'https://example.test/vae', sizeBytes: 300 }],
      missingSizeBytes: 300,
      isMissingSizeComplete: true,
    });
    const unknownSize = checkCompatibility(
      withUrl,
      context({ inventory: prepareInventory(inventory({ vae: [] }, ['VAELoader'])) }),
    );
    expect(unknownSize).toMatchObject({ missingSizeBytes: null, isMissingSizeComplete: false });
  });

  test('server paths with Windows separators and legacy folder keys still match', () => {
    const nested = record(
      'c.json',
      uiWorkflow([uiNode({ id: 1, type: 'CLIPLoader', widgets: ['sd/t5.safetensors', 'sd3'] })]),
    );
    expect(
      checkCompatibility(
        nested,
        context({ inventory: prepareInventory(inventory({ clip: ['sd\\t5.safetensors'] }, ['CLIPLoader'])) }),
      ).status,
    ).toBe('ready');
  });

  test('a model folder the server did not list is unknown, not missing', () => {
    expect(checkCompatibility(t2i, context({ inventory: prepareInventory(inventory({ loras: [] })) })).status).toBe(
      'ready',
    );
  });

  test('custom nodes the server lacks are named, and that outranks missing models', () => {
    const custom = record(
      'd.json',
      uiWorkflow([
        uiNode({ id: 1, type: 'CheckpointLoaderSimple', widgets: ['x.safetensors'] }),
        uiNode({ id: 2, type: 'FancyCustomSampler' }),
        uiNode({ id: 3, type: 'Note' }),
      ]),
    );
    expect(
      checkCompatibility(custom, context({ inventory: prepareInventory(inventory({ checkpoints: [] })) })),
    ).toMatchObject({
      status: 'unknown_nodes',
      unknownNodeTypes: ['FancyCustomSampler'],
      missing: [{ name: 'x.safetensors' }],
    });
  });

  test('a newer model version in the catalog gives "update", with its size and note', () => {
    const compat = checkCompatibility(
      t2i,
      context({ catalog, inventory: prepareInventory(inventory({ checkpoints: ['sd15.safetensors'] })) }),
    );
    expect(compat).toMatchObject({
      status: 'update',
      updates: [
        {
          name: 'sd15.safetensors',
          newer: {
            name: 'sd15-v2.safetensors',
            url: 'https://example.test/v2',
            sizeBytes: 2_100_000_000,
            note: 'Sharper.',
          },
        },
      ],
    });
  });

  test("the estimate is this workflow's median on the server, else the catalog hint, else nothing", () => {
    const connected = prepareInventory(inventory({ checkpoints: ['sd15.safetensors'] }));
    const runStats = {
      medianDurationMs: (id: string, server: string) => (id === t2i.id && server === 'local' ? 12_345 : undefined),
    };
    expect(checkCompatibility(t2i, context({ catalog, inventory: connected, runStats })).estimate).toEqual({
      seconds: 12.3,
      source: 'history',
    });
    expect(checkCompatibility(t2i, context({ catalog, inventory: connected })).estimate).toEqual({
      seconds: 6,
      source: 'catalog',
    });
    expect(
      checkCompatibility(
        record('e.json', textToImageUi('unlisted.safetensors')),
        context({ catalog, inventory: connected }),
      ).estimate,
    ).toBeNull();
  });

  test('an error record is invalid whatever the server has', () => {
    const broken = errorRecord(
      { root: '/lib', path: 'x.json', sizeBytes: 0, modifiedMs: 0, thumbnail: null },
      { code: 'empty', reason: 'The file is empty.' },
    );
    expect(checkCompatibility(broken, context({ inventory: prepareInventory(inventory({})) })).status).toBe('invalid');
  });
});

describe('search', () => {
  function libraryOf(...records: WorkflowRecord[]): LibraryIndex {
    const index = new LibraryIndex(context());
    index.upsert(records);
    return index;
  }
  const query = (value: Partial<LibraryQuery>) => LibraryQuery.parse(value);

  test('words are split on case, separators and versions', () => {
    expect(tokenize('CheckpointLoaderSimple')).toEqual(
      expect.arrayContaining(['checkpoint', 'loader', 'simple', 'checkpointloadersimple']),
    );
    expect(tokenize('wan2.2_t2v')).toEqual(expect.arrayContaining(['wan2.2', 'wan2', '2', 't2v']));
    expect(withinEdits('upscael', 'upscale', 1)).toBe(true);
    expect(withinEdits('portrait', 'potrait', 1)).toBe(true);
    expect(withinEdits('video', 'audio', 1)).toBe(false);
  });

  test('free text finds names, models and node types, ranks name hits first, and forgives a typo', () => {
    const fox = video('Video/fox.json', 'Fox in the snow');
    const other = video('Video/other.json', 'Ocean waves');
    const index = libraryOf(fox, other, upscaler);
    expect(index.search(query({ text: 'fox' })).ids).toEqual([fox.id]);
    expect(index.search(query({ text: 'upscael' })).ids).toEqual([upscaler.id]);
    expect(index.search(query({ text: 'wan2.2' })).ids.sort()).toEqual([fox.id, other.id].sort());
    expect(index.search(query({ text: 'ImageUpscaleWithModel' })).ids).toEqual([upscaler.id]);
    expect(index.search(query({ text: 'fox snow' })).ids).toEqual([fox.id]);
    expect(index.search(query({ text: 'fox ocean' })).ids).toEqual([]);
  });

  test('an abbreviation finds its word ("flx" finds flux), and exact and prefix matches still rank above it', () => {
    const flux = video('Image/flux.json', 'Flux portrait');
    const flx = video('Image/flx.json', 'FLX tools');
    const other = video('Image/other.json', 'Ocean waves');
    const index = libraryOf(flux, flx, other);
    expect(index.search(query({ text: 'flx' })).ids).toEqual([flx.id, flux.id]);
    expect(index.search(query({ text: 'flu' })).ids).toEqual([flux.id]);
    expect(index.search(query({ text: 'prtrt' })).ids).toEqual([flux.id]);
    // Two letters would match nearly everything; the first letter must match too.
    expect(index.search(query({ text: 'fx' })).ids).toEqual([]);
    expect(index.search(query({ text: 'lx' })).ids).toEqual([]);
    expect(isAbbreviationOf('ckpt', 'checkpoint')).toBe(true);
    expect(isAbbreviationOf('upscl', 'upscale')).toBe(true);
    expect(isAbbreviationOf('flx', 'flux')).toBe(true);
    expect(isAbbreviationOf('xfl', 'flux')).toBe(false);
  });

  test('a name hit outranks the same word in a description or node type', () => {
    const named = record(
      'b.json',
      uiWorkflow([uiNode({ id: 1, type: 'SaveImage' })], { extra: { info: { name: 'Lantern festival' } } }),
    );
    const described = record(
      'a.json',
      uiWorkflow([uiNode({ id: 1, type: 'SaveImage' })], {
        extra: { info: { name: 'Night scene', description: 'Paper lanterns over a river' } },
      }),
    );
    const index = libraryOf(described, named);
    expect(index.search(query({ text: 'lantern' })).ids).toEqual([named.id, described.id]);
    expect(index.search(query({ text: 'lntrn' })).ids).toEqual([named.id, described.id]);
  });

  test('filters narrow by category, media and status, and each facet counts what the other filters leave', () => {
    const index = libraryOf(video('Video/a.json', 'A'), video('Video/b.json', 'B', true), upscaler);
    const all = index.search(query({}));
    expect(all.ids).toHaveLength(3);
    expect(all.facets.categories).toEqual([
      { value: 'Video', count: 2 },
      { value: 'Upscale', count: 1 },
    ]);
    const images = index.search(query({ inputTypes: ['image'] }));
    expect(images.ids).toHaveLength(2);
    expect(images.facets.inputTypes).toEqual(expect.arrayContaining([{ value: 'text', count: 2 }]));
    expect(
      index.search(query({ categories: ['Video'], outputTypes: ['video'], statuses: ['not_connected'] })).ids,
    ).toHaveLength(2);
    expect(index.search(query({ statuses: ['ready'] })).ids).toEqual([]);
  });

  test('changes are versioned deltas; a large burst asks clients to resync', () => {
    const index = libraryOf();
    expect(index.takeDelta()).toBeUndefined();
    const fox = video('Video/fox.json', 'Fox');
    index.upsert([fox]);
    expect(index.takeDelta()).toMatchObject({
      version: 1,
      upserted: [{ id: fox.id, name: 'Fox' }],
      removed: [],
      resync: false,
    });
    index.remove([fox.id]);
    expect(index.takeDelta()).toMatchObject({ version: 2, upserted: [], removed: [fox.id] });
    index.upsert(Array.from({ length: 600 }, (_, i) => video(`Video/${i}.json`, `Clip ${i}`)));
    expect(index.takeDelta()).toEqual({ version: 3, upserted: [], removed: [], resync: true });
    expect(index.search(query({ text: 'clip 42' })).ids[0]).toBe(workflowId('/lib', 'Video/42.json'));
  });
});

describe('intent', () => {
  test.each([
    ['an image from text', 't2i'],
    ['a video from text', 't2v'],
    ['a video from an image', 'i2v'],
    ['turn this photo into a short clip', 'i2v'],
    ['animate my picture', 'i2v'],
    ['change an image', 'i2i'],
    ['make this photo look like a watercolor painting', 'i2i'],
    ['upscale an image', 'upscale'],
    ['make it 4x bigger', 'upscale'],
    ['remove the car from this photo', 'inpaint'],
    ['audio or music', 'audio'],
    ['a song about rain', 'audio'],
    ['restyle this video as anime', 'v2v'],
    ['a 3D model of a chair', '3d'],
    ['a portrait of an astronaut', 't2i'],
  ])('“%s” means %s', (text, type) => {
    expect(recognizeIntent(text)?.type).toBe(type);
  });

  test('text that neither names a kind of workflow nor describes anything gets an honest message on how to browse', () => {
    const index = new LibraryIndex(context());
    const match = matchIntent('hello, what can you do?', index);
    expect(match).toMatchObject({ intent: null, ids: [], prompt: null });
    expect(match.message).toMatch(/could not tell.*browse/);
  });

  test('a plain prompt offers the text-to-image workflows, with the text as their prompt', () => {
    const index = new LibraryIndex(context());
    const still = record('i/still.json', textToImageUi());
    index.upsert([still, video('v/waves.json', 'Ocean waves')]);
    const match = matchIntent('a cat astronaut', index);
    expect(match).toMatchObject({
      intent: { type: 't2i', label: 'Image from text' },
      ids: [still.id],
      prompt: 'a cat astronaut',
    });
    expect(match.message).toBe('1 workflow can make an image from text. “a cat astronaut” goes in as the prompt.');
  });

  test.each([
    ['a cat astronaut', undefined, 'a cat astronaut'],
    ['an image of a cat astronaut', 't2i', 'a cat astronaut'],
    ['make me a picture showing two foxes in the snow', 't2i', 'two foxes in the snow'],
    ['a watercolor painting of a lighthouse', 't2i', 'a watercolor painting of a lighthouse'],
    ['draw a dragon', 't2i', 'a dragon'],
    ['a video of waves crashing at sunset', 't2v', 'waves crashing at sunset'],
    ['an image from text', 't2i', null],
    ['a video from text', 't2v', null],
    ['video', 't2v', null],
    ['t2i', 't2i', null],
    ['an illustration', 't2i', null],
    ['please', undefined, null],
    ['turn this photo into a short clip', 'i2v', null],
  ] as const)('“%s” (%s) carries the prompt %j', (text, type, prompt) => {
    expect(recognizeIntent(text)?.type).toBe(type);
    expect(promptFromIntent(text, recognizeIntent(text)?.type)).toBe(prompt);
  });

  test('a recognised intent lists the workflows of that type, the ones sharing words with the text first', () => {
    const index = new LibraryIndex(context());
    const waves = video('v/waves.json', 'Ocean waves');
    const fox = video('v/fox.json', 'Fox in the snow');
    const i2v = video('v/i2v.json', 'Animate a still', true);
    index.upsert([waves, fox, i2v, upscaler]);
    const match = matchIntent('a video of a fox', index);
    expect(match.intent).toMatchObject({ type: 't2v', label: 'Video from text' });
    expect(match.ids).toEqual([fox.id, waves.id]);
    expect(match.message).toBe('2 workflows can make a video from text. “a fox” goes in as the prompt.');
    expect(match.prompt).toBe('a fox');
  });

  test('a recognised intent with no fitting workflow says so and how to browse', () => {
    const match = matchIntent('generate audio', new LibraryIndex(context()));
    expect(match.intent?.type).toBe('audio');
    expect(match.ids).toEqual([]);
    expect(match.message).toBe(
      'No workflow in your library can make audio yet. Add a folder of ComfyUI workflows in Settings, or browse the whole library.',
    );
  });
});
