import { describe, expect, test } from 'vitest';
import {
  assertNoMissingNodes,
  convertWorkflow,
} from '../../../../../../src/main/core/generation/convert/convert-workflow';
import type { ObjectInfo } from '../../../../../../src/main/core/comfy/object-info';
import { recordedObjectInfo } from '../../../../../support/corpus';
import { GraphBuilder, textToImage } from '../../../../../support/workflow-builder';

const objectInfo = recordedObjectInfo();
const convert = (workflow: unknown, info: ObjectInfo = objectInfo) =>
  convertWorkflow(workflow, { objectInfo: info, random: () => 0, now: () => new Date(2025, 5, 7, 8, 9, 10) });

describe('a plain graph', () => {
  test('becomes the API prompt: widget values on their inputs, links as [id, slot], titles in _meta', () => {
    const { prompt, warnings } = convert(textToImage(objectInfo).workflow());
    expect(prompt).toEqual({
      '4': {
        class_type: 'CheckpointLoaderSimple',
        inputs: { ckpt_name: 'sd15.safetensors' },
        _meta: { title: 'Load Checkpoint' },
      },
      '5': {
        class_type: 'EmptyLatentImage',
        inputs: { width: 512, height: 768, batch_size: 1 },
        _meta: { title: 'Empty Latent Image' },
      },
      '6': {
        class_type: 'CLIPTextEncode',
        inputs: { text: 'a cat', clip: ['4', 1] },
        _meta: { title: 'CLIP Text Encode (Prompt)' },
      },
      '7': {
        class_type: 'CLIPTextEncode',
        inputs: { text: 'blurry', clip: ['4', 1] },
        _meta: { title: 'CLIP Text Encode (Prompt)' },
      },
      '3': {
        class_type: 'KSampler',
        inputs: {
          seed: 42,
          steps: 20,
          cfg: 7.5,
          sampler_name: 'euler',
          scheduler: 'normal',
          denoise: 1,
          model: ['4', 0],
          positive: ['6', 0],
          negative: ['7', 0],
          latent_image: ['5', 0],
        },
        _meta: { title: 'KSampler' },
      },
      '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] }, _meta: { title: 'VAE Decode' } },
      '9': {
        class_type: 'SaveImage',
        inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] },
        _meta: { title: 'Save Image' },
      },
    });
    expect(warnings).toEqual([]);
  });

  test('a user-given title goes into _meta and the node map keeps the UI path and where each value lives', () => {
    const builder = textToImage(objectInfo);
    builder.nodes.find((node) => node.id === 6)!.title = 'Positive';
    const result = convert(builder.workflow());
    expect(result.prompt['6']!._meta).toEqual({ title: 'Positive' });
    expect(result.nodeMap['6']).toEqual({
      classType: 'CLIPTextEncode',
      title: 'Positive',
      hasCustomTitle: true,
      uiPath: ['6'],
      containerTitles: [],
      widgetSources: { text: [{ graph: 'root', nodeId: '6', slot: 0 }] },
      controls: {},
    });
    expect(result.nodeMap['3']!.controls).toEqual({ seed: 'randomize' });
    expect(result.nodeMap['3']!.widgetSources.cfg).toEqual([{ graph: 'root', nodeId: '3', slot: 3 }]);
  });

  test('version-1 object links and numeric-string slots connect the same way as array links', () => {
    const workflow = textToImage(objectInfo).workflow();
    const asObjects = {
      ...workflow,
      version: 1,
      links: (workflow.links as unknown[][]).map(([id, originId, originSlot, targetId, targetSlot, type]) => ({
        id,
        origin_id: originId,
        origin_slot: String(originSlot),
        target_id: targetId,
        target_slot: targetSlot,
        type,
      })),
    };
    expect(convert(asObjects).prompt).toEqual(convert(workflow).prompt);
  });

  test('string node ids work as execution ids', () => {
    const builder = new GraphBuilder(objectInfo)
      .node('loader', 'CheckpointLoaderSimple', { widgets: ['x.safetensors'] })
      .node('text', 'CLIPTextEncode', { widgets: ['hi'] })
      .link(['loader', 1], ['text', 'clip']);
    expect(convert(builder.workflow()).prompt.text!.inputs).toEqual({ text: 'hi', clip: ['loader', 1] });
  });

  test('a literal list value is boxed as {"__value__": …} so it is not read as a link', () => {
    const custom: ObjectInfo = {
      ...objectInfo,
      ListNode: {
        name: 'ListNode',
        input: { required: { items: ['CUSTOM_LIST', { widgetType: 'COMBO', multiselect: true }] } },
        output: [],
      },
    };
    const builder = new GraphBuilder(custom).node(1, 'ListNode', { widgets: [['a', 'b']] });
    expect(convert(builder.workflow(), custom).prompt['1']!.inputs.items).toEqual({ __value__: ['a', 'b'] });
  });
});

describe('frontend-only nodes', () => {
  test('a chain of Reroute nodes is followed to the real source', () => {
    const builder = textToImage(objectInfo).node(20, 'Reroute').node(21, 'Reroute');
    const workflow = builder.link([4, 2], [20, '']).link([20, 0], [21, '']).workflow();
    // Re-point the decoder's vae at the second reroute.
    const links = workflow.links as unknown[][];
    const vaeLink = links.find((link) => link[3] === 8 && link[4] === 1)!;
    vaeLink[1] = 21;
    vaeLink[2] = 0;
    expect(convert(workflow).prompt['8']!.inputs.vae).toEqual(['4', 2]);
    expect(convert(workflow).prompt).not.toHaveProperty('20');
  });

  test('a PrimitiveNode writes its value into every widget it feeds, and is not sent', () => {
    const builder = textToImage(objectInfo).node(30, 'PrimitiveNode', { widgets: [777, 'fixed'] });
    builder.link([30, 0], [3, 'seed'], 'INT');
    const result = convert(builder.workflow());
    expect(result.prompt['3']!.inputs.seed).toBe(777);
    expect(result.prompt).not.toHaveProperty('30');
    // The primitive's own control mode now governs the seed.
    expect(result.nodeMap['3']!.controls.seed).toBe('fixed');
    expect(result.nodeMap['3']!.widgetSources.seed).toEqual([
      { graph: 'root', nodeId: '3', slot: 0 },
      { graph: 'root', nodeId: '30', slot: 0 },
    ]);
  });

  test('a PrimitiveNode with "Run widget replace on values" resolves %Node.widget% first', () => {
    const builder = textToImage(objectInfo).node(31, 'PrimitiveNode', {
      widgets: ['out/%Empty Latent Image.width%'],
      properties: { 'Run widget replace on values': true },
    });
    builder.link([31, 0], [9, 'filename_prefix'], 'STRING');
    expect(convert(builder.workflow()).prompt['9']!.inputs.filename_prefix).toBe('out/512');
  });

  test('Note and MarkdownNote nodes are never sent', () => {
    const builder = textToImage(objectInfo)
      .node(40, 'Note', { widgets: ['remember'] })
      .node(41, 'MarkdownNote', { widgets: ['# hi'] });
    const result = convert(builder.workflow());
    expect(Object.keys(result.prompt).sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
    expect(result.missingNodeTypes).toEqual([]);
  });

  test('a KJNodes GetNode reads from the SetNode of the same name', () => {
    const builder = textToImage(objectInfo)
      .node(50, 'SetNode', { widgets: ['vae'] })
      .node(51, 'GetNode', { widgets: ['vae'] });
    builder.link([4, 2], [50, '']);
    const workflow = builder.workflow();
    const vaeLink = (workflow.links as unknown[][]).find((link) => link[3] === 8 && link[4] === 1)!;
    vaeLink[1] = 51;
    vaeLink[2] = 0;
    const result = convert(workflow);
    expect(result.prompt['8']!.inputs.vae).toEqual(['4', 2]);
    expect(result.prompt).not.toHaveProperty('50');
    expect(result.prompt).not.toHaveProperty('51');
  });

  test('a GetNode whose SetNode does not exist leaves the input unconnected and says so', () => {
    const builder = textToImage(objectInfo).node(51, 'GetNode', { widgets: ['nowhere'] });
    const workflow = builder.workflow();
    const vaeLink = (workflow.links as unknown[][]).find((link) => link[3] === 8 && link[4] === 1)!;
    vaeLink[1] = 51;
    vaeLink[2] = 0;
    const result = convert(workflow);
    expect(result.prompt['8']!.inputs).not.toHaveProperty('vae');
    expect(result.warnings.map((warning) => warning.code)).toEqual(['set_node_missing', 'required_input_missing']);
  });
});

describe('muted and bypassed nodes', () => {
  test('a muted node is removed together with every input it fed (muting is not pass-through)', () => {
    const builder = textToImage(objectInfo).node(10, 'LoraLoader', { widgets: ['style.safetensors', 1, 1], mode: 2 });
    builder.link([4, 0], [10, 'model']).link([4, 1], [10, 'clip']);
    const workflow = builder.workflow();
    const modelLink = (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 0)!;
    modelLink[1] = 10;
    const result = convert(workflow);
    expect(result.prompt).not.toHaveProperty('10');
    expect(result.prompt['3']!.inputs).not.toHaveProperty('model');
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ code: 'required_input_missing', nodeId: '3', details: { input: 'model' } }),
    );
  });

  test('a bypassed node passes the input at the same index through when its type fits', () => {
    const builder = textToImage(objectInfo).node(10, 'LoraLoader', { widgets: ['style.safetensors', 1, 1], mode: 4 });
    builder.link([4, 0], [10, 'model']).link([4, 1], [10, 'clip']);
    const workflow = builder.workflow();
    const links = workflow.links as unknown[][];
    links.find((link) => link[3] === 3 && link[4] === 0)![1] = 10; // sampler.model ← lora output 0 (MODEL)
    const clipLink = links.find((link) => link[3] === 6 && link[4] === 0)!; // positive.clip ← lora output 1 (CLIP)
    clipLink[1] = 10;
    clipLink[2] = 1;
    const { prompt } = convert(workflow);
    expect(prompt).not.toHaveProperty('10');
    expect(prompt['3']!.inputs.model).toEqual(['4', 0]);
    expect(prompt['6']!.inputs.clip).toEqual(['4', 1]);
  });

  test('a bypassed node whose same-index input does not fit passes the first input of the target type', () => {
    // ImageScaleBy: inputs [image]; output 0 IMAGE. A custom node with inputs [mask, image] and one IMAGE output.
    const custom: ObjectInfo = {
      ...objectInfo,
      TwoIn: {
        name: 'TwoIn',
        input: { required: { mask: ['MASK'], image: ['IMAGE'] } },
        input_order: { required: ['mask', 'image'] },
        output: ['IMAGE'],
      },
    };
    const builder = new GraphBuilder(custom)
      .node(1, 'LoadImage', { widgets: ['a.png', 'image'] })
      .node(2, 'TwoIn', { mode: 4 })
      .node(3, 'SaveImage', { widgets: ['x'] })
      .link([1, 1], [2, 'mask'])
      .link([1, 0], [2, 'image'])
      .link([2, 0], [3, 'images']);
    expect(convert(builder.workflow(), custom).prompt['3']!.inputs.images).toEqual(['1', 0]);
  });

  test('a bypassed node with no fitting input leaves the input unconnected', () => {
    const builder = new GraphBuilder(objectInfo)
      .node(1, 'LoadImage', { widgets: ['a.png', 'image'], mode: 4 })
      .node(2, 'SaveImage', { widgets: ['x'] })
      .link([1, 0], [2, 'images']);
    const result = convert(builder.workflow());
    expect(result.prompt).toEqual({ '2': expect.objectContaining({ inputs: { filename_prefix: 'x' } }) });
    expect(result.warnings.map((warning) => warning.code)).toEqual(['bypass_unresolved', 'required_input_missing']);
  });
});

describe('broken files', () => {
  test('a link that does not exist, or points at a missing node, is left unconnected with a warning', () => {
    const workflow = textToImage(objectInfo).workflow();
    const nodes = workflow.nodes as Array<{ id: number; inputs: Array<{ name: string; link: number | null }> }>;
    nodes.find((node) => node.id === 8)!.inputs.find((input) => input.name === 'vae')!.link = 999;
    (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 3)![1] = 404;
    const result = convert(workflow);
    expect(result.prompt['8']!.inputs).not.toHaveProperty('vae');
    expect(result.prompt['3']!.inputs).not.toHaveProperty('latent_image');
    expect(
      result.warnings
        .filter((warning) => warning.code === 'dangling_link')
        .map((warning) => warning.nodeId)
        .sort(),
    ).toEqual(['3', '8']);
  });

  test('a loop of reroutes is cut instead of recursing forever', () => {
    const builder = textToImage(objectInfo)
      .node(20, 'Reroute')
      .node(21, 'Reroute')
      .link([20, 0], [21, ''])
      .link([21, 0], [20, '']);
    const workflow = builder.workflow();
    const vaeLink = (workflow.links as unknown[][]).find((link) => link[3] === 8 && link[4] === 1)!;
    vaeLink[1] = 21;
    vaeLink[2] = 0;
    const result = convert(workflow);
    expect(result.prompt['8']!.inputs).not.toHaveProperty('vae');
    expect(result.warnings.map((warning) => warning.code)).toContain('link_cycle');
  });
});

describe('missing custom nodes', () => {
  test('node types the server lacks are listed with their pack, and queueing is refused by name', () => {
    const builder = textToImage(objectInfo)
      .node(60, 'FancyUpscale', { properties: { cnr_id: 'fancy-nodes', ver: '1.2.0' } })
      .node(61, 'FancyUpscale', {})
      .node(62, 'OtherNode', { properties: { aux_id: 'someone/other-nodes' } })
      .node(63, 'MutedMissing', { mode: 2 })
      .node(64, 'BypassedMissing', { mode: 4 });
    const result = convert(builder.workflow());
    expect(result.missingNodeTypes).toEqual([
      { type: 'FancyUpscale', nodeIds: ['60', '61'], cnrId: 'fancy-nodes', version: '1.2.0' },
      { type: 'OtherNode', nodeIds: ['62'], auxId: 'someone/other-nodes' },
    ]);
    expect(() => assertNoMissingNodes(result)).toThrow(
      'missing custom nodes: FancyUpscale (fancy-nodes), OtherNode (someone/other-nodes).',
    );
    expect(() => assertNoMissingNodes(result)).toThrow(expect.objectContaining({ code: 'missing_custom_nodes' }));
    expect(() => assertNoMissingNodes(convert(textToImage(objectInfo).workflow()))).not.toThrow();
  });
});

describe('frontend transforms', () => {
  test('dynamic prompts pick one option per group with the injected randomness, after comments are stripped', () => {
    const workflow = textToImage(objectInfo, {
      positive: 'a {red|green|blue} {cat|dog} // note\n/* hidden */ \\{kept\\}',
    }).workflow();
    expect(convertWorkflow(workflow, { objectInfo, random: () => 0 }).prompt['6']!.inputs.text).toBe(
      'a red cat \n {kept}',
    );
    expect(convertWorkflow(workflow, { objectInfo, random: () => 0.99 }).prompt['6']!.inputs.text).toBe(
      'a blue dog \n {kept}',
    );
  });

  test("a save node's %date:…% and %Node.widget% are replaced with the injected clock and the widget value", () => {
    const builder = textToImage(objectInfo);
    // %width% is left for the server; "%date:hh.mm%" would read as a Node.widget pair, as in the frontend.
    builder.nodes.find((node) => node.id === 9)!.widgets_values = [
      '%date:yyyy-MM-dd%/%KSampler.seed%_%date:hh-mm-ss%_%width%_%Missing.x%',
    ];
    expect(convert(builder.workflow()).prompt['9']!.inputs.filename_prefix).toBe(
      '2025-06-07/42_08-09-10_%width%_%Missing.x%',
    );
  });
});
