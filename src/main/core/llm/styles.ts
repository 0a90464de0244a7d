import type { EnhanceStyle } from '@shared/domain/llm';
import { countWords } from './output';

/** The messages for one enhancement and the limits its answer must respect. */
export interface EnhancePromptPlan {
  system: string;
  user: string;
  /** The answer is cut to this many words. */
  maxWords: number;
  /** Generation stops here; generous enough that the word limit, not this, ends a good answer. */
  maxTokens: number;
}

const RULES = [
  'Keep the subject: every person, animal, object, place, colour and number the prompt names must appear in your answer, in the same words.',
  'Never change what the picture is of, and never add text, logos or people the prompt does not ask for.',
  'Answer with the prompt itself only: no introduction such as "Here is", no explanation, no quotation marks, no markdown, no list, one line.',
];

const GUIDES: Record<Exclude<EnhanceStyle, 'minimal'>, string> = {
  detailed:
    'Make it richer and more precise for an image model: describe the subject\u2019s look and materials, the setting, the lighting (soft window light, golden hour, studio light), the composition and framing, and add quality terms such as "highly detailed", "sharp focus", "intricate textures".',
  cinematic:
    'Turn it into a film still: add the shot and camera angle (wide establishing shot, low-angle close-up), the lens and depth of field (35mm, anamorphic, shallow focus), the lighting and colour grade (rim light, teal and orange, volumetric haze) and the mood of the scene.',
  artistic:
    'Turn it into a work of art: choose a fitting medium or art style (oil painting, watercolour, ukiyo-e woodblock, art nouveau poster), name the technique (impasto brushwork, cross-hatching, soft washes) and, where it suits, an art movement or a historical master as a reference.',
};

/** Word limits per style; long enough for a rich prompt, short enough for CLIP-based models to use it all. */
const MAX_WORDS: Record<Exclude<EnhanceStyle, 'minimal'>, number> = { detailed: 70, cinematic: 70, artistic: 70 };

/** Minimal only fixes the wording, so its answer may be a little longer than the prompt, never much. */
function minimalLimit(prompt: string): number {
  return Math.min(120, Math.max(12, Math.ceil(countWords(prompt) * 1.3) + 4));
}

/** Builds the system prompt, the user message and the limits for enhancing `prompt` in `style`. */
export function planEnhancement(prompt: string, style: EnhanceStyle): EnhancePromptPlan {
  const maxWords = style === 'minimal' ? minimalLimit(prompt) : MAX_WORDS[style];
  const task =
    style === 'minimal'
      ? 'You correct prompts for an AI image generator. Fix spelling, grammar and word order so the prompt reads clearly. Do not add details, styles or adjectives, and do not remove any.'
      : `You improve prompts for an AI image generator. ${GUIDES[style]}`;
  const system = [task, ...RULES, `Use at most ${maxWords} words.`].join('\n');
  return { system, user: prompt.trim(), maxWords, maxTokens: Math.ceil(maxWords * 2) + 24 };
}
