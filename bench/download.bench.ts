import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { afterAll, beforeAll, test } from 'vitest';
import { MemorySecretStore } from '../src/main/core/connections/secret-store';
import { silentLogger } from '../src/main/core/lib/logger';
import { DownloadAccess } from '../src/main/core/transfers/download-access';
import { DISK_MARGIN_BYTES, freeBytesOf } from '../src/main/core/transfers/file-downloader';
import { TransferQueue, type Entry } from '../src/main/core/transfers/transfer-queue';
import { TransferRunners } from '../src/main/core/transfers/transfer-runners';
import { tempDir } from '../tests/support/core';
import { printTable, type BenchRow } from './table';

// Missing to Ready, a server on this machine: ComfyDesk downloads a model into the server's folder
// itself (.part file, SHA-256, progress events) from a local HTTP server, against the fastest plain
// way to move the same bytes from the same server into a file (one fetch piped to a file, and curl -o
// when it is installed), measured in turns in the same run.

const MIB = 1024 * 1024;
const SIZE_MB = Number(process.env.COMFYDESK_BENCH_DOWNLOAD_MB ?? 2048);
const BYTES = SIZE_MB * MIB;
const ROUNDS = 3;
const HAS_CURL = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
/** The source file, one download at a time beside it, and the downloader's own margin. */
const NEEDED_BYTES = 2 * BYTES + DISK_MARGIN_BYTES + 64 * MIB;

let folder: { path: string; remove: () => void } | undefined;
let server: { url: string; stop: () => Promise<void> } | undefined;
let source: { path: string; sha256: string } | undefined;
let skipReason: string | undefined;

/** Writes `bytes` of random-looking data (a 1 MiB random block, each copy marked with its index) and hashes it. */
async function writeSource(path: string, bytes: number): Promise<string> {
  const block = randomBytes(MIB);
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    for (let offset = 0, index = 0; offset < bytes; offset += MIB, index += 1) {
      block.writeUInt32LE(index, 0);
      const piece = block.subarray(0, Math.min(MIB, bytes - offset));
      hash.update(piece);
      await handle.write(piece);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

beforeAll(async () => {
  if (!Number.isInteger(SIZE_MB) || SIZE_MB <= 0) {
    skipReason = `COMFYDESK_BENCH_DOWNLOAD_MB must be a whole number of MB, not "${process.env.COMFYDESK_BENCH_DOWNLOAD_MB}"`;
    return;
  }
  folder = tempDir('comfydesk-bench-download-');
  const free = await freeBytesOf(folder.path);
  if (free !== null && free < NEEDED_BYTES) {
    skipReason = `${(NEEDED_BYTES / MIB).toFixed(0)} MB free needed in ${folder.path}, ${(free / MIB).toFixed(0)} MB free; set COMFYDESK_BENCH_DOWNLOAD_MB lower`;
    return;
  }
  const path = join(folder.path, 'source.safetensors');
  source = { path, sha256: await writeSource(path, BYTES) };
  server = await startFileServer(path);
});

/** tests/support/file-server.ts in a process of its own (see file-server-process.mjs), serving `path`. */
async function startFileServer(path: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'file-server-process.mjs'), path],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('exit', (code) => reject(new Error(`the file server exited with ${code} before it listened`)));
  });
  return {
    url: `http://127.0.0.1:${port}/model.safetensors`,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

afterAll(async () => {
  await server?.stop();
  folder?.remove();
});

/** The floor: one fetch, its body piped straight into a file, no hashing, no progress. */
async function fetchToFile(url: string, path: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`the file server answered ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), createWriteStream(path));
}

/**
 * The other floor: `curl -o` in its own process. Answers curl's CPU time in ms (user + system, from the
 * shell's `times`), or undefined when the shell did not say.
 */
function curlToFile(url: string, path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const script = 'curl -sS --fail --noproxy "*" -o "$1" "$2" || exit $?; times';
    const child = spawn('sh', ['-c', script, 'sh', path, url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited with ${code}`));
      // The second line of `times`: the children's user and system time, as "0m0.031s 0m0.102s".
      const times = [...(out.trim().split('\n').at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)];
      resolve(
        times.length === 2 ? times.reduce((sum, [, m, s]) => sum + (Number(m) * 60 + Number(s)) * 1000, 0) : undefined,
      );
    });
  });
}

/** Times of the UI's `updated` events and of the downloader's progress reports during one download by ComfyDesk. */
interface OursRun {
  events: number[];
  reports: number[];
  /** When the file was in place, verified (the queue's last event may come up to an interval later). */
  finished?: number;
}

/** ComfyDesk's download as the transfer service runs it for a server on this machine. */
async function oursToFile(url: string, path: string, run: OursRun): Promise<void> {
  let announceDone = () => {};
  const isDoneSent = new Promise<void>((resolve) => (announceDone = resolve));
  const queue = new TransferQueue({
    log: silentLogger,
    dataDir: folder!.path,
    now: Date.now,
    persist: false,
    emit: (delta) => {
      run.events.push(performance.now());
      if (delta.items.some((item) => item.state === 'done')) announceDone();
    },
  });
  const runners = new TransferRunners({
    log: silentLogger,
    access: new DownloadAccess({ secrets: new MemorySecretStore(), log: silentLogger, now: Date.now, env: {} }),
    set: (target, patch) => {
      run.reports.push(performance.now());
      queue.set(target, patch);
    },
    plan: () => Promise.reject(new Error('a local download needs no server plan')),
    targetOf: () => undefined,
  });
  const now = Date.now();
  const entry: Entry = {
    item: {
      id: 'bench',
      serverId: 'local',
      serverName: 'This computer',
      kind: 'model',
      name: 'model.safetensors',
      folder: 'checkpoints',
      url,
      destination: path,
      method: 'local',
      state: 'running',
      receivedBytes: 0,
      totalBytes: BYTES,
      bytesPerSecond: 0,
      etaSeconds: null,
      error: null,
      note: null,
      workflowIds: [],
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    },
    sha256: source!.sha256,
    expectedBytes: BYTES,
  };
  queue.add(entry);
  await runners.downloadLocal(entry, new AbortController().signal);
  run.finished = performance.now();
  // As the scheduler does; the last event goes out at the queue's pace, as it would in the app.
  queue.set(entry, { state: 'done', bytesPerSecond: 0, etaSeconds: 0, finishedAt: Date.now() });
  await isDoneSent;
  await queue.close();
}

/** Most timestamps (ms) inside any one second. */
function peakPerSecond(times: number[]): number {
  let peak = 0;
  for (let first = 0, last = 0; last < times.length; last += 1) {
    while (times[last]! - times[first]! >= 1000) first += 1;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}

/** Events per second between the first and the last (the last, "done", comes after the download's time). */
function eventsPerSecond(times: number[]): number {
  return times.length < 2 ? 0 : ((times.length - 1) * 1000) / (times.at(-1)! - times[0]!);
}

const mbPerSecond = (seconds: number) => BYTES / MIB / seconds;

test('a local download through ComfyDesk against the raw throughput floor, with its progress events', async () => {
  if (skipReason || !server || !source || !folder) {
    printTable(`Download onto a server on this machine (skipped: ${skipReason ?? 'not set up'})`, []);
    return;
  }
  const url = server.url;
  // Each way answers its CPU time in ms when it runs in a process of its own (curl); the others run in this one.
  const ways: Record<string, (path: string, run: OursRun) => Promise<number | undefined | void>> = {
    fetch: (path) => fetchToFile(url, path),
    ...(HAS_CURL ? { curl: (path: string) => curlToFile(url, path) } : {}),
    ours: (path, run) => oursToFile(url, path, run),
  };
  const seconds: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  const cpuMs: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  const load = loadavg()[0]!;
  let best: { seconds: number; run: OursRun } | undefined;
  for (let round = 0; round < ROUNDS; round += 1) {
    // In turns, so the page cache and the other work on this machine treat them alike.
    for (const [name, download] of Object.entries(ways)) {
      const path = join(folder.path, `${name}-${round}.safetensors`);
      const run: OursRun = { events: [], reports: [] };
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const ownCpuMs = await download(path, run);
      const elapsed = ((run.finished ?? performance.now()) - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const usedMs = name === 'curl' ? ownCpuMs : (cpu.user + cpu.system) / 1000;
      if (typeof usedMs === 'number') cpuMs[name]!.push(usedMs);
      const size = (await stat(path)).size;
      await rm(path, { force: true });
      if (size !== BYTES) throw new Error(`${name} wrote ${size} bytes instead of ${BYTES}`);
      seconds[name]!.push(elapsed);
      if (name === 'ours' && (!best || elapsed < best.seconds)) best = { seconds: elapsed, run };
    }
  }
  const fastest = (name: string) => Math.min(...seconds[name]!);
  const floorWay = HAS_CURL && fastest('curl') < fastest('fetch') ? 'curl' : 'fetch';
  const floor = mbPerSecond(fastest(floorWay));
  const ours = mbPerSecond(best!.seconds);
  const ratio = ours / floor;
  const eventsPeak = peakPerSecond(best!.run.events);
  const reportsPeak = peakPerSecond(best!.run.reports);
  const cpuPerMb = Object.entries(cpuMs)
    .filter(([, times]) => times.length > 0)
    .map(([name, times]) => `${name} ${(Math.min(...times) / SIZE_MB).toFixed(2)} ms`);
  const rows: BenchRow[] = [
    { metric: 'machine', value: `${availableParallelism()} cores, load ${load.toFixed(1)} at the start` },
    { metric: 'bytes', value: BYTES.toLocaleString('en') },
    { metric: 'floor: one fetch piped to a file', value: `${mbPerSecond(fastest('fetch')).toFixed(0)} MB/s` },
    ...(HAS_CURL ? [{ metric: 'floor: curl -o', value: `${mbPerSecond(fastest('curl')).toFixed(0)} MB/s` }] : []),
    { metric: `floor (${floorWay}, the faster)`, value: `${floor.toFixed(0)} MB/s` },
    { metric: 'ours: .part, SHA-256, progress, syncs, rename', value: `${ours.toFixed(0)} MB/s` },
    { metric: 'ours / floor', value: `${(ratio * 100).toFixed(0)} %`, target: '≥ 90 %', met: ratio >= 0.9 },
    // The file server, the client and the disk share the cores: CPU per MB bounds the speed on a small machine.
    { metric: 'client CPU per MB, least of the rounds', value: cpuPerMb.join(' · ') },
    {
      metric: 'UI progress events (updated), most in any second',
      value: String(eventsPeak),
      target: '≤ 10',
      met: eventsPeak <= 10,
    },
    {
      metric: 'UI progress events per second, first to last',
      value: eventsPerSecond(best!.run.events).toFixed(1),
    },
    { metric: 'downloader progress reports, most in any second', value: String(reportsPeak) },
  ];
  printTable(
    `Download onto a server on this machine: ${SIZE_MB} MB from a local HTTP server (127.0.0.1), best of ${ROUNDS}`,
    rows,
  );
});
