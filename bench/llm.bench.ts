import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, test } from 'vitest';
import { silentLogger } from '../src/main/core/lib/logger';
import { LLM_CATALOG } from '../src/main/core/llm/catalog';
import { LocalEngine } from '../src/main/core/llm/local-engine';
import { planEnhancement } from '../src/main/core/llm/styles';
import { defaultDataDir, resolvePaths } from '../src/main/core/paths';
import { tempDir } from '../tests/support/core';
import { writeTinyGguf } from '../tests/fixtures/tiny-gguf';
import { ms, percentile, printTable, type BenchRow } from './table';

const RUNS = 3;
const PROMPT = 'a red fox resting in fresh snow at the edge of a pine forest';
const dir = tempDir('comfydesk-llm-bench-');
afterAll(() => dir.remove());

interface Measured {
  loadMs: number[];
  firstTokenMs: number[];
  tokensPerSecond: number[];
  tokens: number[];
}

/**
 * Loads `path` fresh `RUNS` times (each run: load, one Detailed enhancement, unload) and measures
 * load time, time to first token (prompt processing included) and generation speed after it.
 */
async function measure(
  path: string,
  gpu: 'auto' | false,
): Promise<{ measured: Measured; compute: string | null; threads: number | null; startMs: number }> {
  const engine = new LocalEngine({ log: silentLogger, gpu, temperature: 0 });
  const measured: Measured = { loadMs: [], firstTokenMs: [], tokensPerSecond: [], tokens: [] };
  const plan = planEnhancement(PROMPT, 'detailed');
  let startMs = 0;
  try {
    for (let run = 0; run < RUNS; run += 1) {
      const loadStart = performance.now();
      await engine.load(path, new AbortController().signal);
      const loaded = performance.now();
      // The first load also starts llama.cpp itself; that is reported apart.
      if (run === 0) startMs = loaded - loadStart;
      else measured.loadMs.push(loaded - loadStart);
      let firstAt: number | undefined;
      const started = performance.now();
      const result = await engine.generate({
        ...plan,
        signal: new AbortController().signal,
        onText: () => (firstAt ??= performance.now()),
      });
      const ended = performance.now();
      if (firstAt !== undefined) {
        measured.firstTokenMs.push(firstAt - started);
        if (result.tokens > 1) measured.tokensPerSecond.push((result.tokens - 1) / ((ended - firstAt) / 1000));
      }
      measured.tokens.push(result.tokens);
      await engine.unload();
    }
    return { measured, compute: engine.compute, threads: engine.threads, startMs };
  } finally {
    await engine.dispose();
  }
}

function rows(name: string, result: Awaited<ReturnType<typeof measure>>): BenchRow[] {
  const { measured } = result;
  return [
    { metric: `${name}: runtime start + first load`, value: ms(result.startMs) },
    { metric: `${name}: load (warm file cache), p50`, value: ms(percentile(measured.loadMs, 50)) },
    { metric: `${name}: time to first token, p50`, value: ms(percentile(measured.firstTokenMs, 50)) },
    { metric: `${name}: tokens/s after the first, p50`, value: percentile(measured.tokensPerSecond, 50).toFixed(1) },
    { metric: `${name}: tokens per answer`, value: String(percentile(measured.tokens, 50)) },
  ];
}

function machine(result: { compute: string | null; threads: number | null }): string {
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} logical cores; ran on ${result.compute ?? '?'} with ${result.threads ?? '?'} thread${result.threads === 1 ? '' : 's'}`;
}

test('tiny GGUF model: load, first token and tokens/s (CPU)', async () => {
  const path = join(dir.path, 'tiny.gguf');
  writeTinyGguf(path);
  const result = await measure(path, false);
  printTable(`LLM: tiny test model (${machine(result)}; ${RUNS} runs, Detailed style, greedy)`, rows('tiny', result));
});

test('catalog models found on disk: load, first token and tokens/s', async () => {
  // Models in the default models folder, plus any GGUF named in COMFYDESK_BENCH_GGUF (comma-separated).
  const modelsDir = resolvePaths(defaultDataDir()).llmModelsDir;
  const candidates = [
    ...LLM_CATALOG.map((entry) => ({ name: entry.id, path: join(modelsDir, entry.fileName) })),
    ...(process.env.COMFYDESK_BENCH_GGUF ?? '')
      .split(',')
      .map((path) => path.trim())
      .filter(Boolean)
      .map((path) => ({ name: basename(path), path })),
  ];
  const found = candidates.filter((candidate) => existsSync(candidate.path));
  const missing = candidates.filter((candidate) => !existsSync(candidate.path));
  const table: BenchRow[] = [];
  let description = 'no catalog model on disk';
  for (const candidate of found) {
    const result = await measure(candidate.path, 'auto');
    description = machine(result);
    table.push(...rows(candidate.name, result));
  }
  for (const candidate of missing)
    table.push({ metric: `${candidate.name}: not on disk (${candidate.path})`, value: 'skipped' });
  printTable(`LLM: catalog models (${description})`, table);
});
