import { describe, expect, test } from 'vitest';
import {
  applyTextReplacements,
  formatDate,
  nextControlledValue,
  RANDOM_SEED_MAX,
  resolveDynamicPrompt,
  type ReplacementNode,
} from '../../../../../../src/main/core/generation/convert/transforms';
import { sequence } from '../../../../../support/sequence';

describe('dynamic prompts', () => {
  test('each {a|b} group picks one option; nested groups resolve inside the chosen option', () => {
    expect(resolveDynamicPrompt('{a|{b|c}} and {x|y}', sequence(0.9, 0.1, 0.6))).toBe('b and y');
    expect(resolveDynamicPrompt('{a|{b|c}}', sequence(0.9, 0.9))).toBe('c');
  });

  test('an empty option is a valid choice and text without groups is unchanged', () => {
    expect(resolveDynamicPrompt('cat{|, sitting}', sequence(0))).toBe('cat');
    expect(resolveDynamicPrompt('plain text', sequence(0.5))).toBe('plain text');
  });

  test('comments are stripped, including what follows // in a URL, and escapes stay literal', () => {
    expect(resolveDynamicPrompt('see http://example.com\nnext /* x */line', sequence(0))).toBe('see http:\nnext line');
    expect(resolveDynamicPrompt('\\{not a group\\|really\\}', sequence(0))).toBe('{not a group|really}');
  });
});

describe('file name prefixes', () => {
  const date = new Date(2024, 0, 5, 7, 3, 9);
  const nodes: ReplacementNode[] = [
    { title: 'Sampler', widget: (name) => (name === 'seed' ? 11 : undefined) },
    { searchName: 'Sampler', title: 'Other', widget: (name) => (name === 'seed' ? 22 : undefined) },
    { title: 'Loader', widget: (name) => (name === 'ckpt_name' ? 'sd/xl:base?.safetensors' : undefined) },
  ];

  test('date tokens: doubled ones are zero-padded, hh is 24-hour', () => {
    expect(formatDate('yyyy-MM-dd hh:mm:ss', date)).toBe('2024-01-05 07:03:09');
    expect(formatDate('yy M d h m s', date)).toBe('24 1 5 7 3 9');
  });

  test('%Node.widget% looks up the S&R name before the title and makes the value safe for a file name', () => {
    expect(applyTextReplacements('%Sampler.seed%', nodes, date)).toBe('22');
    expect(applyTextReplacements('%Loader.ckpt_name%', nodes, date)).toBe('sd_xl_base_.safetensors');
  });

  test('unknown nodes, unknown widgets and server-side tokens stay as written', () => {
    expect(applyTextReplacements('%Nobody.seed%/%Sampler.steps%/%width%x%height%/%date:yyyy%', nodes, date)).toBe(
      '%Nobody.seed%/%Sampler.steps%/%width%x%height%/2024',
    );
  });
});

describe('control after generate', () => {
  test('fixed keeps the value; increment and decrement move by the step within bounds', () => {
    expect(nextControlledValue(5, 'fixed', {}, sequence(0.5))).toBe(5);
    expect(nextControlledValue(5, 'increment', { max: 10 }, sequence(0.5))).toBe(6);
    expect(nextControlledValue(10, 'increment', { max: 10 }, sequence(0.5))).toBe(10);
    expect(nextControlledValue(10, 'increment-wrap', { min: 2, max: 10 }, sequence(0.5))).toBe(2);
    expect(nextControlledValue(0, 'decrement', { min: 0 }, sequence(0.5))).toBe(0);
    expect(nextControlledValue(8, 'decrement', { min: 0, step: 4 }, sequence(0.5))).toBe(4);
  });

  test('randomize draws from [min, min(max, 2^50)] with the injected randomness', () => {
    expect(nextControlledValue(5, 'randomize', { min: 0, max: 2 ** 64 }, sequence(0))).toBe(0);
    expect(nextControlledValue(5, 'randomize', { min: 0, max: 2 ** 64 }, sequence(0.999999999))).toBeLessThanOrEqual(
      RANDOM_SEED_MAX,
    );
    expect(nextControlledValue(5, 'randomize', { min: 10, max: 12 }, sequence(0.5))).toBe(11);
  });
});
