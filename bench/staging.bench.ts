import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, test } from 'vitest';
import { startCli, type RunningCli } from '../tests/support/cli';
import { tempDir } from '../tests/support/core';
import { printTable } from './table';

const FILES = 9;
const FILE_BYTES = 60 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Resident and peak resident memory of a process, in MiB, from /proc (Linux). */
function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Streams `bytes` of data to serve mode's /upload, a megabyte at a time, as a browser sends a File. */
function upload(port: number, token: string, name: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`http://127.0.0.1:${port}/upload?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-length': String(bytes) },
    });
    req.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    void (async () => {
      for (let sent = 0; sent < bytes; sent += CHUNK.length) {
        if (!req.write(CHUNK.subarray(0, Math.min(CHUNK.length, bytes - sent))))
          await new Promise((drained) => req.once('drain', drained));
      }
      req.end();
    })();
  });
}

test('serve mode memory while staging nine 60 MB input files', async () => {
  const data = tempDir('comfydesk-bench-staging-');
  cleanups.push(() => data.remove());
  const cli: RunningCli = startCli(['serve', '--port', '0', '--json', '--data-dir', data.path]);
  cleanups.push(async () => {
    cli.child.kill('SIGTERM');
    await cli.exited;
  });
  const { url, port } = JSON.parse(await cli.waitForLine(/^\{/, 30_000)) as { url: string; port: number };
  const token = new URL(url).searchParams.get('token')!;
  const pid = cli.child.pid!;
  const before = memoryOf(pid);
  const started = performance.now();
  for (let index = 0; index < FILES; index += 1) {
    const status = await upload(port, token, `input-${index}.png`, FILE_BYTES);
    if (status !== 201) throw new Error(`upload ${index} answered ${status}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = memoryOf(pid);
  const megabytes = (FILES * FILE_BYTES) / (1024 * 1024);
  printTable(`Serve mode: staging ${FILES} input files of ${FILE_BYTES / (1024 * 1024)} MB over POST /upload`, [
    { metric: 'resident memory before', value: `${before.rssMiB.toFixed(0)} MiB` },
    {
      metric: 'resident memory after',
      value: `${after.rssMiB.toFixed(0)} MiB`,
      target: '< 300 MiB (base64 messages: ~530 MiB)',
      met: after.rssMiB < 300,
    },
    { metric: 'peak resident memory', value: `${after.peakMiB.toFixed(0)} MiB` },
    { metric: 'throughput', value: `${(megabytes / seconds).toFixed(0)} MB/s` },
  ]);
});
