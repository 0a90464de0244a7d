import { withinEdits } from '../workflows/search-index';

/**
 * What comes back from a small model is rarely the bare prompt: "Sure! Here is your enhanced
 * prompt:", quotes, markdown, a note at the end, a `<think>` block. These functions reduce an
 * answer to the prompt alone, within a word limit, and check — not hope — that it still names the
 * user's subject.
 */

/** Words as a person counts them (runs of letters or digits, with inner apostrophes and hyphens). */
const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/** How many words `text` has. */
export function countWords(text: string): number {
  return text.match(WORD)?.length ?? 0;
}

const GREETING = String.raw`(?:sure|okay|ok|certainly|of course|absolutely|great|alright)`;

/** A whole line that only introduces the answer: "Sure!", "Here is the enhanced prompt:", "Prompt:". */
const PREAMBLE_LINE = new RegExp(
  [
    String.raw`^${GREETING}[!.,]*$`,
    String.raw`^(?:${GREETING}[!.,]*\s*)?(?:here(?:'s|’s| is| are)|below is|this is|i(?:'ve| have) (?:rewritten|enhanced|improved|refined))\b[^\n]*[:：]$`,
    String.raw`^(?:enhanced|improved|rewritten|refined|final|new|revised|corrected|cinematic|detailed|artistic|minimal)?\s*(?:image\s+)?prompt\s*[:：]?$`,
  ].join('|'),
  'i',
);

/** An introduction at the start of the answer's first line, before the prompt itself. */
const PREAMBLE_PREFIX = [
  /^(?:sure|okay|ok|certainly|of course|absolutely|great|alright)\s*[,!.:-]+\s*/i,
  /^(?:here(?:'s|’s| is| are)|below is)\b[^:\n]{0,100}[:：]\s*/i,
  /^(?:\*\*)?(?:enhanced|improved|rewritten|refined|final|new|revised|corrected|cinematic|detailed|artistic|minimal)?\s*(?:image\s+)?prompt(?:\*\*)?\s*[:：-]\s*(?:\*\*)?\s*/i,
];

/** A line that comments on the answer instead of being part of it. */
const COMMENTARY_LINE =
  /^(?:\(?\s*(?:note|notes|explanation|changes|word count|why|this prompt|this version|i (?:added|kept|changed|made|used)|i've|feel free|let me know|hope|the (?:enhanced|improved|rewritten) prompt)\b|\(\s*\d+\s+words?\s*\))/i;

const QUOTES = /^["'“”‘’«»`]+|["'“”‘’«»`]+$/g;

/** Trailing words that leave a cut sentence dangling. */
const DANGLING = new Set([
  'and',
  'or',
  'with',
  'of',
  'the',
  'a',
  'an',
  'in',
  'on',
  'at',
  'to',
  'for',
  'by',
  'from',
  'as',
  'into',
]);

/** An answer reduced to the prompt alone. */
export interface CleanedPrompt {
  text: string;
  /** True when the answer was longer than the word limit and was cut. */
  isTruncated: boolean;
}

/** Reduces a model's answer to the prompt alone: no preamble, no quotes, no markdown, no notes, at most `maxWords` words. */
export function cleanEnhancedPrompt(raw: string, options: { maxWords: number }): CleanedPrompt {
  let text = raw.replace(/\r\n?/g, '\n');
  // Reasoning models think aloud first; an unclosed block means the answer never started.
  text = text.replace(/<think>[\s\S]*?(?:<\/think>|$)/gi, '');
  text = text.replace(/^```[^\n]*$/gm, '');
  // Broken multi-byte sequences (U+FFFD) and control characters are never part of a prompt.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  text = text.replace(/[\uFFFD\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B]/g, '');

  const lines = text.split('\n').map((line) => line.trim());
  const kept: string[] = [];
  for (const line of lines) {
    if (line === '') {
      // The first paragraph is the prompt; whatever follows a blank line is commentary or an alternative.
      if (kept.length > 0) break;
      continue;
    }
    if (kept.length === 0 && PREAMBLE_LINE.test(stripMarkdown(line))) continue;
    if (COMMENTARY_LINE.test(stripMarkdown(line))) {
      if (kept.length > 0) break;
      continue;
    }
    // A numbered or bulleted list offers alternatives; the first one is the answer.
    const item = /^(?:\d+[.)]|[-*•])\s+/.exec(line);
    if (item && kept.length > 0) break;
    kept.push(item ? line.slice(item[0].length) : line);
  }

  let prompt = kept.join(' ');
  for (let pass = 0; pass < 3; pass += 1) {
    const before = prompt;
    prompt = stripMarkdown(prompt);
    for (const prefix of PREAMBLE_PREFIX) prompt = prompt.replace(prefix, '');
    prompt = prompt.trim().replace(QUOTES, '').trim();
    if (prompt === before) break;
  }
  prompt = prompt
    .replace(/\s+/g, ' ')
    .replace(/\s+([,.;:!?])/g, '$1')
    .trim();
  return limitWords(prompt, options.maxWords);
}

function stripMarkdown(text: string): string {
  return text
    .replace(/^#+\s*/, '')
    .replace(/\*\*([^*]*)\*\*/g, '$1')
    .replace(/__([^_]*)__/g, '$1')
    .replace(/(^|\s)\*([^*\s][^*]*)\*(?=\s|$|[,.;:!?])/g, '$1$2')
    .replace(/`([^`]*)`/g, '$1')
    .trim();
}

function limitWords(text: string, maxWords: number): CleanedPrompt {
  const matches = [...text.matchAll(WORD)];
  if (matches.length <= maxWords) return { text: trimEnd(text, false), isTruncated: false };
  const last = matches[maxWords - 1]!;
  let cut = text.slice(0, last.index + last[0].length);
  // Drop words that leave the cut phrase hanging ("… lit by soft light and").
  for (;;) {
    const tail = /(?:^|[\s,;:])([\p{L}\p{N}'’-]+)$/u.exec(cut);
    if (!tail || !DANGLING.has(tail[1]!.toLowerCase())) break;
    cut = cut.slice(0, cut.length - tail[1]!.length);
  }
  return { text: trimEnd(cut, true), isTruncated: true };
}

function trimEnd(text: string, isCut: boolean): string {
  const trimmed = text.replace(/[\s,;:–—-]+$/u, '');
  return isCut ? trimmed.replace(/[(["“‘]+$/u, '').trimEnd() : trimmed;
}

/** Words that never name a subject (articles, pronouns, prepositions, helpers, filler). */
const STOPWORDS = new Set(
  `a an the and or but nor so yet of in on at to for from by with without within into onto over under above below
  between among through across behind beside besides near around about against along toward towards upon off out up down
  as than then there here this that these those it its it's itself they them their theirs he him his she her hers we us our
  you your i me my mine is are was were be been being am do does did done has have had having can could should would will
  shall may might must not no very really quite just some any all each every both either neither such own same other
  another more most much many few less least only also too again ever even still while when where which who whom whose
  what why how if because until unless like please make makes made create show showing picture image photo photograph`
    .split(/\s+/)
    .filter(Boolean),
);

/** The words of a prompt that name its subject: every word that is not a stopword, lowercased, without duplicates. */
export function subjectWords(prompt: string): string[] {
  const words: string[] = [];
  for (const match of prompt.toLowerCase().matchAll(WORD)) {
    for (const part of match[0].split(/['’-]/)) {
      if (part.length < 3 && !/^\p{N}+$/u.test(part)) continue;
      if (STOPWORDS.has(part) || words.includes(part)) continue;
      words.push(part);
    }
  }
  return words;
}

/** Whether an enhanced prompt still names the original's subject. */
export interface SubjectCheck {
  isKept: boolean;
  /** Subject words of the original that the enhanced text lost. */
  missing: string[];
}

/**
 * Checks that `enhanced` still names what `original` is about. A word counts as kept when the
 * enhanced text has it, another form of it (fox/foxes, run/running), or — for longer words — a
 * spelling one or two letters away (Minimal fixes typos: "dragn" → "dragon"). Every subject word
 * must survive in prompts of up to five of them; longer prompts may lose one in six to rephrasing.
 */
export function checkSubject(original: string, enhanced: string): SubjectCheck {
  const required = subjectWords(original);
  const present = new Set<string>();
  for (const match of enhanced.toLowerCase().matchAll(WORD))
    for (const part of match[0].split(/['’-]/)) present.add(part);
  const stems = new Set([...present].map(stem));
  const missing = required.filter(
    (word) =>
      !present.has(word) && !stems.has(stem(word)) && ![...present].some((candidate) => isTypoOf(word, candidate)),
  );
  return { isKept: missing.length <= Math.floor(required.length / 6), missing };
}

/** A light English stemmer: enough to match plurals and verb forms, not a linguist. */
function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(?:ches|shes|sses|xes|zes)$/.test(word)) return word.slice(0, -2);
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3).replace(/(.)\1$/, '$1');
  if (word.length > 4 && word.endsWith('ed')) return word.slice(0, -2).replace(/(.)\1$/, '$1');
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

/** Whether `candidate` is `word` with a typo fixed: short words must match exactly (cat ≠ car). */
function isTypoOf(word: string, candidate: string): boolean {
  const allowed = word.length >= 8 ? 2 : word.length >= 5 ? 1 : 0;
  return allowed > 0 && withinEdits(word, candidate, allowed);
}
