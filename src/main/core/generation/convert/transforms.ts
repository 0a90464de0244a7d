import type { ControlMode } from '@shared/domain/generation';

/**
 * What the ComfyUI frontend does to widget values in the browser before queueing (protocol doc
 * §6.10). The server does none of it, so a client that sends saved values must. Randomness and
 * the clock are injected so results are reproducible in tests.
 */

/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/** Node types whose `filename_prefix` widget goes through `%…%` replacement. */
export const SAVE_NODE_TYPES: ReadonlySet<string> = new Set([
  'SaveImage',
  'SaveImageAdvanced',
  'SaveSVGNode',
  'SaveVideo',
  'SaveAnimatedWEBP',
  'SaveWEBM',
  'SaveAudio',
  'SaveAudioMP3',
  'SaveAudioOpus',
  'SaveAudioAdvanced',
  'SaveGLB',
  'SaveAnimatedPNG',
  'CLIPSave',
  'VAESave',
  'ModelSave',
  'LoraSave',
  'SaveLatent',
]);

function stripComments(text: string): string {
  // Same as the frontend: this also cuts "http://…" after the "//", which is why prompts with URLs change.
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/.*/g, '');
}

/**
 * Resolves a dynamic prompt: strips C-style comments, replaces every `{a|b|c}` group (nestable)
 * with one option picked by `random`, and keeps backslash-escaped `\{ \} \|` as literal characters.
 */
export function resolveDynamicPrompt(input: string, random: RandomSource): string {
  const text = stripComments(input);
  let index = 0;

  const escape = (): string => `\\${text[index++] ?? ''}`;

  const choice = (): string => {
    const options: string[] = [];
    let current = '';
    let depth = 0;
    while (index < text.length) {
      const char = text[index++]!;
      if (char === '\\') {
        current += escape();
        continue;
      }
      if (char === '{') depth += 1;
      else if (char === '}') {
        if (depth === 0) break;
        depth -= 1;
      } else if (char === '|' && depth === 0) {
        options.push(current);
        current = '';
        continue;
      }
      current += char;
    }
    options.push(current);
    const picked = options[Math.min(options.length - 1, Math.floor(random() * options.length))]!;
    return resolveDynamicPrompt(picked, random);
  };

  let result = '';
  while (index < text.length) {
    const char = text[index++]!;
    if (char === '\\') result += escape();
    else if (char === '{') result += choice();
    else result += char;
  }
  return result.replace(/\\([{}|])/g, '$1');
}

const DATE_PARTS: Record<string, (date: Date) => number> = {
  d: (date) => date.getDate(),
  M: (date) => date.getMonth() + 1,
  h: (date) => date.getHours(),
  m: (date) => date.getMinutes(),
  s: (date) => date.getSeconds(),
};

/** Formats `%date:FORMAT%` tokens the frontend's way: yyyy yy MM M dd d hh h mm m ss s (hh is 24-hour; doubled = zero-padded). */
export function formatDate(format: string, date: Date): string {
  return format.replace(/dd?|MM?|hh?|mm?|ss?|yyy?y?/g, (token) => {
    if (token === 'yy') return String(date.getFullYear()).slice(2);
    if (token === 'yyyy') return String(date.getFullYear());
    const part = DATE_PARTS[token[0]!];
    return part ? String(part(date)).padStart(token.length, '0') : token;
  });
}

/** A node as `%Node.widget%` replacement sees it. */
export interface ReplacementNode {
  /** `properties["Node name for S&R"]`, the name replacements look for first. */
  searchName?: string;
  /** The title the node shows (user-given, else its display name). */
  title: string;
  /** Widget name → current value. */
  widget(name: string): unknown;
}

/**
 * The frontend's `filename_prefix` replacement: `%date:FORMAT%` becomes the local date and time,
 * `%Node.widget%` the value of `widget` on the first node whose S&R name (else title) is `Node`,
 * with characters that are unsafe in file names replaced by `_`. Anything else stays as written
 * (the server itself substitutes `%width%`, `%year%`… later).
 */
export function applyTextReplacements(
  value: string,
  nodes: readonly ReplacementNode[],
  now: Date | (() => Date),
): string {
  return value.replace(/%([^%]+)%/g, (match, text: string) => {
    const split = text.split('.');
    if (split.length !== 2) {
      return split[0]!.startsWith('date:')
        ? formatDate(split[0]!.slice(5), typeof now === 'function' ? now() : now)
        : match;
    }
    const [nodeName, widgetName] = split as [string, string];
    const bySearchName = nodes.filter((node) => node.searchName === nodeName);
    const node = (
      bySearchName.length > 0 ? bySearchName : nodes.filter((candidate) => candidate.title === nodeName)
    )[0];
    if (!node) return match;
    const widget = node.widget(widgetName);
    if (widget === undefined) return match;
    // The frontend stringifies the widget value as JavaScript does, objects included; so do we.
    // eslint-disable-next-line no-control-regex, @typescript-eslint/no-base-to-string -- control characters are exactly what must go
    return String(widget ?? '').replaceAll(/[/?<>\\:*|"\x00-\x1F\x7F]/g, '_');
  });
}

/** The largest seed the frontend's randomizer produces (it stays far below 2^64 so values survive JSON). */
export const RANDOM_SEED_MAX = 2 ** 50;

/** Bounds for control-after-generate. */
export interface ControlRange {
  min?: number;
  max?: number;
  step?: number;
}

/**
 * The value a control-after-generate widget moves to (protocol doc §6.10): randomize picks an
 * integer in [min, min(max, 2^50)]; increment/decrement move by the step and stay within bounds;
 * increment-wrap wraps to min; fixed keeps the value.
 */
export function nextControlledValue(
  value: number,
  mode: ControlMode,
  range: ControlRange,
  random: RandomSource,
): number {
  const min = range.min ?? 0;
  const max = Math.min(range.max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const step = range.step && range.step > 0 ? range.step : 1;
  switch (mode) {
    case 'fixed':
      return value;
    case 'increment':
      return Math.min(max, value + step);
    case 'increment-wrap':
      return value + step > max ? min : value + step;
    case 'decrement':
      return Math.max(min, value - step);
    case 'randomize': {
      const high = Math.min(max, RANDOM_SEED_MAX);
      if (high <= min) return min;
      const steps = Math.floor((high - min) / step);
      return min + Math.floor(random() * (steps + 1)) * step;
    }
  }
}
