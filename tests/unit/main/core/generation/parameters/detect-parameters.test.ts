import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Parameter } from '@shared/domain/generation';
import type { ObjectInfo } from '../../../../../../src/main/core/comfy/object-info';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { detectParameters } from '../../../../../../src/main/core/generation/parameters/detect-parameters';
import { readJson, recordedObjectInfo } from '../../../../../support/corpus';
import { CORPUS_DIR } from '../../../../../support/paths';
import { GraphBuilder, textToImage } from '../../../../../support/workflow-builder';

const objectInfo = recordedObjectInfo();

function detect(workflow: unknown, info: ObjectInfo = objectInfo): Parameter[] {
  return detectParameters(convertWorkflow(workflow, { objectInfo: info, random: () => 0 }), info);
}

const byId = (parameters: Parameter[], id: string) => parameters.find((parameter) => parameter.id === id);
const targetsOf = (parameter: Parameter | undefined) =>
  parameter?.targets.map((target) => `${target.nodeId}.${target.inputName}`);

describe('a plain text-to-image workflow', () => {
  const parameters = detect(textToImage(objectInfo).workflow());

  test('gives the main parameters with their values, labels and groups, in form order', () => {
    const main = parameters.filter((parameter) => parameter.group !== 'advanced');
    expect(
      main.map((parameter) => [parameter.id, parameter.kind, parameter.label, parameter.group, parameter.value]),
    ).toEqual([
      ['prompt', 'prompt', 'Prompt', 'prompt', 'a cat'],
      ['negative_prompt', 'negative_prompt', 'Negative prompt', 'prompt', 'blurry'],
      ['width', 'width', 'Width', 'size', 512],
      ['height', 'height', 'Height', 'size', 768],
      ['batch_size', 'batch_size', 'Batch size', 'size', 1],
      ['seed', 'seed', 'Seed', 'sampling', 42],
      ['steps', 'steps', 'Steps', 'sampling', 20],
      ['cfg', 'cfg', 'CFG', 'sampling', 7.5],
      ['sampler', 'sampler', 'Sampler', 'sampling', 'euler'],
      ['scheduler', 'scheduler', 'Scheduler', 'sampling', 'normal'],
      ['denoise', 'denoise', 'Denoise', 'sampling', 1],
      ['4.ckpt_name', 'model', 'Checkpoint', 'models', 'sd15.safetensors'],
    ]);
  });

  test('constraints come from object_info: bounds, steps, options, multiline, model folder', () => {
    expect(byId(parameters, 'steps')!.constraints).toMatchObject({ type: 'INT', min: 1, max: 10000, default: 20 });
    expect(byId(parameters, 'cfg')!.constraints).toMatchObject({
      type: 'FLOAT',
      min: 0,
      max: 100,
      step: 0.1,
      round: 0.01,
    });
    expect(byId(parameters, 'sampler')!.constraints.options).toContain('dpmpp_2m');
    expect(byId(parameters, 'prompt')!.constraints).toMatchObject({
      type: 'STRING',
      multiline: true,
      dynamicPrompts: true,
    });
    expect(byId(parameters, '4.ckpt_name')!.constraints).toMatchObject({ type: 'COMBO', folder: 'checkpoints' });
    // KSampler's seed goes to 2^64-1; a form can only hold safe integers.
    expect(byId(parameters, 'seed')!.constraints).toMatchObject({ type: 'INT', min: 0, max: Number.MAX_SAFE_INTEGER });
    expect(byId(parameters, 'seed')!.seedControl).toBe('randomize');
  });

  test('everything else stays reachable under advanced, grouped by node title, and nothing is listed twice', () => {
    const advanced = parameters.filter((parameter) => parameter.group === 'advanced');
    expect(advanced.map((parameter) => [parameter.id, parameter.kind, parameter.section])).toEqual([
      ['9.filename_prefix', 'text', 'Save Image'],
    ]);
    const targets = parameters.flatMap((parameter) => targetsOf(parameter)!);
    expect(new Set(targets).size).toBe(targets.length);
  });

  test('converting the same workflow again gives the same ids', () => {
    expect(detect(textToImage(objectInfo).workflow()).map((parameter) => parameter.id)).toEqual(
      parameters.map((parameter) => parameter.id),
    );
  });
});

describe('following the sampler rather than order or titles', () => {
  test("the negative prompt is what feeds the sampler's negative input, whatever the nodes are called or numbered", () => {
    const builder = textToImage(objectInfo, { positive: 'a red fox', negative: 'lowres' });
    // The positive encoder is titled "Negative" and the negative one "Positive": the wiring decides.
    builder.nodes.find((node) => node.id === 6)!.title = 'Negative';
    builder.nodes.find((node) => node.id === 7)!.title = 'Positive';
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'prompt')).toMatchObject({
      value: 'a red fox',
      targets: [{ nodeId: '6', inputName: 'text' }],
      section: 'Negative',
    });
    expect(byId(parameters, 'negative_prompt')).toMatchObject({
      value: 'lowres',
      targets: [{ nodeId: '7', inputName: 'text' }],
    });
  });

  test('through ControlNet the positive and negative sides stay apart', () => {
    const builder = textToImage(objectInfo, { positive: 'house', negative: 'people' })
      .node(20, 'ControlNetLoader', { widgets: ['canny.safetensors'] })
      .node(21, 'LoadImage', { widgets: ['edges.png', 'image'] })
      .node(22, 'ControlNetApplyAdvanced', { widgets: [1, 0, 1] })
      .link([6, 0], [22, 'positive'])
      .link([7, 0], [22, 'negative'])
      .link([20, 0], [22, 'control_net'])
      .link([21, 0], [22, 'image']);
    const workflow = builder.workflow();
    const links = workflow.links as unknown[][];
    const positive = links.find((link) => link[3] === 3 && link[4] === 1)!;
    positive[1] = 22;
    const negative = links.find((link) => link[3] === 3 && link[4] === 2)!;
    negative[1] = 22;
    negative[2] = 1;
    const parameters = detect(workflow);
    expect(byId(parameters, 'prompt')!.value).toBe('house');
    expect(byId(parameters, 'negative_prompt')!.value).toBe('people');
    expect(byId(parameters, 'image')).toMatchObject({
      kind: 'image',
      group: 'inputs',
      value: 'edges.png',
      constraints: { media: 'image', acceptsAnyFile: true, folder: 'input' },
    });
  });

  test('SamplerCustomAdvanced with a CFGGuider: prompts through the guider, seed from the noise node, settings from its sampler and sigmas', () => {
    const builder = new GraphBuilder(objectInfo)
      .node(1, 'CheckpointLoaderSimple', { widgets: ['m.safetensors'] })
      .node(2, 'CLIPTextEncode', { widgets: ['castle'] })
      .node(3, 'CLIPTextEncode', { widgets: ['fog'] })
      .node(4, 'CFGGuider', { widgets: [4.5] })
      .node(5, 'RandomNoise', { widgets: [99, 'increment'] })
      .node(6, 'KSamplerSelect', { widgets: ['dpmpp_2m'] })
      .node(7, 'BasicScheduler', { widgets: ['karras', 28, 1] })
      .node(8, 'EmptySD3LatentImage', { widgets: [1152, 896, 2] })
      .node(9, 'SamplerCustomAdvanced')
      .link([1, 1], [2, 'clip'])
      .link([1, 1], [3, 'clip'])
      .link([1, 0], [4, 'model'])
      .link([2, 0], [4, 'positive'])
      .link([3, 0], [4, 'negative'])
      .link([1, 0], [7, 'model'])
      .link([5, 0], [9, 'noise'])
      .link([4, 0], [9, 'guider'])
      .link([6, 0], [9, 'sampler'])
      .link([7, 0], [9, 'sigmas'])
      .link([8, 0], [9, 'latent_image']);
    const parameters = detect(builder.workflow());
    expect(
      Object.fromEntries(
        parameters
          .filter((parameter) => parameter.group !== 'advanced' && parameter.group !== 'models')
          .map((parameter) => [parameter.id, parameter.value]),
      ),
    ).toEqual({
      prompt: 'castle',
      negative_prompt: 'fog',
      width: 1152,
      height: 896,
      batch_size: 2,
      seed: 99,
      steps: 28,
      cfg: 4.5,
      sampler: 'dpmpp_2m',
      scheduler: 'karras',
      denoise: 1,
    });
    expect(byId(parameters, 'seed')!.seedControl).toBe('increment');
  });

  test('Flux: a BasicGuider has no negative, a zeroed-out negative is not a prompt, and guidance is a parameter', () => {
    const builder = new GraphBuilder(objectInfo)
      .node(1, 'CheckpointLoaderSimple', { widgets: ['flux.safetensors'] })
      .node(2, 'CLIPTextEncode', { widgets: ['neon city'] })
      .node(3, 'FluxGuidance', { widgets: [3.5] })
      .node(4, 'ConditioningZeroOut')
      .node(5, 'KSampler', { widgets: [1, 'fixed', 20, 1, 'euler', 'simple', 1] })
      .node(6, 'EmptySD3LatentImage', { widgets: [1024, 1024, 1] })
      .link([1, 1], [2, 'clip'])
      .link([2, 0], [3, 'conditioning'])
      .link([2, 0], [4, 'conditioning'])
      .link([1, 0], [5, 'model'])
      .link([3, 0], [5, 'positive'])
      .link([4, 0], [5, 'negative'])
      .link([6, 0], [5, 'latent_image']);
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'prompt')!.value).toBe('neon city');
    expect(byId(parameters, 'negative_prompt')).toBeUndefined();
    expect(byId(parameters, 'guidance')).toMatchObject({
      kind: 'guidance',
      group: 'sampling',
      value: 3.5,
      targets: [{ nodeId: '3', inputName: 'guidance' }],
    });
    expect(byId(parameters, 'seed')!.seedControl).toBe('fixed');
  });

  test('one prompt typed once reaches every encoder holding it (SDXL text_g and text_l)', () => {
    const builder = textToImage(objectInfo)
      .node(12, 'CLIPTextEncodeSDXL', { widgets: [1024, 1024, 0, 0, 1024, 1024, 'a lighthouse', 'a lighthouse'] })
      .link([4, 1], [12, 'clip']);
    const workflow = builder.workflow();
    (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 1)![1] = 12;
    expect(targetsOf(byId(detect(workflow), 'prompt'))).toEqual(['12.text_g', '12.text_l']);
  });

  test('a second sampler with its own prompt keeps it as a separate, titled prompt; its settings go to advanced', () => {
    const builder = textToImage(objectInfo, { positive: 'first pass' })
      .node(13, 'CLIPTextEncode', { widgets: ['second pass'], title: 'Refiner prompt' })
      .node(14, 'KSampler', { widgets: [7, 'fixed', 12, 6, 'euler', 'normal', 0.5], title: 'Hires pass' })
      .link([4, 1], [13, 'clip'])
      .link([4, 0], [14, 'model'])
      .link([13, 0], [14, 'positive'])
      .link([7, 0], [14, 'negative'])
      .link([3, 0], [14, 'latent_image']);
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'prompt')!.value).toBe('first pass');
    expect(byId(parameters, '13.text')).toMatchObject({
      kind: 'prompt',
      group: 'prompt',
      label: 'Refiner prompt',
      value: 'second pass',
    });
    expect(byId(parameters, 'steps')!.value).toBe(20);
    expect(byId(parameters, '14.steps')).toMatchObject({
      kind: 'steps',
      group: 'advanced',
      section: 'Hires pass',
      value: 12,
    });
    expect(byId(parameters, '14.seed')).toMatchObject({ kind: 'seed', group: 'advanced', seedControl: 'fixed' });
  });
});

describe('values set elsewhere', () => {
  test("a seed driven by a PrimitiveInt targets the primitive, with the sampler's bounds and the primitive's control", () => {
    const builder = textToImage(objectInfo)
      .node(30, 'PrimitiveInt', { widgets: [1234, 'increment'] })
      .link([30, 0], [3, 'seed']);
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'seed')).toMatchObject({
      value: 1234,
      targets: [{ nodeId: '30', inputName: 'value' }],
      seedControl: 'increment',
      constraints: { min: 0, max: Number.MAX_SAFE_INTEGER },
    });
    expect(parameters.some((parameter) => targetsOf(parameter)!.includes('3.seed'))).toBe(false);
  });

  test('a prompt written in a String primitive is found through the encoder it feeds', () => {
    const builder = textToImage(objectInfo)
      .node(31, 'PrimitiveStringMultiline', { widgets: ['from a string node'] })
      .link([31, 0], [6, 'text']);
    expect(byId(detect(builder.workflow()), 'prompt')).toMatchObject({
      value: 'from a string node',
      targets: [{ nodeId: '31', inputName: 'value' }],
    });
  });

  test('user titles label loaders and media inputs', () => {
    const builder = textToImage(objectInfo)
      .node(40, 'LoadImage', { widgets: ['me.png', 'image'], title: 'Reference photo' })
      .node(41, 'LoadImage', { widgets: ['b.png', 'image'] })
      .node(42, 'LoadAudio', { widgets: ['song.wav', null, ''] });
    builder.nodes.find((node) => node.id === 4)!.title = 'Base model';
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'image')!.label).toBe('Reference photo');
    expect(byId(parameters, '41.image')!.label).toBe('Image 2');
    expect(byId(parameters, 'audio')).toMatchObject({ kind: 'audio', label: 'Audio', constraints: { media: 'audio' } });
    expect(byId(parameters, '4.ckpt_name')!.label).toBe('Base model');
  });

  test("inputs a subgraph's author exposed become their own group, labelled as the instance shows them", () => {
    const SUB = '33333333-3333-4333-8333-333333333333';
    const definition = new GraphBuilder(objectInfo, { firstLinkId: 100 })
      .node(1, 'ImageScaleBy', { widgets: ['lanczos', 1.5] })
      .link([-10, 0], [1, 'image'])
      .link([-10, 1], [1, 'scale_by'])
      .link([1, 0], [-20, 0], 'IMAGE')
      .subgraph(SUB, 'Upscale', {
        inputs: [
          { name: 'image', type: 'IMAGE' },
          { name: 'scale_by', type: 'FLOAT', label: 'Zoom' },
        ],
        outputs: [{ name: 'IMAGE', type: 'IMAGE' }],
      });
    const builder = textToImage(objectInfo)
      .node(50, SUB, {
        title: 'Upscaler',
        inputs: [{ name: 'image', type: 'IMAGE' }],
        outputs: [{ name: 'IMAGE', type: 'IMAGE' }],
        widgets: [2],
      })
      .link([8, 0], [50, 'image']);
    const workflow = builder.workflow({ subgraphs: [definition] });
    (workflow.links as unknown[][]).find((link) => link[3] === 9)![1] = 50;
    expect(byId(detect(workflow), '50:1.scale_by')).toMatchObject({
      kind: 'number',
      group: 'exposed',
      label: 'Zoom',
      section: 'Upscaler',
      value: 2,
    });
  });

  test('an API prompt without a UI graph works too, with its _meta titles', () => {
    const parameters = detect({
      '1': {
        class_type: 'CheckpointLoaderSimple',
        inputs: { ckpt_name: 'x.safetensors' },
        _meta: { title: 'My model' },
      },
      '2': { class_type: 'CLIPTextEncode', inputs: { text: 'owl', clip: ['1', 1] } },
      '3': {
        class_type: 'KSampler',
        inputs: {
          seed: 5,
          steps: 10,
          cfg: 5,
          sampler_name: 'euler',
          scheduler: 'normal',
          denoise: 1,
          model: ['1', 0],
          positive: ['2', 0],
          negative: ['2', 0],
          latent_image: ['4', 0],
        },
      },
      '4': { class_type: 'EmptyLatentImage', inputs: { width: 640, height: 640, batch_size: 1 } },
    });
    expect(byId(parameters, 'prompt')!.value).toBe('owl');
    expect(byId(parameters, 'negative_prompt')).toBeUndefined();
    expect(byId(parameters, '1.ckpt_name')!.label).toBe('My model');
    expect(byId(parameters, 'width')!.value).toBe(640);
  });

  test('with no sampler to follow, prompt inputs are found by their names', () => {
    const info: ObjectInfo = {
      ...objectInfo,
      PartnerImage: {
        name: 'PartnerImage',
        input: {
          required: {
            prompt: ['STRING', { multiline: true }],
            negative_prompt: ['STRING', { multiline: true }],
            seed: ['INT', { min: 0, max: 2147483647, control_after_generate: true }],
          },
        },
        output: ['IMAGE'],
      },
    };
    const parameters = detect(
      new GraphBuilder(info).node(1, 'PartnerImage', { widgets: ['a kite', 'rain', 3, 'fixed'] }).workflow(),
      info,
    );
    expect(byId(parameters, 'prompt')!.value).toBe('a kite');
    expect(byId(parameters, 'negative_prompt')!.value).toBe('rain');
    expect(byId(parameters, 'seed')).toMatchObject({
      value: 3,
      seedControl: 'fixed',
      constraints: { max: 2147483647 },
    });
  });
});

describe('labels and the size group', () => {
  /** Two EmptyImage canvases blended, blurred and saved: no sampler, no latent. */
  function composer(): Record<string, unknown> {
    return new GraphBuilder(objectInfo)
      .node(1, 'EmptyImage', { title: 'Background', widgets: [640, 480, 1, 0xff8000] })
      .node(2, 'EmptyImage', { title: 'Overlay', widgets: [640, 480, 2, 0x0000ff] })
      .node(3, 'ImageBlend', { widgets: [0.5, 'normal'] })
      .node(4, 'ImageBlur', { widgets: [3, 1.5] })
      .node(5, 'ImageScale', { widgets: ['bilinear', 320, 240, 'disabled'] })
      .node(6, 'SaveImage', { widgets: ['poster'] })
      .link([1, 0], [3, 'image1'])
      .link([2, 0], [3, 'image2'])
      .link([3, 0], [4, 'image'])
      .link([4, 0], [5, 'image'])
      .link([5, 0], [6, 'images'])
      .workflow();
  }

  test('every node that makes an image from a size puts width, height, batch size and colour in the Size group under its title', () => {
    const parameters = detect(composer());
    const size = parameters.filter((parameter) => parameter.group === 'size');
    expect(size.map((parameter) => [parameter.id, parameter.kind, parameter.section, parameter.label])).toEqual([
      ['1.width', 'width', 'Background', 'Width (Background)'],
      ['1.height', 'height', 'Background', 'Height (Background)'],
      ['1.batch_size', 'batch_size', 'Background', 'Batch size (Background)'],
      ['1.color', 'integer', 'Background', 'Color (Background)'],
      ['2.width', 'width', 'Overlay', 'Width (Overlay)'],
      ['2.height', 'height', 'Overlay', 'Height (Overlay)'],
      ['2.batch_size', 'batch_size', 'Overlay', 'Batch size (Overlay)'],
      ['2.color', 'integer', 'Overlay', 'Color (Overlay)'],
    ]);
    expect(byId(parameters, '1.color')!.constraints).toMatchObject({ type: 'INT', display: 'color', max: 16777215 });
  });

  test('an image resize keeps its numbers in Advanced, and input names (and bare class names as headings) become words', () => {
    const advanced = detect(composer()).filter((parameter) => parameter.group === 'advanced');
    expect(advanced.map((parameter) => [parameter.id, parameter.label, parameter.section])).toEqual([
      ['5.width', 'Width (Upscale Image)', 'Upscale Image'],
      ['5.height', 'Height (Upscale Image)', 'Upscale Image'],
      ['3.blend_factor', 'Blend factor', 'Image Blend'],
      ['3.blend_mode', 'Blend mode', 'Image Blend'],
      ['4.blur_radius', 'Blur radius', 'Image Blur'],
      ['4.sigma', 'Sigma', 'Image Blur'],
      ['5.upscale_method', 'Upscale method', 'Upscale Image'],
      ['5.crop', 'Crop', 'Upscale Image'],
      ['6.filename_prefix', 'Filename prefix', 'Save Image'],
    ]);
  });

  test('the latent the sampler starts from keeps plain Width and Height; a second canvas is named by its title', () => {
    const builder = textToImage(objectInfo).node(30, 'EmptyImage', { title: 'Canvas', widgets: [256, 256, 1, 0] });
    const parameters = detect(builder.workflow());
    expect(byId(parameters, 'width')).toMatchObject({ label: 'Width', group: 'size', value: 512 });
    expect(byId(parameters, '30.width')).toMatchObject({ label: 'Width (Canvas)', group: 'size', section: 'Canvas' });
  });

  test('nodes that share a title get their own sections and labels, so no two fields are called the same', () => {
    const builder = textToImage(objectInfo)
      .node(30, 'SaveImage', { widgets: ['second'] })
      .link([8, 0], [30, 'images']);
    const parameters = detect(builder.workflow());
    const prefixes = parameters.filter((parameter) => parameter.targets[0]!.inputName === 'filename_prefix');
    expect(prefixes.map((parameter) => [parameter.section, parameter.label])).toEqual([
      ['Save Image #9', 'Filename prefix (Save Image #9)'],
      ['Save Image #30', 'Filename prefix (Save Image #30)'],
    ]);
    const labels = parameters.map((parameter) => parameter.label);
    expect(new Set(labels).size).toBe(labels.length);
  });
});

interface TemplateEntry {
  name: string;
  file: string;
  tags: string[];
  models: string[];
}

describe.skipIf(!CORPUS_DIR)('the corpus templates', () => {
  const templates = CORPUS_DIR
    ? (readJson(join(CORPUS_DIR, 'expected.json')) as { templates: TemplateEntry[] }).templates
    : [];
  const convertible = (entry: TemplateEntry) => {
    const conversion = convertWorkflow(readJson(join(CORPUS_DIR!, 'workflow_templates', entry.file)), {
      objectInfo,
      random: () => 0,
    });
    return conversion.missingNodeTypes.length === 0 ? detectParameters(conversion, objectInfo) : undefined;
  };

  /** Templates whose positive conditioning is deliberately zeroed out: their input images are the prompt. */
  const NO_TEXT_PROMPT = new Set(['sdxl_revision_zero_positive']);

  test('every SD1.5, SDXL and Flux text-to-image template gives prompt, seed, steps, width and height (SD1.5 and SDXL a negative prompt too), found through the samplers', () => {
    const families = ['SD1.5', 'SDXL', 'Flux'];
    const chosen = templates.filter(
      (entry) =>
        entry.tags.includes('Text to Image') &&
        !entry.tags.includes('API') &&
        entry.models.some((model) => families.includes(model)),
    );
    let checked = 0;
    for (const entry of chosen) {
      const parameters = convertible(entry);
      if (!parameters) continue;
      checked += 1;
      const ids = parameters.map((parameter) => parameter.id);
      expect(ids, entry.name).toEqual(expect.arrayContaining(['seed', 'steps', 'width', 'height']));
      if (!entry.models.includes('Flux')) expect(ids, entry.name).toContain('negative_prompt');
      if (NO_TEXT_PROMPT.has(entry.name)) expect(ids, entry.name).not.toContain('prompt');
      else expect(typeof byId(parameters, 'prompt')?.value, entry.name).toBe('string');
    }
    expect(checked).toBeGreaterThanOrEqual(13);
  });

  test('text-to-video templates give prompt, size and length; image-to-video and image-edit ones an input image', () => {
    let videos = 0;
    let images = 0;
    for (const entry of templates) {
      if (entry.tags.includes('API')) continue;
      const parameters = entry.tags.some((tag) => ['Text to Video', 'Image to Video', 'Image Edit'].includes(tag))
        ? convertible(entry)
        : undefined;
      if (!parameters) continue;
      const ids = parameters.map((parameter) => parameter.id);
      if (entry.tags.includes('Text to Video') && ids.includes('width')) {
        videos += 1;
        expect(ids, entry.name).toEqual(expect.arrayContaining(['prompt', 'width', 'height', 'length', 'seed']));
      }
      if (entry.tags.includes('Image to Video') || entry.tags.includes('Image Edit')) {
        images += 1;
        expect(ids, entry.name).toContain('image');
      }
    }
    expect(videos).toBeGreaterThanOrEqual(5);
    expect(images).toBeGreaterThanOrEqual(5);
  });

  test('across every convertible template, parameters are well formed: they fit the shared schema, current values fit their constraints, no input is claimed twice', () => {
    for (const entry of templates) {
      const parameters = convertible(entry);
      if (!parameters) continue;
      const targets = parameters.flatMap((parameter) => targetsOf(parameter)!);
      expect(new Set(targets).size, entry.name).toBe(targets.length);
      expect(Parameter.array().safeParse(parameters).success, entry.name).toBe(true);
      const labels = parameters.map((parameter) => parameter.label);
      expect(
        labels.filter((label, index) => labels.indexOf(label) !== index),
        entry.name,
      ).toEqual([]);
      for (const parameter of parameters) {
        const { value, constraints } = parameter;
        if (constraints.type === 'INT') expect(Number.isInteger(value), `${entry.name} ${parameter.id}`).toBe(true);
        if (constraints.type === 'STRING') expect(typeof value, `${entry.name} ${parameter.id}`).toBe('string');
        if (typeof value === 'number' && constraints.min !== undefined)
          expect(value, `${entry.name} ${parameter.id}`).toBeGreaterThanOrEqual(constraints.min);
      }
    }
  });
});
