import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { LibraryQuery } from '@shared/domain/workflow';
import { NoticeCenter } from '../src/main/core/app/notice-center';
import { createCore } from '../src/main/core/create-core';
import { silentLogger } from '../src/main/core/lib/logger';
import { resolvePaths } from '../src/main/core/paths';
import { SettingsService } from '../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../src/main/core/settings/settings-store';
import { sealSettings } from '../tests/support/sealed';
import { ModelCatalog } from '../src/main/core/workflows/catalog';
import { LibraryService } from '../src/main/core/workflows/library-service';
import { scanRoot } from '../src/main/core/workflows/scan-root';
import { walkRoot } from '../src/main/core/workflows/walk';
import { ServeServer } from '../src/main/serve/serve-server';
import { ApiClient } from '../src/renderer/src/api/client';
import { createWsTransport } from '../src/renderer/src/api/ws-transport';
import { tempDir, waitFor } from '../tests/support/core';
import { CORPUS_DIR } from '../tests/support/paths';
import { generateLibrary } from './corpus-library';
import { ms, percentile, printTable } from './table';

const FILES = 10_000;
const DEBOUNCE_MS = 200;

let library: { path: string; remove: () => void } | undefined;

/** The floor: the same files read one after another with readFileSync and parsed, on this thread. */
async function floor(root: string): Promise<number> {
  const files = (await walkRoot(root)).flatMap((folder) => folder.workflows.map((path) => join(root, path)));
  const start = performance.now();
  for (const path of files) JSON.parse(readFileSync(path, 'utf8'));
  return performance.now() - start;
}

async function coldScan(root: string): Promise<number> {
  const start = performance.now();
  const { records } = await scanRoot(root);
  if (records.length !== FILES) throw new Error(`scanned ${records.length} files, expected ${FILES}`);
  return performance.now() - start;
}

async function startLibrary(root: string, dataDir: string, isWatching: boolean): Promise<LibraryService> {
  const settings = new SettingsService({
    store: new MemorySettingsStore({ library: { includeAppFolder: false, folders: [root] } }),
    notices: new NoticeCenter(),
    log: silentLogger,
  });
  await settings.start();
  return new LibraryService({
    settings,
    appFolder: join(dataDir, 'workflows'),
    cacheFile: join(dataDir, 'cache', 'library-index.json'),
    catalog: new ModelCatalog(),
    log: silentLogger,
    isWatching,
    debounceMs: DEBOUNCE_MS,
  });
}

beforeAll(() => {
  if (!CORPUS_DIR) return;
  library = tempDir('comfydesk-bench-library-');
  generateLibrary(CORPUS_DIR, library.path, FILES);
});

afterAll(() => library?.remove());

test('library: scan, warm start, live change, search and memory over 10,000 workflows', async () => {
  if (!CORPUS_DIR || !library) {
    printTable('Library (skipped: the shared corpus is not available)', []);
    return;
  }
  const root = library.path;
  const sizeMb =
    (await walkRoot(root))
      .flatMap((folder) => folder.workflows)
      .reduce((sum, path) => sum + statSync(join(root, path)).size, 0) / 1e6;

  // Alternate the two so the page cache treats them alike; keep the best of three of each.
  const floors: number[] = [];
  const scans: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    floors.push(await floor(root));
    scans.push(await coldScan(root));
  }
  const floorMs = Math.min(...floors);
  const scanMs = Math.min(...scans);

  // Warm start: a first run saves the index; the second shows it before any file is read.
  const data = tempDir('comfydesk-bench-data-');
  const first = await startLibrary(root, data.path, false);
  await first.start();
  await first.ready();
  await first.stop();
  const second = await startLibrary(root, data.path, false);
  const heapBefore = process.memoryUsage().heapUsed;
  const warmStart = performance.now();
  await second.start();
  const listed = second.snapshot().items.length;
  const warmMs = performance.now() - warmStart;
  if (listed !== FILES) throw new Error(`warm start listed ${listed} workflows`);
  const heapWithIndex = process.memoryUsage().heapUsed;
  const query = (value: Partial<LibraryQuery>) => LibraryQuery.parse(value);
  // The search index is built in slices between other work after a start; wait for it, as a user typing would.
  await waitFor(() => !second.index.isIndexPending, { timeoutMs: 30_000, intervalMs: 5 });
  const indexReadyMs = performance.now() - warmStart;
  const heapWithSearch = process.memoryUsage().heapUsed;
  // Words never searched before, each with a typo, so no cached dictionary match helps.
  const fresh = second
    .records()
    .filter((_, index) => index % 97 === 0)
    .map((record) => record.name.split(/\s+/).find((word) => word.length >= 5) ?? record.name)
    .map(
      (word, index) =>
        `${word.slice(0, 2)}${word[3] ?? ''}${word[2] ?? ''}${word.slice(4)}${index % 3 === 0 ? '' : ' video'}`,
    );
  const freshSearches: number[] = [];
  for (const text of fresh) {
    const start = performance.now();
    second.search(query({ text }));
    freshSearches.push(performance.now() - start);
  }
  const queries = [
    query({ text: 'wan video' }),
    query({ text: 'upscael' }),
    query({ text: 'flux', outputTypes: ['image'] }),
    query({ categories: ['Video'], inputTypes: ['image'] }),
    query({ text: 'CheckpointLoaderSimple' }),
    query({ statuses: ['not_connected'], text: 'sd3.5' }),
    query({}),
  ];
  const searches: number[] = [];
  for (let round = 0; round < 30; round += 1) {
    for (const item of queries) {
      const start = performance.now();
      second.search(item);
      searches.push(performance.now() - start);
    }
  }
  await second.ready();
  await second.stop();
  data.remove();

  // One changed file to a renderer event: the real core behind serve mode's WebSocket and the renderer's client.
  const served = tempDir('comfydesk-bench-serve-');
  const web = tempDir('comfydesk-bench-web-');
  const core = await createCore({
    mode: 'serve',
    version: '0.0.0-bench',
    paths: resolvePaths(served.path),
    settingsStore: new MemorySettingsStore(sealSettings({ library: { includeAppFolder: false, folders: [] } })),
    log: silentLogger,
    library: { sessionRoots: [root], debounceMs: DEBOUNCE_MS },
  });
  await core.library.ready();
  const server = new ServeServer({ core, rendererDir: web.path, port: 0, log: silentLogger });
  await server.start();
  const api = new ApiClient(createWsTransport({ url: `ws://127.0.0.1:${server.port}/ws?token=${server.token}` }));
  await waitFor(() => api.linkState === 'open');
  const target = (await walkRoot(root)).flatMap((folder) => folder.workflows)[123]!;
  const original = readFileSync(join(root, target), 'utf8');
  const latencies: number[] = [];
  for (let round = 0; round < 20; round += 1) {
    const received = new Promise<number>((resolve) => {
      const off = api.on('library.changed', (delta) => {
        if (delta.upserted.some((card) => card.path === target)) {
          off();
          resolve(performance.now());
        }
      });
    });
    const start = performance.now();
    writeFileSync(join(root, target), `${original}${' '.repeat(round + 1)}`);
    await utimes(join(root, target), new Date(), new Date(Date.now() + round * 1000));
    latencies.push((await received) - start - DEBOUNCE_MS);
  }
  api.close();
  await server.stop();
  await core.stop();
  served.remove();
  web.remove();

  printTable(`Library: ${FILES.toLocaleString('en')} workflows (${sizeMb.toFixed(0)} MB, copies of the corpus)`, [
    { metric: 'floor: readFileSync + JSON.parse, same files, in-process', value: ms(floorMs) },
    { metric: 'cold full scan (walk, read, parse, extract)', value: ms(scanMs) },
    {
      metric: 'cold scan / floor',
      value: `${(scanMs / floorMs).toFixed(2)}×`,
      target: '≤ 1.5×',
      met: scanMs / floorMs <= 1.5,
    },
    {
      metric: 'warm start from the saved index (to a full list)',
      value: ms(warmMs),
      target: '≤ 300 ms',
      met: warmMs <= 300,
    },
    { metric: 'one changed file → renderer event, beyond the debounce, p50', value: ms(percentile(latencies, 50)) },
    {
      metric: `one changed file → renderer event, beyond the ${DEBOUNCE_MS} ms debounce, p95`,
      value: ms(percentile(latencies, 95)),
      target: '≤ 200 ms',
      met: percentile(latencies, 95) <= 200,
    },
    { metric: 'search index built in the background, done after the start', value: ms(indexReadyMs) },
    {
      metric: `search/filter p50 (${searches.length} queries: text, typos, filters)`,
      value: ms(percentile(searches, 50)),
    },
    {
      metric: 'search/filter p95',
      value: ms(percentile(searches, 95)),
      target: '≤ 16 ms',
      met: percentile(searches, 95) <= 16,
    },
    {
      metric: `search p95, ${freshSearches.length} never-seen words with a typo`,
      value: ms(percentile(freshSearches, 95)),
      target: '≤ 16 ms',
      met: percentile(freshSearches, 95) <= 16,
    },
    {
      metric: 'main-process heap for the index (records + compatibility), approx.',
      value: `${((heapWithIndex - heapBefore) / 1e6).toFixed(0)} MB`,
    },
    { metric: '… plus the search index, approx.', value: `${((heapWithSearch - heapWithIndex) / 1e6).toFixed(0)} MB` },
  ]);
});
