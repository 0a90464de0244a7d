import { describe, expect, test } from 'vitest';
import { jsonBytesDepth, jsonTextDepth, measureJsonBytes, parsedJsonDepth } from '../../../src/shared/json-depth';

describe('JSON depth', () => {
  const samples = [
    '1',
    '"[{"',
    '[]',
    '{}',
    '[[], [[]], {"a": {"b": [1, {"c": "]]]"}]}}]',
    '{"a": "\\\\", "b": [["\\"["]]}',
    JSON.stringify({ nodes: [{ id: 1, pos: [0, 0], widgets_values: ['x', [1, [2]]] }], extra: {} }),
  ];

  test.each(samples)('a parsed value is as deep as its text: %s', (text) => {
    expect(parsedJsonDepth(JSON.parse(text))).toBe(jsonTextDepth(text));
  });

  test.each([
    ['["é", {"ключ": ["😀", "\\u005b"]}]', 3],
    ['{"a": "\\\\"}]]', 1],
    ['[["unterminated', 2],
    ['{"x": "[[[", "y": [[["é]"]]]}', 4],
    ['"\\"[[', 0],
  ])('brackets inside strings, escaped or after multi-byte characters, are not nesting: %s', (text, depth) => {
    expect(jsonTextDepth(text)).toBe(depth);
    expect(jsonBytesDepth(Buffer.from(text, 'utf8'))).toBe(depth);
  });

  test('a value nested past the limit stops the walk just past it, so no depth can overflow the stack', () => {
    const depth = 200_000;
    const value = JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown;
    expect(parsedJsonDepth(value)).toBe(513);
    expect(parsedJsonDepth(value, 10)).toBe(11);
    expect(jsonBytesDepth(Buffer.from('['.repeat(depth), 'utf8'))).toBe(513);
  });

  test.each([
    ['{"a": [1, "b"]}', true],
    ['{"a": "é"}', false],
    ['{"a": "\\u00e9"}', true],
    ['[1] é', false],
    ['"\\', true],
  ])('the same pass tells whether every byte is ASCII, inside strings and out: %s', (text, isAscii) => {
    expect(measureJsonBytes(Buffer.from(text, 'utf8'))).toEqual({ depth: jsonTextDepth(text), isAscii });
  });

  test('a byte escaped by a backslash counts too', () => {
    expect(measureJsonBytes(Buffer.from('["\\é"]', 'utf8')).isAscii).toBe(false);
  });
});
