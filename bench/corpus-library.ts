import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Writes `count` copies of the corpus's workflow files under varied names and folders (eight
 * categories, 250 files a folder): the 10,000-file libraries the benches measure.
 */
export function generateLibrary(corpus: string, root: string, count: number): void {
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
  const contents = sources.map((path) => readFileSync(path));
  const categories = ['Image', 'Video', 'Audio', '3D', 'Upscale', 'Edit', 'Inpaint', 'Experiments'];
  for (let index = 0; index < count; index += 1) {
    const source = index % sources.length;
    const folder = join(root, categories[index % categories.length]!, `batch-${Math.floor(index / 250)}`);
    mkdirSync(folder, { recursive: true });
    const base = relative(corpus, sources[source]!)
      .replace(/[\\/]/g, '_')
      .replace(/\.json$/, '');
    writeFileSync(join(folder, `${base} ${index}.json`), contents[source]!);
  }
}
