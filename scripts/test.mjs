// `npm test`: lint and format checks, type checks, the build, vitest (unit, renderer, integration) and Playwright e2e.
// Every runner writes a JSON report under test-results/; the last line printed is the honest
// total computed from those reports, which is what CI reads.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INSTALL_HINT, findChromium } from './lib/chromium.mjs';
import { summarize } from './lib/summary.mjs';

const root = resolve(import.meta.dirname, '..');
const results = join(root, 'test-results');
const bin = (name) => join(root, 'node_modules', '.bin', name);

if (!(await findChromium())) {
  console.error(INSTALL_HINT);
  process.exit(1);
}

rmSync(join(results, 'reports'), { recursive: true, force: true });
mkdirSync(join(results, 'reports'), { recursive: true });

function run(title, command, args, env = {}) {
  console.log(`\n▶ ${title}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
}

// Type checks count as checks of their own: a type error is a failure even if every test passes.
const checks = [
  { name: 'eslint', passed: run('Lint (eslint)', bin('eslint'), ['.']) },
  {
    name: 'prettier',
    passed: run('Format (prettier --check)', bin('prettier'), ['--check', '--log-level', 'warn', '.']),
  },
  { name: 'tsc -b', passed: run('Type check (tsc)', bin('tsc'), ['-b']) },
  {
    name: 'svelte-check',
    passed: run('Type check (svelte-check)', bin('svelte-check'), [
      '--tsconfig',
      './tsconfig.web.json',
      '--fail-on-warnings',
    ]),
  },
];
const built = run('Build', bin('electron-vite'), ['build']);
checks.push({ name: 'build', passed: built });
writeFileSync(join(results, 'reports', 'checks.json'), JSON.stringify(checks, null, 2));

run('Unit and integration tests (vitest)', bin('vitest'), [
  'run',
  '--project',
  'unit',
  '--project',
  'renderer',
  '--project',
  'integration',
  '--reporter=default',
  '--reporter=hanging-process',
  '--reporter=json',
  `--outputFile.json=${join(results, 'reports', 'vitest.json')}`,
]);
if (built) {
  run('End-to-end tests (Playwright)', bin('playwright'), ['test'], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: join(results, 'reports', 'playwright.json'),
  });
}

const summary = summarize(join(results, 'reports'));
for (const line of summary.details) console.log(line);
console.log(summary.totalLine);
process.exit(summary.failed > 0 || summary.missing.length > 0 ? 1 : 0);
