import MiniSearch, { type Query } from 'minisearch';
import {
  MATCH_QUALITY,
  allowedEdits,
  isAbbreviationOf,
  queryWords,
  tokenize,
  type FieldWeights,
  type SearchFields,
} from '../src/main/core/workflows/search-index';

interface Doc {
  id: string;
  fields: SearchFields;
}

/**
 * The contender `npm run bench` measures our search index against (bench/search.bench.ts), kept so
 * the comparison can be run again: the library's search on MiniSearch. field boosts, prefix and fuzzy matching and BM25 ranking come
 * from it; infix and abbreviation matches ("flx" → flux), which it does not do, are added by expanding
 * each query word against a dictionary of the indexed terms kept beside it.
 */
export class MiniSearchIndex {
  readonly #mini: MiniSearch<Doc>;
  readonly #docs = new Map<string, Doc>();
  /** term → how many documents have it, for the expansions MiniSearch does not make. */
  readonly #terms = new Map<string, number>();
  #dictionary: string[] | undefined;
  readonly #expansions = new Map<string, string[][]>();

  constructor(weights: FieldWeights) {
    this.#mini = new MiniSearch<Doc>({
      idField: 'id',
      fields: Object.keys(weights),
      extractField: (doc, field) => {
        if (field === 'id') return doc.id;
        const value = doc.fields[field];
        return typeof value === 'string' ? value : (value ?? []).join(' ');
      },
      tokenize: (text) => tokenize(text),
      processTerm: (term) => term,
      searchOptions: {
        boost: { ...weights },
        combineWith: 'AND',
        tokenize: (text) => [text],
        prefix: true,
        fuzzy: (term) => allowedEdits(term) || false,
        weights: { prefix: MATCH_QUALITY.prefix, fuzzy: MATCH_QUALITY.typo },
      },
    });
  }

  get size(): number {
    return this.#docs.size;
  }

  set(id: string, fields: SearchFields): void {
    this.delete(id);
    const doc = { id, fields };
    this.#mini.add(doc);
    this.#docs.set(id, doc);
    for (const term of this.#termsOf(doc)) {
      const count = this.#terms.get(term) ?? 0;
      if (count === 0) this.#changed();
      this.#terms.set(term, count + 1);
    }
  }

  delete(id: string): void {
    const doc = this.#docs.get(id);
    if (!doc) return;
    this.#mini.discard(id);
    this.#docs.delete(id);
    for (const term of this.#termsOf(doc)) {
      const count = (this.#terms.get(term) ?? 1) - 1;
      if (count === 0) {
        this.#terms.delete(term);
        this.#changed();
      } else this.#terms.set(term, count);
    }
  }

  search(query: string): Map<string, number> | undefined {
    const words = queryWords(query);
    if (words.length === 0) return undefined;
    const queries: Query[] = words.map((word) => {
      const [infix, abbreviations] = this.#expand(word);
      const parts: Query[] = [{ queries: [word] }];
      if (infix!.length > 0)
        parts.push({ queries: infix!, prefix: false, fuzzy: false, boostTerm: () => MATCH_QUALITY.infix });
      if (abbreviations!.length > 0)
        parts.push({
          queries: abbreviations!,
          prefix: false,
          fuzzy: false,
          boostTerm: () => MATCH_QUALITY.subsequence,
        });
      return { combineWith: 'OR', queries: parts };
    });
    const results = this.#mini.search({ combineWith: 'AND', queries });
    return new Map(results.map((result) => [result.id as string, result.score]));
  }

  #termsOf(doc: Doc): Set<string> {
    const terms = new Set<string>();
    for (const value of Object.values(doc.fields))
      for (const text of typeof value === 'string' ? [value] : value)
        for (const term of tokenize(text)) terms.add(term);
    return terms;
  }

  #changed(): void {
    this.#dictionary = undefined;
    this.#expansions.clear();
  }

  /** Indexed terms that contain `word` (not as a prefix) and those it abbreviates. */
  #expand(word: string): string[][] {
    const cached = this.#expansions.get(word);
    if (cached) return cached;
    this.#dictionary ??= [...this.#terms.keys()];
    const infix: string[] = [];
    const abbreviations: string[] = [];
    const isNumber = /^\d+$/.test(word);
    if (!isNumber) {
      for (const term of this.#dictionary) {
        if (term.startsWith(word)) continue;
        if (word.length >= 3 && term.includes(word)) infix.push(term);
        else if (isAbbreviationOf(word, term)) abbreviations.push(term);
      }
    }
    if (this.#expansions.size > 500) this.#expansions.clear();
    const result = [infix, abbreviations];
    this.#expansions.set(word, result);
    return result;
  }
}
