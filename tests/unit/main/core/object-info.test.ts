import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { RECORDED_OBJECT_INFO as RECORDED } from '../../../support/paths';
import {
  comboOptions,
  inputOptions,
  inputType,
  orderedInputs,
  parseObjectInfo,
} from '../../../../src/main/core/comfy/object-info';

describe('object_info', () => {
  test('the recorded server parses whole: 376 node classes, none rejected', () => {
    const { objectInfo, problems } = parseObjectInfo(JSON.parse(readFileSync(RECORDED, 'utf8')));
    expect(problems).toEqual([]);
    expect(Object.keys(objectInfo)).toHaveLength(376);
    const ksampler = objectInfo.KSampler!;
    expect(orderedInputs(ksampler, 'required').map(([name]) => name)).toEqual([
      'model',
      'seed',
      'steps',
      'cfg',
      'sampler_name',
      'scheduler',
      'positive',
      'negative',
      'latent_image',
      'denoise',
    ]);
    const sampler = ksampler.input.required?.sampler_name;
    expect(inputType(sampler)).toBe('COMBO');
    expect(comboOptions(sampler)).toContain('euler');
    expect(inputOptions(ksampler.input.required?.seed)).toMatchObject({ control_after_generate: true });
  });

  test('V3 combos give their options too', () => {
    expect(comboOptions(['COMBO', { options: ['mp4', 'webm'] }])).toEqual(['mp4', 'webm']);
    expect(comboOptions([[]])).toEqual([]);
    expect(comboOptions(['INT', {}])).toBeUndefined();
  });

  test('one broken node definition is reported and the rest still parse', () => {
    const { objectInfo, problems } = parseObjectInfo({
      Good: { name: 'Good', input: {}, output: [] },
      Bad: { input: 7 },
    });
    expect(Object.keys(objectInfo)).toEqual(['Good']);
    expect(problems.map((problem) => problem.classType)).toEqual(['Bad']);
  });
});
