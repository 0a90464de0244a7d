import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import buildOnce from '../tests/support/build-once';
import { CLI } from '../tests/support/cli';
import { tempDir } from '../tests/support/core';
import { CORPUS_DIR } from '../tests/support/paths';
import { generateLibrary } from './corpus-library';
import { ms, printTable } from './table';

const FILES = 10_000;
const ROUNDS = 3;
const FLOOR = join(import.meta.dirname, 'read-parse-floor.mjs');

let small: { path: string; remove: () => void } | undefined;
let large: { path: string; remove: () => void } | undefined;

/** Runs a whole Node process to its end; resolves with its wall time and how much it printed. */
function timeProcess(args: string[]): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}`));
      else resolve({ ms: performance.now() - started, bytes });
    });
  });
}

/** The best of `ROUNDS` runs of each command, run in turns so the page cache treats them alike. */
async function bestOf(commands: Record<string, string[]>): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round += 1)
    for (const [name, args] of Object.entries(commands)) times[name]!.push((await timeProcess(args)).ms);
  return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, Math.min(...values)]));
}

beforeAll(() => {
  if (!CORPUS_DIR) return;
  buildOnce();
  small = tempDir('comfydesk-bench-scan-');
  generateLibrary(CORPUS_DIR, small.path, FILES);
  large = tempDir('comfydesk-bench-scan-20k-');
  generateLibrary(CORPUS_DIR, large.path, FILES * 2);
});

afterAll(() => {
  small?.remove();
  large?.remove();
});

test('comfydesk scan: the whole process against the read + parse floor, JSON and table output', async () => {
  if (!small || !large) {
    printTable('comfydesk scan (skipped: the shared corpus is not available)', []);
    return;
  }
  const best = await bestOf({
    floor: [FLOOR, small.path],
    json: [CLI, 'scan', small.path, '--json'],
    table: [CLI, 'scan', small.path],
    floor20k: [FLOOR, large.path],
    json20k: [CLI, 'scan', large.path, '--json'],
    table20k: [CLI, 'scan', large.path],
  });
  const ratio = best.json! / best.floor!;
  const growth = best.table20k! / best.table!;
  printTable(`comfydesk scan DIR: whole process (node bin/comfydesk.js), best of ${ROUNDS}`, [
    {
      metric: `floor: one process, readFileSync + JSON.parse, ${FILES.toLocaleString('en')} files`,
      value: ms(best.floor!),
    },
    { metric: `scan --json, ${FILES.toLocaleString('en')} files`, value: ms(best.json!) },
    { metric: 'scan --json / floor', value: `${ratio.toFixed(2)}×`, target: '≤ 1.5×', met: ratio <= 1.5 },
    { metric: `scan (table), ${FILES.toLocaleString('en')} files`, value: ms(best.table!) },
    { metric: `floor, ${(FILES * 2).toLocaleString('en')} files`, value: ms(best.floor20k!) },
    { metric: `scan --json, ${(FILES * 2).toLocaleString('en')} files`, value: ms(best.json20k!) },
    { metric: `scan (table), ${(FILES * 2).toLocaleString('en')} files`, value: ms(best.table20k!) },
    {
      metric: 'table: 20,000 files / 10,000 files (linear is 2×)',
      value: `${growth.toFixed(2)}×`,
      target: '≤ 2.2×',
      met: growth <= 2.2,
    },
  ]);
});
