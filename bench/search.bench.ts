import { afterAll, test } from 'vitest';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { SEARCH_WEIGHTS, searchFieldsOf } from '../src/main/core/workflows/library-index';
import { MiniSearchIndex } from './minisearch-index';
import { SearchIndex, tokenize } from '../src/main/core/workflows/search-index';
import { CORPUS_DIR } from '../tests/support/paths';
import { corpusRecords } from './corpus-library';
import { ms, percentile, printTable, type BenchRow } from './table';

const CARDS = 10_000;
const UPDATES = 200;

interface Index {
  set(id: string, fields: ReturnType<typeof searchFieldsOf>): void;
  search(query: string): Map<string, number> | undefined;
}

/** A query, and the word a workflow's name must hold for the top result to count as right. */
interface Probe {
  text: string;
  word: string;
}

const rows: Array<{ title: string; rows: BenchRow[] }> = [];
afterAll(() => {
  for (const table of rows) printTable(table.title, table.rows);
});

/** Name words of every 97th workflow, long enough to be distinctive. */
function nameWords(records: WorkflowRecord[]): string[] {
  return records
    .filter((_, index) => index % 97 === 0)
    .map((record) => tokenize(record.name).find((word) => word.length >= 5 && /^[a-z]+$/.test(word)))
    .filter((word): word is string => word !== undefined);
}

const typo = (word: string) => `${word.slice(0, 2)}${word[3]}${word[2]}${word.slice(4)}`;
const abbreviation = (word: string) => word[0] + word.slice(1).replace(/[aeiou]/g, '');

function measure(make: () => Index, records: WorkflowRecord[]) {
  const heapBefore = process.memoryUsage().heapUsed;
  const buildStart = performance.now();
  const index = make();
  for (const record of records) index.set(record.id, searchFieldsOf(record));
  const buildMs = performance.now() - buildStart;
  const heapBytes = process.memoryUsage().heapUsed - heapBefore;

  const words = nameWords(records);
  const probes: Record<string, Probe[]> = {
    'exact name word': words.map((word) => ({ text: word, word })),
    'prefix (first 4 letters)': words.map((word) => ({ text: word.slice(0, 4), word })),
    'a typo (two letters swapped)': words.map((word) => ({ text: typo(word), word })),
    'an abbreviation ("flx" for flux)': words
      .map((word) => ({ text: abbreviation(word), word }))
      .filter((probe) => probe.text.length >= 3 && probe.text !== probe.word),
  };
  const byId = new Map(records.map((record) => [record.id, record]));
  const results: Record<string, { times: number[]; hits: number; count: number }> = {};
  for (const [kind, list] of Object.entries(probes)) {
    const times: number[] = [];
    let hits = 0;
    for (const probe of list) {
      const start = performance.now();
      const scores = index.search(probe.text);
      times.push(performance.now() - start);
      const best = [...(scores ?? [])].sort((a, b) => b[1] - a[1])[0];
      if (best && tokenize(byId.get(best[0])!.name).includes(probe.word)) hits += 1;
    }
    results[kind] = { times, hits, count: list.length };
  }
  const common = ['wan video', 'upscael', 'flux', 'CheckpointLoaderSimple', 'sd3.5', 'text to image', 'ksampler lora'];
  const commonTimes: number[] = [];
  for (let round = 0; round < 20; round += 1)
    for (const text of common) {
      const start = performance.now();
      index.search(text);
      commonTimes.push(performance.now() - start);
    }
  const updateTimes: number[] = [];
  for (const record of records.slice(0, UPDATES)) {
    const start = performance.now();
    index.set(record.id, searchFieldsOf({ ...record, name: `${record.name} edited` }));
    updateTimes.push(performance.now() - start);
  }
  return { buildMs, heapBytes, results, commonTimes, updateTimes };
}

test('search: our index against MiniSearch on 10,000 cards', () => {
  if (!CORPUS_DIR) {
    printTable('Search (skipped: the shared corpus is not available)', []);
    return;
  }
  const records = corpusRecords(CORPUS_DIR, CARDS);
  const contenders: Record<string, () => Index> = {
    'our index (search-index.ts)': () => new SearchIndex(SEARCH_WEIGHTS),
    'MiniSearch 7.2 (+ infix and abbreviation expansion)': () => new MiniSearchIndex(SEARCH_WEIGHTS),
  };
  // A warm-up round each, so neither pays for the other's JIT; the second round is reported.
  for (const make of Object.values(contenders)) measure(make, records);
  for (const [name, make] of Object.entries(contenders)) {
    const { buildMs, heapBytes, results, commonTimes, updateTimes } = measure(make, records);
    const table: BenchRow[] = [
      { metric: `index ${CARDS.toLocaleString('en')} cards`, value: ms(buildMs) },
      { metric: 'heap for the index, approx.', value: `${(heapBytes / 1e6).toFixed(0)} MB` },
      { metric: `one changed card re-indexed, p95 of ${UPDATES}`, value: ms(percentile(updateTimes, 95)) },
      {
        metric: `common queries p95 (${commonTimes.length}: text, typo, dotted version, node type)`,
        value: ms(percentile(commonTimes, 95)),
        target: '≤ 16 ms',
        met: percentile(commonTimes, 95) <= 16,
      },
    ];
    for (const [kind, { times, hits, count }] of Object.entries(results)) {
      table.push({
        metric: `${kind}: p95 of ${count} never-seen queries`,
        value: ms(percentile(times, 95)),
        target: '≤ 16 ms',
        met: percentile(times, 95) <= 16,
      });
      table.push({ metric: `${kind}: the top result's name has the word`, value: `${hits}/${count}` });
    }
    rows.push({ title: `Search over ${CARDS.toLocaleString('en')} cards: ${name}`, rows: table });
  }
});
