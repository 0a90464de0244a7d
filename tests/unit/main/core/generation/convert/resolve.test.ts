import { describe, expect, test } from 'vitest';
import { bypassInputIndex, isTypeCompatible } from '../../../../../../src/main/core/generation/convert/resolve';

const node = (inputTypes: string[], outputTypes: string[]) => ({
  inputs: inputTypes.map((type, index) => ({ name: `in${index}`, type, link: null })),
  outputTypes,
});

describe('link type compatibility (LiteGraph rules)', () => {
  test('equal ignoring case, a wildcard or empty type, or overlapping unions connect; different types do not', () => {
    expect(isTypeCompatible('IMAGE', 'image')).toBe(true);
    expect(isTypeCompatible('*', 'MODEL')).toBe(true);
    expect(isTypeCompatible('', 'MODEL')).toBe(true);
    expect(isTypeCompatible('FLOAT,INT', 'INT')).toBe(true);
    expect(isTypeCompatible('IMAGE,MASK', 'LATENT,MASK')).toBe(true);
    expect(isTypeCompatible('IMAGE', 'MASK')).toBe(false);
    expect(isTypeCompatible('FLOAT,INT', 'STRING')).toBe(false);
  });
});

describe('which input a bypassed node passes through (current frontend)', () => {
  test('a wildcard target takes the same index when it exists, else the first input', () => {
    expect(bypassInputIndex(node(['MODEL', 'CLIP'], ['MODEL', 'CLIP']), 1, '*')).toBe(1);
    expect(bypassInputIndex(node(['MODEL'], ['MODEL', 'CLIP']), 1, '*')).toBe(0);
  });

  test('the same index wins when it fits both the output and the target', () => {
    expect(bypassInputIndex(node(['IMAGE', 'IMAGE'], ['IMAGE', 'IMAGE']), 1, 'IMAGE')).toBe(1);
  });

  test('otherwise the first input of exactly the target type, then the first one compatible with both', () => {
    expect(bypassInputIndex(node(['MASK', 'IMAGE'], ['IMAGE']), 0, 'IMAGE')).toBe(1);
    expect(bypassInputIndex(node(['MASK', 'IMAGE,LATENT'], ['IMAGE']), 0, 'IMAGE')).toBe(1);
  });

  test('no fitting input means nothing passes', () => {
    expect(bypassInputIndex(node([], ['IMAGE']), 0, 'IMAGE')).toBe(-1);
    expect(bypassInputIndex(node(['CLIP'], ['CONDITIONING']), 0, 'CONDITIONING')).toBe(-1);
  });
});
