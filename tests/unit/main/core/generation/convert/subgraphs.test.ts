import { describe, expect, test } from 'vitest';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { recordedObjectInfo } from '../../../../../support/corpus';
import {
  GraphBuilder,
  textToImage,
  type NodeOptions,
  type SubgraphDefinition,
} from '../../../../../support/workflow-builder';

const objectInfo = recordedObjectInfo();
const convert = (workflow: unknown) => convertWorkflow(workflow, { objectInfo, random: () => 0 });

const OUTER = '11111111-1111-4111-8111-111111111111';
const INNER = '22222222-2222-4222-8222-222222222222';

/** Inner subgraph: FluxGuidance with its guidance promoted. Inputs: conditioning, guidance. */
function innerDefinition(): SubgraphDefinition {
  return new GraphBuilder(objectInfo, { firstLinkId: 100 })
    .node(1, 'FluxGuidance', { widgets: [3.5] })
    .link([-10, 0], [1, 'conditioning'])
    .link([-10, 1], [1, 'guidance'])
    .link([1, 0], [-20, 0], 'CONDITIONING')
    .subgraph(INNER, 'Guidance', {
      inputs: [
        { name: 'conditioning', type: 'CONDITIONING' },
        { name: 'guidance', type: 'FLOAT' },
      ],
      outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
    });
}

/** Outer subgraph: a text encoder (text promoted) feeding a nested Guidance instance (guidance promoted through it). */
function outerDefinition(): SubgraphDefinition {
  return new GraphBuilder(objectInfo, { firstLinkId: 200 })
    .node(1, 'CLIPTextEncode', { widgets: ['inner default text'] })
    .node(2, INNER, {
      title: 'Guidance step',
      inputs: [
        { name: 'conditioning', type: 'CONDITIONING' },
        { name: 'guidance', type: 'FLOAT', widget: 'guidance' },
      ],
      outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
      widgets: [],
    })
    .link([-10, 0], [1, 'clip'])
    .link([-10, 1], [1, 'text'])
    .link([1, 0], [2, 'conditioning'])
    .link([-10, 2], [2, 'guidance'])
    .link([2, 0], [-20, 0], 'CONDITIONING')
    .subgraph(OUTER, 'Prompt', {
      inputs: [
        { name: 'clip', type: 'CLIP' },
        { name: 'text', type: 'STRING', label: 'Your prompt' },
        { name: 'guidance', type: 'FLOAT' },
      ],
      outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
    });
}

/** textToImage with its positive encoder replaced by an instance (id 10) of the outer subgraph. */
function withPromptSubgraph(
  instance: NodeOptions = {},
  edit?: (builder: GraphBuilder) => void,
): Record<string, unknown> {
  const builder = textToImage(objectInfo);
  builder.node(10, OUTER, {
    title: 'My prompt',
    inputs: [{ name: 'clip', type: 'CLIP' }],
    outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
    widgets: ['a castle at dusk', 2.5],
    ...instance,
  });
  builder.link([4, 1], [10, 'clip']);
  edit?.(builder);
  const workflow = builder.workflow({ subgraphs: [outerDefinition(), innerDefinition()] });
  const positive = (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 1)!;
  positive[1] = 10;
  return workflow;
}

describe('subgraphs', () => {
  test('inner nodes get "instance:inner" ids, nested ones "a:b:c", and promoted widgets take the instance values', () => {
    const { prompt, nodeMap, warnings } = convert(withPromptSubgraph());
    expect(prompt['10:1']).toEqual({
      class_type: 'CLIPTextEncode',
      inputs: { text: 'a castle at dusk', clip: ['4', 1] },
      _meta: { title: 'CLIP Text Encode (Prompt)' },
    });
    expect(prompt['10:2:1']).toEqual({
      class_type: 'FluxGuidance',
      inputs: { guidance: 2.5, conditioning: ['10:1', 0] },
      _meta: { title: 'FluxGuidance' },
    });
    expect(prompt['3']!.inputs.positive).toEqual(['10:2:1', 0]);
    expect(prompt).not.toHaveProperty('10');
    expect(prompt).not.toHaveProperty('10:2');
    expect(nodeMap['10:2:1']).toMatchObject({
      uiPath: ['10', '2', '1'],
      containerTitles: ['My prompt', 'Guidance step'],
    });
    expect(nodeMap['10:1']!.widgetSources.text).toEqual([
      { graph: 'root', nodeId: '10', slot: 0 },
      { graph: OUTER, nodeId: '1', slot: 0 },
    ]);
    expect(warnings).toEqual([]);
  });

  test("promoted inputs are reported as the author's exposed parameters, with their labels", () => {
    expect(convert(withPromptSubgraph()).exposedInputs).toEqual([
      { nodeId: '10:1', inputName: 'text', label: 'Your prompt', instanceId: '10' },
      { nodeId: '10:2:1', inputName: 'guidance', label: 'guidance', instanceId: '10' },
    ]);
  });

  test("without instance values the inner widgets' own values are used", () => {
    const { prompt } = convert(withPromptSubgraph({ widgets: [] }));
    expect(prompt['10:1']!.inputs.text).toBe('inner default text');
    expect(prompt['10:2:1']!.inputs.guidance).toBe(3.5);
  });

  test('an instance input linked in the parent graph wins over the promoted value, matched by name', () => {
    const workflow = withPromptSubgraph(
      {
        inputs: [
          { name: 'clip', type: 'CLIP' },
          { name: 'text', type: 'STRING', widget: 'text' },
        ],
      },
      (builder) => {
        builder.node(20, 'PrimitiveStringMultiline', { widgets: ['from a string node'] }).link([20, 0], [10, 'text']);
      },
    );
    expect(convert(workflow).prompt['10:1']!.inputs.text).toEqual(['20', 0]);
  });

  test('a PrimitiveNode feeding an instance input sets that promoted widget', () => {
    const workflow = withPromptSubgraph(
      {
        inputs: [
          { name: 'clip', type: 'CLIP' },
          { name: 'guidance', type: 'FLOAT', widget: 'guidance' },
        ],
      },
      (builder) => {
        builder.node(21, 'PrimitiveNode', { widgets: [7.25, 'fixed'] }).link([21, 0], [10, 'guidance'], 'FLOAT');
      },
    );
    expect(convert(workflow).prompt['10:2:1']!.inputs.guidance).toBe(7.25);
  });

  test('proxyWidgets on an instance (also as a JSON string) name exposed inner widgets', () => {
    const result = convert(
      withPromptSubgraph({
        properties: {
          proxyWidgets: JSON.stringify([
            ['1', 'text'],
            ['-1', 'guidance'],
          ]),
        },
        widgets: [],
      }),
    );
    expect(result.exposedInputs.map((input) => `${input.nodeId}.${input.inputName}`)).toEqual([
      '10:1.text',
      '10:2:1.guidance',
    ]);
  });

  test('a bypassed instance passes its matching input through and none of its inner nodes are sent', () => {
    const result = convert(withPromptSubgraph({ mode: 4, inputs: [{ name: 'clip', type: 'CLIP' }] }));
    expect(Object.keys(result.prompt).filter((id) => id.startsWith('10'))).toEqual([]);
    // CLIP does not fit CONDITIONING, so the sampler's positive has nothing to pass: it is reported.
    expect(result.prompt['3']!.inputs).not.toHaveProperty('positive');
    expect(result.warnings.map((warning) => warning.code)).toEqual(['bypass_unresolved', 'required_input_missing']);
  });

  test('a muted instance sends none of its inner nodes and the inputs it fed are removed', () => {
    const result = convert(withPromptSubgraph({ mode: 2 }));
    expect(Object.keys(result.prompt).filter((id) => id.startsWith('10'))).toEqual([]);
    expect(result.prompt['3']!.inputs).not.toHaveProperty('positive');
  });

  test('a KJNodes GetNode inside a subgraph finds the SetNode in the enclosing graph', () => {
    const definition = new GraphBuilder(objectInfo, { firstLinkId: 300 })
      .node(1, 'GetNode', { widgets: ['clip'] })
      .node(2, 'CLIPTextEncode', { widgets: ['from inside'] })
      .link([1, 0], [2, 'clip'])
      .link([2, 0], [-20, 0], 'CONDITIONING')
      .subgraph(OUTER, 'Uses Get', { outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }] });
    const builder = textToImage(objectInfo)
      .node(50, 'SetNode', { widgets: ['clip'] })
      .node(10, OUTER, { outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }] });
    builder.link([4, 1], [50, '']);
    const workflow = builder.workflow({ subgraphs: [definition] });
    const positive = (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 1)!;
    positive[1] = 10;
    expect(convert(workflow).prompt['10:2']!.inputs).toEqual({ text: 'from inside', clip: ['4', 1] });
  });
});

describe('legacy group nodes', () => {
  /** A group of three: EmptyLatentImage → LatentUpscaleBy (internal link), and a text encoder fed from outside. */
  const groupDefinition = {
    nodes: [
      {
        type: 'EmptyLatentImage',
        widgets_values: [512, 512, 1],
        index: 0,
        outputs: [{ name: 'LATENT', type: 'LATENT', links: [] }],
      },
      {
        type: 'LatentUpscaleBy',
        widgets_values: ['nearest-exact', 1.5],
        index: 1,
        inputs: [{ name: 'samples', type: 'LATENT', link: null }],
        outputs: [{ name: 'LATENT', type: 'LATENT', links: [] }],
      },
      {
        type: 'CLIPTextEncode',
        widgets_values: ['group default'],
        index: 2,
        inputs: [{ name: 'clip', type: 'CLIP', link: null }],
        outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING', links: [] }],
      },
    ],
    links: [
      [0, 0, 1, 0, 5, 'LATENT'],
      [null, 1, 2, 0, 4, 'CLIP'],
    ],
    external: [
      [1, 0, 'LATENT'],
      [2, 0, 'CONDITIONING'],
    ],
  };

  function withGroup(type: string, widgets: unknown[] | undefined): Record<string, unknown> {
    const builder = textToImage(objectInfo);
    builder.node(30, type, {
      title: 'Size and prompt',
      inputs: [{ name: 'clip', type: 'CLIP' }],
      outputs: [
        { name: 'LATENT', type: 'LATENT' },
        { name: 'CONDITIONING', type: 'CONDITIONING' },
      ],
      ...(widgets ? { widgets } : {}),
    });
    builder.link([4, 1], [30, 'clip']);
    const workflow = builder.workflow({ groupNodes: { SizeAndPrompt: groupDefinition } });
    const links = workflow.links as unknown[][];
    const latent = links.find((link) => link[3] === 3 && link[4] === 3)!;
    latent[1] = 30;
    latent[2] = 0;
    const positive = links.find((link) => link[3] === 3 && link[4] === 1)!;
    positive[1] = 30;
    positive[2] = 1;
    return workflow;
  }

  test.each(['workflow>SizeAndPrompt', 'workflow/SizeAndPrompt'])(
    '%s expands into "<id>:<index>" nodes with the instance values in inner-node order',
    (type) => {
      const result = convert(withGroup(type, [640, 480, 2, 'bilinear', 2, 'a fox']));
      expect(result.prompt['30:0']!.inputs).toEqual({ width: 640, height: 480, batch_size: 2 });
      expect(result.prompt['30:1']!.inputs).toEqual({ upscale_method: 'bilinear', scale_by: 2, samples: ['30:0', 0] });
      expect(result.prompt['30:2']!.inputs).toEqual({ text: 'a fox', clip: ['4', 1] });
      expect(result.prompt['3']!.inputs).toMatchObject({ latent_image: ['30:1', 0], positive: ['30:2', 0] });
      expect(result.nodeMap['30:2']).toMatchObject({
        containerTitles: ['Size and prompt'],
        widgetSources: { text: [{ graph: 'root', nodeId: '30', slot: 5 }] },
      });
      expect(result.warnings.map((warning) => warning.code)).toEqual(['legacy_group_node']);
    },
  );

  test("without instance values the definition's own values are used", () => {
    const result = convert(withGroup('workflow>SizeAndPrompt', undefined));
    expect(result.prompt['30:2']!.inputs.text).toBe('group default');
    expect(result.nodeMap['30:2']!.widgetSources.text).toEqual([
      { graph: 'group:SizeAndPrompt', nodeId: '2', slot: 0 },
    ]);
  });

  test('an instance of a group node whose definition is missing is a missing node type', () => {
    const builder = textToImage(objectInfo).node(30, 'workflow>Gone', {});
    expect(convert(builder.workflow()).missingNodeTypes).toEqual([{ type: 'workflow>Gone', nodeIds: ['30'] }]);
  });
});
