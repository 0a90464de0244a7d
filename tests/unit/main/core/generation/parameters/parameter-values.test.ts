import { describe, expect, test } from 'vitest';
import type { Parameter } from '@shared/domain/generation';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { detectParameters } from '../../../../../../src/main/core/generation/parameters/detect-parameters';
import {
  applyParameterValues,
  assertValidParameterValues,
  planRuns,
  validateParameterValues,
} from '../../../../../../src/main/core/generation/parameters/parameter-values';
import { writeValuesToWorkflow } from '../../../../../../src/main/core/generation/parameters/write-back';
import { recordedObjectInfo } from '../../../../../support/corpus';
import { GraphBuilder, textToImage } from '../../../../../support/workflow-builder';
import { sequence } from '../../../../../support/sequence';

const objectInfo = recordedObjectInfo();

function setup(builder = textToImage(objectInfo)) {
  const workflow = builder.workflow();
  const conversion = convertWorkflow(workflow, { objectInfo, random: () => 0 });
  return { workflow, conversion, parameters: detectParameters(conversion, objectInfo) };
}

describe('validating chosen values', () => {
  const { parameters } = setup();

  test('values that fit pass', () => {
    expect(
      validateParameterValues(parameters, {
        prompt: 'a dog',
        steps: 30,
        cfg: 6.5,
        sampler: 'dpmpp_2m',
        width: 1024,
        seed: 0,
      }),
    ).toEqual([]);
  });

  test('each problem names the field and what it accepts', () => {
    const issues = validateParameterValues(parameters, {
      steps: 0,
      cfg: 101,
      width: 512.5,
      prompt: 7,
      sampler: 'fastest',
      nope: 1,
    });
    expect(issues).toEqual([
      { parameterId: 'steps', code: 'below_min', message: '"Steps" must be at least 1 (got 0).' },
      { parameterId: 'cfg', code: 'above_max', message: '"CFG" must be at most 100 (got 101).' },
      { parameterId: 'width', code: 'wrong_type', message: '"Width" must be a whole number (got 512.5).' },
      { parameterId: 'prompt', code: 'wrong_type', message: '"Prompt" must be text (got 7).' },
      {
        parameterId: 'sampler',
        code: 'not_an_option',
        message: expect.stringMatching(
          /^"Sampler" must be one of "euler", "euler_cfg_pp", .* \(and \d+ more\) \(got "fastest"\)\.$/,
        ),
      },
      { parameterId: 'nope', code: 'unknown_parameter', message: 'This workflow has no parameter "nope".' },
    ]);
  });

  test('an input file may be any file name, since loaders check files themselves; an empty model folder says so', () => {
    const { parameters: withImage } = setup(
      textToImage(objectInfo).node(40, 'LoadImage', { widgets: ['a.png', 'image'] }),
    );
    expect(validateParameterValues(withImage, { image: 'uploads/new photo.png' })).toEqual([]);
    expect(validateParameterValues(withImage, { image: '' })).toMatchObject([{ code: 'wrong_type' }]);
    // The recorded server has no checkpoints at all.
    expect(validateParameterValues(withImage, { '4.ckpt_name': 'sd15.safetensors' })).toEqual([
      {
        parameterId: '4.ckpt_name',
        code: 'no_options',
        message:
          '"Checkpoint" has no choices on this server (its checkpoints folder is empty); add the file there and refresh.',
      },
    ]);
  });

  test('assertValidParameterValues throws parameter_invalid with every message and keeps the issues as details', () => {
    expect(() => assertValidParameterValues(parameters, { steps: 0 })).toThrow(
      expect.objectContaining({
        code: 'parameter_invalid',
        details: { issues: [expect.objectContaining({ parameterId: 'steps' })] },
      }),
    );
    expect(() => assertValidParameterValues(parameters, { steps: 0 })).toThrow(
      '"Steps" must be at least 1 (got 0). Correct it and try again; nothing was sent.',
    );
  });
});

describe('injecting values', () => {
  test('values go to every target by node id and input name; the original prompt is untouched', () => {
    const builder = textToImage(objectInfo)
      .node(12, 'CLIPTextEncodeSDXL', { widgets: [1024, 1024, 0, 0, 1024, 1024, 'same', 'same'] })
      .link([4, 1], [12, 'clip']);
    const workflow = builder.workflow();
    (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 1)![1] = 12;
    const conversion = convertWorkflow(workflow, { objectInfo });
    const parameters = detectParameters(conversion, objectInfo);
    const { prompt, assignments } = applyParameterValues(conversion.prompt, parameters, {
      prompt: 'a heron',
      steps: 8,
    });
    expect(prompt['12']!.inputs).toMatchObject({ text_g: 'a heron', text_l: 'a heron' });
    expect(prompt['3']!.inputs.steps).toBe(8);
    expect(conversion.prompt['3']!.inputs.steps).toBe(20);
    expect(assignments).toEqual([
      { nodeId: '12', inputName: 'text_g', value: 'a heron' },
      { nodeId: '12', inputName: 'text_l', value: 'a heron' },
      { nodeId: '3', inputName: 'steps', value: 8 },
    ]);
  });

  test('a target fed by a primitive node sets the primitive; one fed by another node gets the literal instead of the link', () => {
    const { conversion } = setup(
      textToImage(objectInfo)
        .node(30, 'PrimitiveInt', { widgets: [1, 'fixed'] })
        .link([30, 0], [3, 'seed']),
    );
    const manual: Parameter[] = [
      {
        id: 'seed',
        kind: 'seed',
        label: 'Seed',
        group: 'sampling',
        section: 'KSampler',
        targets: [{ nodeId: '3', inputName: 'seed' }],
        value: 1,
        constraints: { type: 'INT' },
      },
      {
        id: 'latent',
        kind: 'integer',
        label: 'x',
        group: 'advanced',
        section: 'x',
        targets: [{ nodeId: '3', inputName: 'latent_image' }],
        value: 0,
        constraints: { type: 'INT' },
      },
      {
        id: 'list',
        kind: 'choice',
        label: 'x',
        group: 'advanced',
        section: 'x',
        targets: [{ nodeId: '9', inputName: 'filename_prefix' }],
        value: 0,
        constraints: { type: 'COMBO' },
      },
    ];
    const { prompt, assignments } = applyParameterValues(conversion.prompt, manual, {
      seed: 77,
      latent: 3,
      list: ['a', 'b'],
    });
    expect(prompt['30']!.inputs.value).toBe(77);
    expect(prompt['3']!.inputs.seed).toEqual(['30', 0]);
    expect(prompt['3']!.inputs.latent_image).toBe(3);
    expect(prompt['9']!.inputs.filename_prefix).toEqual({ __value__: ['a', 'b'] });
    expect(assignments[0]).toEqual({ nodeId: '30', inputName: 'value', value: 77 });
  });
});

describe('batches', () => {
  const { conversion, parameters } = setup(
    textToImage(objectInfo)
      .node(14, 'KSampler', { widgets: [500, 'fixed', 12, 6, 'euler', 'normal', 0.5] })
      .link([4, 0], [14, 'model'])
      .link([6, 0], [14, 'positive'])
      .link([7, 0], [14, 'negative'])
      .link([3, 0], [14, 'latent_image']),
  );
  const seedsOf = (runs: ReturnType<typeof planRuns>) =>
    runs.map((run) => [run.prompt['3']!.inputs.seed, run.prompt['14']!.inputs.seed]);

  test('increment adds the run index to the seed; a fixed seed repeats', () => {
    const runs = planRuns({
      prompt: conversion.prompt,
      parameters,
      values: { seed: 10 },
      count: 3,
      seedControls: { seed: 'increment' },
    });
    expect(seedsOf(runs)).toEqual([
      [10, 500],
      [11, 500],
      [12, 500],
    ]);
    expect(runs.map((run) => run.values.seed)).toEqual([10, 11, 12]);
  });

  test('randomize draws a fresh seed for every run from the injected randomness; decrement counts down', () => {
    const runs = planRuns({
      prompt: conversion.prompt,
      parameters,
      values: {},
      count: 2,
      random: sequence(0, 0.5),
      seedControls: { '14.seed': 'decrement' },
    });
    expect(seedsOf(runs)).toEqual([
      [0, 500],
      [2 ** 49, 499],
    ]);
  });

  test('every run is validated first, and a batch needs at least one run', () => {
    expect(() => planRuns({ prompt: conversion.prompt, parameters, values: { steps: -1 }, count: 2 })).toThrow(
      expect.objectContaining({ code: 'parameter_invalid' }),
    );
    expect(() => planRuns({ prompt: conversion.prompt, parameters, values: {}, count: 0 })).toThrow(
      expect.objectContaining({ code: 'parameter_invalid' }),
    );
  });
});

describe('writing values back into the UI workflow', () => {
  test('widgets_values get the values that ran, also through a PrimitiveNode and inside subgraph definitions', () => {
    const SUB = '44444444-4444-4444-8444-444444444444';
    const definition = new GraphBuilder(objectInfo, { firstLinkId: 100 })
      .node(1, 'CLIPTextEncode', { widgets: ['inside'] })
      .link([-10, 0], [1, 'clip'])
      .link([1, 0], [-20, 0], 'CONDITIONING')
      .subgraph(SUB, 'Encode', {
        inputs: [{ name: 'clip', type: 'CLIP' }],
        outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
      });
    const builder = textToImage(objectInfo)
      .node(10, SUB, {
        inputs: [{ name: 'clip', type: 'CLIP' }],
        outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING' }],
      })
      .node(30, 'PrimitiveNode', { widgets: [5, 'fixed'] });
    builder.link([4, 1], [10, 'clip']).link([30, 0], [3, 'seed'], 'INT');
    const workflow = builder.workflow({ subgraphs: [definition] });
    (workflow.links as unknown[][]).find((link) => link[3] === 3 && link[4] === 1)![1] = 10;
    const conversion = convertWorkflow(workflow, { objectInfo });
    const parameters = detectParameters(conversion, objectInfo);
    const { assignments } = applyParameterValues(conversion.prompt, parameters, {
      prompt: 'a new text',
      seed: 123,
      steps: 9,
    });
    const written = writeValuesToWorkflow(workflow, conversion.nodeMap, assignments);
    const rootNode = (id: number) =>
      (written.nodes as Array<{ id: number; widgets_values: unknown[] }>).find((node) => node.id === id)!;
    expect(rootNode(3).widgets_values).toEqual([123, 'randomize', 9, 7.5, 'euler', 'normal', 1]);
    expect(rootNode(30).widgets_values).toEqual([123, 'fixed']);
    const inner = (
      written.definitions as { subgraphs: Array<{ nodes: Array<{ id: number; widgets_values: unknown[] }> }> }
    ).subgraphs[0]!.nodes[0]!;
    expect(inner.widgets_values).toEqual(['a new text']);
    // The original is left alone.
    expect(
      (workflow.nodes as Array<{ id: number; widgets_values: unknown[] }>).find((node) => node.id === 3)!
        .widgets_values[0],
    ).toBe(42);
  });

  test('a value that replaced a link has no widget and is skipped', () => {
    const { workflow, conversion } = setup();
    const written = writeValuesToWorkflow(workflow, conversion.nodeMap, [
      { nodeId: '3', inputName: 'model', value: 'x' },
    ]);
    expect(written).toEqual(workflow);
  });
});
