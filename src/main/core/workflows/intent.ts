import type { IntentMatch, WorkflowStatus, WorkflowType } from '@shared/domain/workflow';
import type { LibraryIndex } from './library-index';

/** One thing a person may want to make, and the phrasings that mean it. */
export interface IntentRule {
  id: string;
  /** Shown back to the user ("Image to video"). */
  label: string;
  type: WorkflowType;
  /** Completes "Showing N workflows that …" and "No workflow in your library … yet". */
  phrase: string;
  patterns: RegExp[];
}

// Word classes shared by the patterns. Each is a non-capturing group of whole words.
const IMAGE = String.raw`(?:images?|pictures?|photos?|photographs?|pics?|stills?|portraits?|selfies?|drawings?|paintings?|illustrations?|artworks?|wallpapers?|posters?|logos?|icons?|renders?|img)`;
const VIDEO = String.raw`(?:videos?|clips?|animations?|movies?|films?|footage|gifs?|reels?|shorts?)`;
const AUDIO = String.raw`(?:audio|music|songs?|sounds?|voices?|speech|melod(?:y|ies)|beats?|soundtracks?|instrumentals?|podcasts?|sfx|jingles?)`;
const DETERMINER = String.raw`(?:this|my|an?|the|our|that|some)`;
const EDIT_VERB = String.raw`(?:edit|change|transform|restyle|stylize|stylise|turn|convert|modify|retouch|fix|recolou?r|redo)`;

const re = (source: string) => new RegExp(source, 'i');

/**
 * The pattern table, tried in order: the first rule with a matching pattern wins, so specific
 * intents (upscale, image to video) come before broad ones (a bare "image"). To teach the bar a new
 * phrasing, add a pattern to the right rule; to add a kind of workflow, add a rule.
 */
export const INTENT_RULES: readonly IntentRule[] = [
  {
    id: 'upscale',
    label: 'Upscale',
    type: 'upscale',
    phrase: 'upscale an image',
    patterns: [
      re(
        String.raw`\b(upscal\w*|upsiz\w*|enlarg\w*|super[- ]?res\w*|hi(gh(er)?)?[- ]?res(olution)?|increase (the )?resolution|sharpen\w*|more detail|[248]x (bigger|larger))\b`,
      ),
    ],
  },
  {
    id: 'inpaint',
    label: 'Repaint part of an image',
    type: 'inpaint',
    phrase: 'repaint part of an image',
    patterns: [
      re(
        String.raw`\b(inpaint\w*|outpaint\w*|erase|fill in|masked?|remove (the |a |an )?[\w-]+( [\w-]+)? (from|in|out of)\b|replace (the|a) [\w-]+ in|extend (the|this|my) (${IMAGE}|canvas))`,
      ),
    ],
  },
  {
    id: 'i2v',
    label: 'Image to video',
    type: 'i2v',
    phrase: 'make a video from an image',
    patterns: [
      re(String.raw`\b(i2v|img2vid|image2video|image[- ]to[- ]video)\b`),
      re(String.raw`\b${IMAGE}\b.*\b(to|into|->|→)\b.*\b${VIDEO}\b`),
      re(String.raw`\b${VIDEO}\b.*\b(from|of|using|based on|out of)\b.*\b${IMAGE}\b`),
      re(String.raw`\b(animate|bring) ${DETERMINER}? ?${IMAGE}\b`),
      re(String.raw`\bbring\b.*\bto life\b`),
    ],
  },
  {
    id: 'v2v',
    label: 'Video to video',
    type: 'v2v',
    phrase: 'change a video',
    patterns: [
      re(String.raw`\b(v2v|vid2vid|video[- ]to[- ]video)\b`),
      re(String.raw`\b${EDIT_VERB} ${DETERMINER} ${VIDEO}\b`),
      re(String.raw`\b${VIDEO}\b.*\b(into|to)\b.*\b${VIDEO}\b`),
    ],
  },
  {
    id: 't2v',
    label: 'Video from text',
    type: 't2v',
    phrase: 'make a video from text',
    patterns: [re(String.raw`\b(t2v|txt2vid|text[- ]to[- ]video)\b`), re(String.raw`\b${VIDEO}\b`)],
  },
  {
    id: 'audio',
    label: 'Generate audio',
    type: 'audio',
    phrase: 'make audio',
    patterns: [re(String.raw`\b(t2a|text[- ]to[- ](audio|speech|music))\b`), re(String.raw`\b${AUDIO}\b`)],
  },
  {
    id: '3d',
    label: '3D model',
    type: '3d',
    phrase: 'make a 3D model',
    patterns: [re(String.raw`\b(3d|three[- ]d|meshe?s?|glb)\b`)],
  },
  {
    id: 'i2i',
    label: 'Edit an image',
    type: 'i2i',
    phrase: 'change an image',
    patterns: [
      re(String.raw`\b(i2i|img2img|image[- ]to[- ]image)\b`),
      re(String.raw`\b${EDIT_VERB} ${DETERMINER} ${IMAGE}\b`),
      re(String.raw`\b(this|my|the|that|our) ${IMAGE}\b.*\b(into|look like|in the style of|as an?)\b`),
    ],
  },
  {
    id: 'text',
    label: 'Text answer',
    type: 'text',
    phrase: 'answer with text',
    patterns: [
      re(String.raw`\b(chat|caption|ask (a|an) (llm|ai)|write (a |an |some )?(text|story|poem|description))\b`),
    ],
  },
  {
    id: 't2i',
    label: 'Image from text',
    type: 't2i',
    phrase: 'make an image from text',
    patterns: [
      re(String.raw`\b(t2i|txt2img|text[- ]to[- ]image)\b`),
      re(String.raw`\b${IMAGE}\b`),
      re(String.raw`\b(draw|paint|illustrate|sketch)\b`),
    ],
  },
];

/** The first rule that understands the text, or undefined. */
export function recognizeIntent(text: string, rules: readonly IntentRule[] = INTENT_RULES): IntentRule | undefined {
  const cleaned = text.replace(/\s+/g, ' ').trim();
  if (cleaned === '') return undefined;
  return rules.find((rule) => rule.patterns.some((pattern) => pattern.test(cleaned)));
}

/** Words that ask rather than describe: a text made only of these is not a prompt. */
const NOT_A_SUBJECT = new Set(
  [
    'what how why which where when who help show anything something stuff thing things it its is are be was',
    'yes no ok okay hi hello hey thanks thank you your can could would should will do does did',
  ]
    .join(' ')
    .split(' '),
);

/** Words that name the kind of thing to make rather than what is in it. */
const KIND_WORD = re(
  String.raw`^(?:${IMAGE}|${VIDEO}|t2i|t2v|txt2img|txt2vid|text2image|text2video|draw|paint|sketch|illustrate)$`,
);

/** "I want to make", "please generate me"…: the request around a description, not part of it. */
const REQUEST = re(
  String.raw`^(?:(?:i(?:'d| would)? (?:want|like|need)(?: to)?|please|can you|could you|let's|lets)\s+)*(?:(?:make|create|generate|produce|render|get|give|show)(?: me| us)?\s+)?`,
);
/** A generic picture or clip "of" something: the something is the prompt ("an image of a fox" → "a fox"). */
const GENERIC_MEDIA_OF = re(
  String.raw`^(?:an?|the|some|one)?\s*(?:images?|pictures?|pics?|videos?|clips?|animations?)\s+(?:of|showing|with|about|where)\s+`,
);
/** "draw a fox", "paint the sea": the verb asks, the rest describes. */
const DRAWING_VERB = re(String.raw`^(?:draw|paint|sketch|illustrate|animate|film)\s+(?:me\s+)?`);

/**
 * The prompt a text carries for a workflow of `type`: for "from text" workflows, what is left after
 * the request ("make me", "an image of"), when that still describes something; null otherwise
 * ("a video from text" asks for a kind of workflow and describes nothing).
 */
export function promptFromIntent(text: string, type: WorkflowType | undefined): string | null {
  if (type !== undefined && type !== 't2i' && type !== 't2v') return null;
  const cleaned = text.replace(/\s+/g, ' ').trim();
  const request = cleaned.replace(REQUEST, '');
  const subject = request.replace(GENERIC_MEDIA_OF, '').replace(DRAWING_VERB, '').trim();
  // Only something said beyond the kind of thing to make is a prompt ("a video from text" is not).
  const words = subject
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length >= 3 && !FILLER.has(word) && !NOT_A_SUBJECT.has(word) && !KIND_WORD.test(word));
  return words.length > 0 ? subject : null;
}

/** Words that say nothing about which workflow fits best. */
const FILLER = new Set(
  [
    'a an the this that my our some i me we you want wanna would like to into from of with and or for in on',
    'make makes making turn create generate get do please can could short long quick new',
    // The words that chose the type; "clip" would otherwise favour every workflow with a CLIP loader.
    'image images photo photos picture pictures video videos clip clips animation text',
  ]
    .join(' ')
    .split(' '),
);

const STATUS_RANK: Record<WorkflowStatus, number> = {
  ready: 0,
  update: 1,
  missing: 2,
  not_connected: 3,
  unknown_nodes: 4,
  invalid: 5,
};

/**
 * Matches text to a workflow type, then to the library's workflows of that type: the ones whose
 * name, description or models share words with the text first, then the ones that can run now.
 */
export function matchIntent(
  text: string,
  index: LibraryIndex,
  rules: readonly IntentRule[] = INTENT_RULES,
): IntentMatch {
  const recognized = recognizeIntent(text, rules);
  const prompt = promptFromIntent(text, recognized?.type);
  // Text that names no kind of workflow but describes something is a prompt: make an image of it.
  const rule = recognized ?? (prompt === null ? undefined : rules.find((candidate) => candidate.type === 't2i'));
  if (!rule) {
    return {
      text,
      intent: null,
      ids: [],
      prompt: null,
      message:
        text.trim() === ''
          ? 'Say what you want to make, or pick one of the suggestions.'
          : `ComfyDesk could not tell what you want to make from “${text.trim()}”. Try words like “video from text”, “image to video” or “upscale”, pick a suggestion, or browse the whole library.`,
    };
  }
  const relevance = new Map<string, number>();
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}.]+/u)
    .filter((word) => word.length > 1 && !FILLER.has(word));
  for (const word of new Set(words)) {
    for (const [id, score] of index.relevance(word) ?? []) relevance.set(id, (relevance.get(id) ?? 0) + score);
  }
  const fitting = [...index.records()].filter((record) => record.error === null && record.type === rule.type);
  fitting.sort(
    (a, b) =>
      (relevance.get(b.id) ?? 0) - (relevance.get(a.id) ?? 0) ||
      STATUS_RANK[index.compat(a.id)!.status] - STATUS_RANK[index.compat(b.id)!.status] ||
      a.name.localeCompare(b.name),
  );
  const count = fitting.length;
  const carried = prompt === null ? '' : ` “${prompt}” goes in as the prompt.`;
  return {
    text,
    intent: { id: rule.id, label: rule.label, type: rule.type },
    ids: fitting.map((record) => record.id),
    prompt,
    message:
      count === 0
        ? `No workflow in your library can ${rule.phrase} yet. Add a folder of ComfyUI workflows in Settings, or browse the whole library.`
        : `${count} workflow${count === 1 ? '' : 's'} can ${rule.phrase}.${carried}`,
  };
}
