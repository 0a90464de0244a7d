import { describe, expect, test } from 'vitest';
import { checkSubject, cleanEnhancedPrompt, countWords, subjectWords } from '../../../../../src/main/core/llm/output';
import { planEnhancement } from '../../../../../src/main/core/llm/styles';

const clean = (raw: string, maxWords = 70) => cleanEnhancedPrompt(raw, { maxWords });

describe('cleaning a model answer down to the prompt', () => {
  test('a chatty answer loses its greeting, preamble, quotes and closing note', () => {
    const raw =
      'Sure! Here is your enhanced prompt:\n\n"A majestic red fox in fresh snow, golden hour light, sharp focus"\n\nThis prompt adds lighting and detail to your idea.';
    expect(clean(raw)).toEqual({
      text: 'A majestic red fox in fresh snow, golden hour light, sharp focus',
      isTruncated: false,
    });
  });

  test('an introduction on the same line as the prompt is removed', () => {
    expect(clean("Here's a cinematic version: low-angle wide shot of a red fox, anamorphic lens").text).toBe(
      'low-angle wide shot of a red fox, anamorphic lens',
    );
    expect(clean('Enhanced prompt: a red fox in snow').text).toBe('a red fox in snow');
    expect(clean('Certainly! A red fox in snow, soft light.').text).toBe('A red fox in snow, soft light.');
  });

  test('markdown headings, bold labels and curly quotes are stripped', () => {
    expect(clean('**Enhanced Prompt:**\n“A red fox, *oil painting*, impasto brushwork”').text).toBe(
      'A red fox, oil painting, impasto brushwork',
    );
    expect(clean('### Prompt\n`a red fox in snow`').text).toBe('a red fox in snow');
  });

  test('a thinking block and code fences are not part of the prompt', () => {
    expect(clean('<think>The user wants a fox.</think>\nA red fox in the snow').text).toBe('A red fox in the snow');
    expect(clean('```\na red fox in the snow\n```').text).toBe('a red fox in the snow');
    expect(clean('<think>still thinking about the fox').text).toBe('');
  });

  test('broken characters and control codes are dropped', () => {
    expect(clean('a red fox\uFFFD in the\u0007 snow\u200B').text).toBe('a red fox in the snow');
  });

  test('of several alternatives only the first is kept', () => {
    expect(clean('1. A red fox in snow at dawn\n2. A red fox in snow at dusk').text).toBe('A red fox in snow at dawn');
    expect(clean('- A red fox in snow\n- A grey wolf in snow').text).toBe('A red fox in snow');
  });

  test('a prompt over several lines is joined, and a note line ends it', () => {
    expect(clean('A red fox in fresh snow,\ngolden hour light, shallow focus\nNote: I added lighting.').text).toBe(
      'A red fox in fresh snow, golden hour light, shallow focus',
    );
  });

  test('an answer over the word limit is cut at a word, without a dangling connector or comma', () => {
    const raw = 'red fox, fresh snow, golden light, and a quiet forest behind it';
    expect(clean(raw, 7)).toEqual({ text: 'red fox, fresh snow, golden light', isTruncated: true });
    const long = Array.from({ length: 120 }, (_, index) => `word${index}`).join(' ');
    const cut = clean(long, 70);
    expect(cut.isTruncated).toBe(true);
    expect(countWords(cut.text)).toBe(70);
  });

  test('the style plans keep their answers within their word limits', () => {
    expect(planEnhancement('a red fox', 'detailed').maxWords).toBe(70);
    const minimal = planEnhancement('a red fox in the snow', 'minimal');
    expect(minimal.maxWords).toBeGreaterThanOrEqual(12);
    expect(minimal.system).toContain(`at most ${minimal.maxWords} words`);
    expect(planEnhancement('x', 'cinematic').system).toMatch(/camera angle/);
    expect(planEnhancement('x', 'artistic').system).toMatch(/art style/);
  });
});

describe('checking the subject survived', () => {
  test('subject words are the content words, without stopwords or repeats', () => {
    expect(subjectWords('A photo of a red fox and a red barn in the snow')).toEqual(['red', 'fox', 'barn', 'snow']);
    expect(subjectWords('3 cats')).toEqual(['3', 'cats']);
  });

  test('a richer prompt that keeps every subject word passes, plural and verb forms included', () => {
    expect(
      checkSubject('a red fox running in the snow', 'Two majestic red foxes run through fresh snow, golden light'),
    ).toEqual({ isKept: true, missing: [] });
  });

  test('a prompt that swapped the subject fails and names what was lost', () => {
    expect(checkSubject('a red fox in the snow', 'a grey wolf in the snow at dusk')).toEqual({
      isKept: false,
      missing: ['red', 'fox'],
    });
  });

  test('fixed typos count as kept, but a different short word does not', () => {
    expect(checkSubject('a dragn flying over a castel', 'A dragon flying over a castle').isKept).toBe(true);
    expect(checkSubject('a cat on a sofa', 'a car on a sofa')).toEqual({ isKept: false, missing: ['cat'] });
  });

  test('longer prompts may lose one subject word in six to rephrasing, short ones none', () => {
    const original =
      'an old lighthouse keeper with a grey beard reading a leather book beside a brass lantern at night';
    expect(subjectWords(original)).toHaveLength(11);
    expect(
      checkSubject(original, 'an old lighthouse keeper, grey beard, reading a leather book by a brass lamp, night')
        .isKept,
    ).toBe(true);
    expect(checkSubject(original, 'a sailor reading by a lamp').isKept).toBe(false);
    expect(checkSubject('red fox', 'a fox').isKept).toBe(false);
  });

  test('an empty answer keeps nothing', () => {
    expect(checkSubject('a red fox', '')).toEqual({ isKept: false, missing: ['red', 'fox'] });
  });
});
