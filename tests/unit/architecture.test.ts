import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|svelte)$/.test(entry.name) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (match) => match[1] ?? match[2] ?? '',
  );
}

function offenders(dir: string, isForbidden: (specifier: string, file: string) => boolean): string[] {
  return sourceFiles(join(root, dir)).flatMap((file) =>
    importsOf(file)
      .filter((specifier) => isForbidden(specifier, file))
      .map((specifier) => `${relative(root, file)} imports ${specifier}`),
  );
}

describe('import rules (they hold even if lint is skipped)', () => {
  test('the core and the contract never import electron', () => {
    const isElectron = (specifier: string) =>
      specifier === 'electron' || specifier.startsWith('electron/') || specifier === 'electron-store';
    expect(offenders('src/main/core', isElectron)).toEqual([]);
    expect(offenders('src/shared', isElectron)).toEqual([]);
    expect(offenders('src/main/serve', isElectron)).toEqual([]);
    expect(offenders('src/main/cli', isElectron)).toEqual([]);
  });

  test('the renderer never imports from src/main', () => {
    expect(
      offenders(
        'src/renderer',
        (specifier, file) =>
          specifier.startsWith('.') && resolve(join(file, '..'), specifier).startsWith(join(root, 'src', 'main')),
      ),
    ).toEqual([]);
  });

  test('the contract imports nothing of ours outside src/shared, and no node: modules', () => {
    expect(
      offenders(
        'src/shared',
        (specifier, file) =>
          specifier.startsWith('node:') ||
          (specifier.startsWith('.') && !resolve(join(file, '..'), specifier).startsWith(join(root, 'src', 'shared'))),
      ),
    ).toEqual([]);
  });

  test('the core imports nothing from the shells', () => {
    expect(
      offenders(
        'src/main/core',
        (specifier, file) =>
          specifier.startsWith('.') &&
          /src\/main\/(electron|serve|cli)\//.test(resolve(join(file, '..'), specifier) + '/'),
      ),
    ).toEqual([]);
  });

  test('the preload bundles no zod', () => {
    expect(offenders('src/preload', (specifier) => specifier === 'zod')).toEqual([]);
    const preload = readFileSync(join(root, 'src/preload/index.ts'), 'utf8');
    expect(preload).not.toMatch(/import \{[^}]*\} from '..\/shared\/protocol'/);
  });
});

describe('file size', () => {
  test('no source file of the main process or the contract is over 500 lines', () => {
    const long = ['src/main', 'src/shared']
      .flatMap((dir) => sourceFiles(join(root, dir)))
      .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > 500)
      .map(({ file, lines }) => `${file} (${lines} lines)`);
    expect(long).toEqual([]);
  });
});
