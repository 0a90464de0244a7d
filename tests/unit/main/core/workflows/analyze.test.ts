import { describe, expect, test } from 'vitest';
import {
  analyzeWorkflow,
  deriveType,
  type Analysis,
  type WorkflowFacts,
} from '../../../../../src/main/core/workflows/analyze';
import { textToImageApi, textToImageUi, uiNode, uiWorkflow } from '../../../../support/workflows';

function facts(analysis: Analysis): WorkflowFacts {
  if ('problem' in analysis)
    throw new Error(`expected a workflow, got ${analysis.problem.code}: ${analysis.problem.reason}`);
  return analysis.facts;
}

const names = (result: WorkflowFacts) => result.models.map((model) => `${model.folder}/${model.name}`);

describe('UI-format workflows', () => {
  test('a text-to-image graph reads as t2i with its checkpoint, and notes are not node types', () => {
    const result = facts(analyzeWorkflow(textToImageUi()));
    expect(result).toMatchObject({
      format: 'ui',
      type: 't2i',
      inputTypes: ['text'],
      outputTypes: ['image'],
      nodeCount: 8,
    });
    expect(names(result)).toEqual(['checkpoints/sd15.safetensors']);
    expect(result.nodeTypes).toEqual([
      'CLIPTextEncode',
      'CheckpointLoaderSimple',
      'EmptyLatentImage',
      'KSampler',
      'SaveImage',
      'VAEDecode',
    ]);
  });

  test('bypassed and muted loaders do not count as models, and their node types are not required', () => {
    const workflow = textToImageUi();
    (workflow.nodes as unknown[]).push(
      uiNode({ id: 20, type: 'LoraLoader', mode: 4, widgets: ['bypassed-style.safetensors', 1, 1] }),
      uiNode({ id: 21, type: 'LoraLoaderModelOnly', mode: 2, widgets: ['muted-style.safetensors', 1] }),
      uiNode({ id: 22, type: 'LoraLoader', widgets: ['active-style.safetensors', 0.8, 0.8] }),
      uiNode({ id: 23, type: 'SomeCustomNode', mode: 4 }),
    );
    const result = facts(analyzeWorkflow(workflow));
    expect(names(result)).toEqual(['checkpoints/sd15.safetensors', 'loras/active-style.safetensors']);
    expect(result.nodeTypes).not.toContain('SomeCustomNode');
  });

  test('a bypassed LoadImage does not make a text-to-image workflow an image-to-image one', () => {
    const workflow = textToImageUi();
    (workflow.nodes as unknown[]).push(uiNode({ id: 30, type: 'LoadImage', mode: 4, widgets: ['ref.png', 'image'] }));
    expect(facts(analyzeWorkflow(workflow)).type).toBe('t2i');
  });

  test('models inside subgraphs count; inside a bypassed instance or an unused definition they do not', () => {
    const definition = (id: string, checkpoint: string) => ({
      id,
      name: `Loader ${id}`,
      nodes: [uiNode({ id: 1, type: 'CheckpointLoaderSimple', widgets: [checkpoint] })],
      links: [],
      inputs: [],
      outputs: [],
    });
    const workflow = uiWorkflow(
      [
        uiNode({ id: 1, type: 'sg-active' }),
        uiNode({ id: 2, type: 'sg-bypassed', mode: 4 }),
        uiNode({ id: 3, type: 'SaveImage' }),
      ],
      {
        definitions: {
          subgraphs: [
            definition('sg-active', 'inner.safetensors'),
            definition('sg-bypassed', 'skipped.safetensors'),
            definition('sg-unused', 'unused.safetensors'),
          ],
        },
      },
    );
    const result = facts(analyzeWorkflow(workflow));
    expect(names(result)).toEqual(['checkpoints/inner.safetensors']);
    expect(result.nodeCount).toBe(6);
    expect(result.nodeTypes).not.toContain('sg-active');
  });

  test('nested subgraphs are followed, and a definition that contains itself does not loop', () => {
    const workflow = uiWorkflow([uiNode({ id: 1, type: 'outer' })], {
      definitions: {
        subgraphs: [
          { id: 'outer', nodes: [uiNode({ id: 1, type: 'inner' }), uiNode({ id: 2, type: 'outer' })], links: [] },
          { id: 'inner', nodes: [uiNode({ id: 1, type: 'VAELoader', widgets: ['deep.safetensors'] })], links: [] },
        ],
      },
    });
    expect(names(facts(analyzeWorkflow(workflow)))).toEqual(['vae/deep.safetensors']);
  });

  test('embedded download URLs attach to the loaded model; stale records naming another file are ignored', () => {
    const workflow = uiWorkflow([
      uiNode({
        id: 1,
        type: 'CheckpointLoaderSimple',
        widgets: ['sd15.safetensors'],
        models: [
          { name: 'sd15.safetensors', url: 'https://example.test/sd15.safetensors', directory: 'checkpoints' },
          { name: 'old.safetensors', url: 'https://example.test/old.safetensors', directory: 'checkpoints' },
        ],
      }),
    ]);
    expect(facts(analyzeWorkflow(workflow)).models).toEqual([
      { name: 'sd15.safetensors', folder: 'checkpoints', url: 'https://example.test/sd15.safetensors' },
    ]);
  });

  test('workflow-level model records count unless only a bypassed node selects that file', () => {
    const workflow = uiWorkflow(
      [
        uiNode({ id: 1, type: 'UNETLoader', mode: 4, widgets: ['bypassed.safetensors', 'default'] }),
        uiNode({ id: 2, type: 'MyCustomLoader', widgets: ['custom.safetensors'] }),
      ],
      {
        models: [
          { name: 'bypassed.safetensors', url: 'https://example.test/a', directory: 'diffusion_models' },
          { name: 'extra.safetensors', url: 'https://example.test/b', directory: 'clip' },
        ],
      },
    );
    expect(facts(analyzeWorkflow(workflow)).models).toEqual([
      { name: 'extra.safetensors', folder: 'text_encoders', url: 'https://example.test/b' },
      { name: 'custom.safetensors', folder: null },
    ]);
  });

  test('legacy group nodes contribute the models of their inner nodes', () => {
    const workflow = uiWorkflow([uiNode({ id: 5, type: 'workflow>Loaders' }), uiNode({ id: 6, type: 'SaveImage' })], {
      extra: {
        groupNodes: {
          Loaders: {
            nodes: [{ index: 0, type: 'CheckpointLoaderSimple', widgets_values: ['grouped.safetensors'] }],
            links: [],
            external: [],
          },
        },
      },
    });
    expect(names(facts(analyzeWorkflow(workflow)))).toEqual(['checkpoints/grouped.safetensors']);
  });

  test('reroutes, primitives and get/set helpers are virtual, and synthetic VAE names are not files', () => {
    const workflow = uiWorkflow([
      uiNode({ id: 1, type: 'Reroute' }),
      uiNode({ id: 2, type: 'PrimitiveNode', widgets: [5, 'fixed'] }),
      uiNode({ id: 3, type: 'GetNode', widgets: ['model'] }),
      uiNode({ id: 4, type: 'VAELoader', widgets: ['taesd'] }),
      uiNode({ id: 5, type: 'PreviewImage' }),
    ]);
    const result = facts(analyzeWorkflow(workflow));
    expect(result.nodeTypes).toEqual(['PreviewImage', 'VAELoader']);
    expect(result.models).toEqual([]);
  });

  test('a LoadImage whose mask output is used makes an inpainting workflow', () => {
    const workflow = uiWorkflow([
      uiNode({ id: 1, type: 'LoadImage', widgets: ['photo.png', 'image'], outputs: [[1], [2]] }),
      uiNode({ id: 2, type: 'CLIPTextEncode', widgets: ['a hat'] }),
      uiNode({ id: 3, type: 'SaveImage' }),
    ]);
    expect(facts(analyzeWorkflow(workflow))).toMatchObject({ inputTypes: ['text', 'image', 'mask'], type: 'inpaint' });
  });

  test("name, description and category come from the workflow's own metadata when it has some", () => {
    const result = facts(
      analyzeWorkflow(
        textToImageUi('sd15.safetensors', {
          extra: { info: { name: 'Portraits', description: 'Soft light portraits.', category: 'People' } },
        }),
      ),
    );
    expect(result).toMatchObject({ name: 'Portraits', description: 'Soft light portraits.', category: 'People' });
  });

  test('widgets stored as an object are read by name', () => {
    const workflow = uiWorkflow([
      uiNode({ id: 1, type: 'CheckpointLoaderSimple', widgets: { ckpt_name: 'named.safetensors' } }),
    ]);
    expect(names(facts(analyzeWorkflow(workflow)))).toEqual(['checkpoints/named.safetensors']);
  });
});

describe('API-format workflows', () => {
  test('an API prompt with _meta titles reads like its UI twin, named by its file rather than a node title', () => {
    const api = facts(analyzeWorkflow(textToImageApi()));
    const ui = facts(analyzeWorkflow(textToImageUi()));
    expect(api).toMatchObject({
      format: 'api',
      type: 't2i',
      inputTypes: ui.inputTypes,
      outputTypes: ui.outputTypes,
      models: ui.models,
      nodeCount: 7,
    });
    expect(api.name).toBeUndefined();
  });

  test('a RunPod request envelope is unwrapped', () => {
    expect(
      facts(analyzeWorkflow({ input: { workflow: textToImageApi('wrapped.safetensors'), images: [] } })).models,
    ).toEqual([{ name: 'wrapped.safetensors', folder: 'checkpoints' }]);
  });

  test('a link to the MASK output of a LoadImage adds a mask input', () => {
    const prompt = {
      '1': { class_type: 'LoadImage', inputs: { image: 'a.png' } },
      '2': { class_type: 'SetLatentNoiseMask', inputs: { mask: ['1', 1] } },
      '3': { class_type: 'SaveImage', inputs: { images: ['1', 0] } },
    };
    expect(facts(analyzeWorkflow(prompt))).toMatchObject({ inputTypes: ['image', 'mask'], type: 'inpaint' });
  });

  test('a node without class_type is a readable shape error', () => {
    const analysis = analyzeWorkflow({
      '1': { class_type: 'SaveImage', inputs: {} },
      '2': { inputs: {} },
      '3': { class_type: 'VAEDecode', inputs: {} },
    });
    expect(analysis).toMatchObject({
      problem: { code: 'bad_shape', reason: expect.stringContaining('"2" has no class_type') },
    });
  });
});

describe('files that are not workflows', () => {
  test.each([
    ['a list', [1, 2], 'not_workflow'],
    ['a number', 42, 'not_workflow'],
    ['other JSON', { name: 'package', version: '1.0.0' }, 'not_workflow'],
    ['an empty object', {}, 'not_workflow'],
    ['nodes that are not a list', { nodes: {} }, 'bad_shape'],
    ['a node without a type', { nodes: [{ id: 1 }], links: [] }, 'bad_shape'],
    ['several workflows in one object', { a: textToImageUi(), b: textToImageUi() }, 'collection'],
  ])('%s gives %s with a reason', (_label, value, code) => {
    const analysis = analyzeWorkflow(value);
    expect(analysis).toMatchObject({ problem: { code } });
    if ('problem' in analysis) expect(analysis.problem.reason.length).toBeGreaterThan(20);
  });
});

describe('workflow type', () => {
  test.each([
    [['text'], ['image'], [], 't2i'],
    [['text', 'image'], ['image'], [], 'i2i'],
    [['image'], ['image'], ['upscale'], 'upscale'],
    [['image', 'mask'], ['image'], [], 'inpaint'],
    [['text'], ['video'], [], 't2v'],
    [['text', 'image'], ['video', 'image'], [], 'i2v'],
    [['video'], ['video'], [], 'v2v'],
    [['text'], ['audio'], [], 'audio'],
    [['image'], ['3d'], [], '3d'],
    [['text'], ['text'], [], 'text'],
    [[], [], [], 'other'],
  ] as const)('%j → %j with %j is %s', (inputs, outputs, roles, type) => {
    expect(deriveType(inputs, outputs, new Set(roles))).toBe(type);
  });

  test('a workflow that takes no text is never "text to image" or "text to video"', () => {
    expect(deriveType([], ['image'])).toBe('other');
    expect(deriveType([], ['video'])).toBe('other');
    const colourField = analyzeWorkflow({
      '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'field' } },
    });
    expect(colourField).toMatchObject({ facts: { inputTypes: [], outputTypes: ['image'], type: 'other' } });
  });
});
