/**
 * A small full-text index written for the library: field-weighted ranking (a hit in the name counts
 * more than one in a node type), prefix, typo-tolerant, infix and subsequence matching ("flx" finds
 * flux) through a token dictionary, and incremental updates (one changed workflow re-indexes one
 * document, not ten thousand).
 */

/** Searchable text of one document, by field. */
export type SearchFields = Record<string, string | readonly string[]>;

/** How much a hit in each field counts. Fields not listed count 1. */
export type FieldWeights = Readonly<Record<string, number>>;

/** How much a match of each kind counts, times the field's weight: exact and prefix matches rank first. */
export const MATCH_QUALITY = { exact: 1, prefix: 0.8, typo: 0.55, infix: 0.45, subsequence: 0.3 } as const;
const EXACT = MATCH_QUALITY.exact;
const PREFIX = MATCH_QUALITY.prefix;
const TYPO = MATCH_QUALITY.typo;
const INFIX = MATCH_QUALITY.infix;
const SUBSEQUENCE = MATCH_QUALITY.subsequence;

/** Splits text into lower-case search tokens: words, numbers, camelCase parts, and dotted versions whole and split ("sd1.5"). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const spaced = text.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  const folded = spaced.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  for (const raw of folded.split(/[^\p{L}\p{N}.]+/u)) {
    const word = raw.replace(/^\.+|\.+$/g, '');
    if (word === '') continue;
    tokens.push(word);
    if (word.includes('.')) for (const part of word.split('.')) if (part !== '') tokens.push(part);
  }
  // The unsplit camelCase word too, so "checkpointloader" finds CheckpointLoaderSimple.
  if (spaced !== text)
    for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (raw.length > 2) tokens.push(raw);
  return tokens;
}

/**
 * True when the letters of `word` appear in `token` in order, starting with the same letter: the
 * abbreviations people type ("flx" for flux, "ckpt" for checkpoint, "upscl" for upscale). Words
 * under three letters would match nearly everything, so they never match this way.
 */
export function isAbbreviationOf(word: string, token: string): boolean {
  if (word.length < 3 || token.length <= word.length || word[0] !== token[0]) return false;
  let at = 1;
  for (let index = 1; index < token.length && at < word.length; index += 1) if (token[index] === word[at]) at += 1;
  return at === word.length;
}

/** The words of a search, without repeats; a lone dot-joined fragment ("1.") is not a word. */
export function queryWords(query: string): string[] {
  return [...new Set(tokenize(query))].filter((word) => !word.includes('.') || word.length > 1);
}

/** How many edits a query word may be away from a token: none for numbers ("12" is not a typo of "13"). */
export function allowedEdits(word: string): number {
  if (/^\d+$/.test(word)) return 0;
  return word.length >= 8 ? 2 : word.length >= 4 ? 1 : 0;
}

/** True when `a` and `b` differ by at most `max` edits (insert, delete, substitute, swap of neighbours). */
export function withinEdits(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  const rows = a.length + 1;
  const cols = b.length + 1;
  let previous2: number[] = [];
  let previous = Array.from({ length: cols }, (_, j) => j);
  for (let i = 1; i < rows; i += 1) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, previous2[j - 2]! + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return false;
    previous2 = previous;
    previous = current;
  }
  return previous[cols - 1]! <= max;
}

/** The index itself: documents by id, tokens with their best field weight, and a token dictionary for fuzzy matches. */
export class SearchIndex {
  readonly #weights: FieldWeights;
  /** token → document → best field weight of that token in the document. */
  readonly #postings = new Map<string, Map<string, number>>();
  readonly #documents = new Map<string, Map<string, number>>();
  #dictionary: string[] | undefined;
  /** Dictionary matches per query word; cleared whenever the dictionary changes. */
  readonly #matchCache = new Map<string, Array<[string, number]>>();

  constructor(weights: FieldWeights) {
    this.#weights = weights;
  }

  get size(): number {
    return this.#documents.size;
  }

  /** Adds or replaces a document. */
  set(id: string, fields: SearchFields): void {
    this.delete(id);
    const tokens = new Map<string, number>();
    for (const [field, value] of Object.entries(fields)) {
      const weight = this.#weights[field] ?? 1;
      const texts = typeof value === 'string' ? [value] : value;
      for (const item of texts) {
        for (const token of tokenize(item)) tokens.set(token, Math.max(tokens.get(token) ?? 0, weight));
      }
    }
    for (const [token, weight] of tokens) {
      let posting = this.#postings.get(token);
      if (!posting) {
        posting = new Map();
        this.#postings.set(token, posting);
        this.#dictionary = undefined;
        this.#matchCache.clear();
      }
      posting.set(id, weight);
    }
    this.#documents.set(id, tokens);
  }

  delete(id: string): void {
    const tokens = this.#documents.get(id);
    if (!tokens) return;
    for (const token of tokens.keys()) {
      const posting = this.#postings.get(token);
      posting?.delete(id);
      if (posting?.size === 0) {
        this.#postings.delete(token);
        this.#dictionary = undefined;
        this.#matchCache.clear();
      }
    }
    this.#documents.delete(id);
  }

  /**
   * Scores every document that matches all query words (each exactly, by prefix, inside a longer
   * word, or with a typo), best first. An empty query returns undefined: everything matches.
   */
  search(query: string): Map<string, number> | undefined {
    const words = queryWords(query);
    if (words.length === 0) return undefined;
    let scores: Map<string, number> | undefined;
    for (const word of words) {
      const wordScores = new Map<string, number>();
      for (const [token, quality] of this.#matches(word)) {
        for (const [id, weight] of this.#postings.get(token)!) {
          const score = quality * weight;
          if (score > (wordScores.get(id) ?? 0)) wordScores.set(id, score);
        }
      }
      if (!scores) {
        scores = wordScores;
      } else {
        const next = new Map<string, number>();
        for (const [id, score] of scores) {
          const add = wordScores.get(id);
          if (add !== undefined) next.set(id, score + add);
        }
        scores = next;
      }
      if (scores.size === 0) break;
    }
    return scores ?? new Map();
  }

  #matches(word: string): Array<[string, number]> {
    const cached = this.#matchCache.get(word);
    if (cached) return cached;
    const found: Array<[string, number]> = [];
    if (this.#postings.has(word)) found.push([word, EXACT]);
    // Numbers match exactly or by prefix only: "12" is not a typo of "13", nor short for 132.
    const isNumber = /^\d+$/.test(word);
    const maxEdits = allowedEdits(word);
    this.#dictionary ??= [...this.#postings.keys()];
    const shortest = word.length - maxEdits;
    const longest = word.length + maxEdits;
    for (const token of this.#dictionary) {
      if (token === word) continue;
      if (token.startsWith(word)) found.push([token, PREFIX]);
      else if (!isNumber && word.length >= 3 && token.includes(word)) found.push([token, INFIX]);
      else if (
        maxEdits > 0 &&
        token.length >= shortest &&
        token.length <= longest &&
        withinEdits(word, token, maxEdits)
      )
        found.push([token, TYPO]);
      else if (!isNumber && isAbbreviationOf(word, token)) found.push([token, SUBSEQUENCE]);
    }
    if (this.#matchCache.size > 500) this.#matchCache.clear();
    this.#matchCache.set(word, found);
    return found;
  }
}
