import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { recordFromBytes } from '../src/main/core/workflows/scan-file';

/** The corpus's workflow files (not its index or expectation files). */
function corpusSources(corpus: string): string[] {
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        entry.name.endsWith('.json') &&
        !entry.name.startsWith('index') &&
        !['expected.json', 'inventory.json'].includes(entry.name)
      )
        sources.push(path);
    }
  };
  walk(corpus);
  return sources;
}

const CATEGORIES = ['Image', 'Video', 'Audio', '3D', 'Upscale', 'Edit', 'Inpaint', 'Experiments'];

/** Where copy `index` of `source` goes: eight categories, 250 files a folder, a numbered name. */
function copyPath(corpus: string, source: string, index: number): string {
  const base = relative(corpus, source)
    .replace(/[\\/]/g, '_')
    .replace(/\.json$/, '');
  return `${CATEGORIES[index % CATEGORIES.length]!}/batch-${Math.floor(index / 250)}/${base} ${index}.json`;
}

/** The records of `count` such copies, made in memory (the search benches need no files). */
export function corpusRecords(corpus: string, count: number): WorkflowRecord[] {
  const sources = corpusSources(corpus);
  const contents = sources.map((path) => readFileSync(path));
  return Array.from({ length: count }, (_, index) => {
    const source = index % sources.length;
    return recordFromBytes(
      {
        root: '/library',
        path: copyPath(corpus, sources[source]!, index),
        sizeBytes: 0,
        modifiedMs: 0,
        thumbnail: null,
      },
      contents[source]!,
    );
  });
}

/**
 * Writes `count` copies of the corpus's workflow files under varied names and folders (eight
 * categories, 250 files a folder): the 10,000-file libraries the benches measure.
 */
export function generateLibrary(corpus: string, root: string, count: number): void {
  const sources = corpusSources(corpus);
  const contents = sources.map((path) => readFileSync(path));
  for (let index = 0; index < count; index += 1) {
    const source = index % sources.length;
    const path = join(root, copyPath(corpus, sources[source]!, index));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, contents[source]!);
  }
}
