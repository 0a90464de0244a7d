import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test as base, expect } from '@playwright/test';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServedApp {
  /** The URL serve mode printed, token included. */
  url: string;
  port: number;
  dataDir: string;
}

/** Starts the built CLI's serve mode on a free port with its own data folder, and stops it after. */
async function startServe(extraArgs: string[] = [], seedFiles: SeedFiles = {}): Promise<{ app: ServedApp; child: ChildProcess; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'comfydesk-e2e-'));
  for (const [path, content] of Object.entries(seedFiles)) {
    mkdirSync(dirname(join(dataDir, path)), { recursive: true });
    writeFileSync(join(dataDir, path), content);
  }
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'comfydesk.js'), 'serve', '--port', '0', '--json', '--data-dir', dataDir, ...extraArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolvePromise, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const first = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
      if (first) {
        clearTimeout(timer);
        resolvePromise(first);
      }
    });
    child.on('close', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const { url, port } = JSON.parse(line) as { url: string; port: number };
  return {
    app: { url, port, dataDir },
    child,
    stop: async () => {
      const exited = new Promise((resolvePromise) => child.once('close', resolvePromise));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Files to write into the data folder before serve mode starts, by path relative to it (e.g. `settings.json`). */
export type SeedFiles = Record<string, string | Uint8Array>;

export const test = base.extend<{ served: ServedApp; serveArgs: string[]; seedFiles: SeedFiles }>({
  /** Extra `comfydesk serve` arguments for a spec (`test.use({ serveArgs: ['--workflows', dir] })`). */
  serveArgs: [[], { option: true }],
  /** `test.use({ seedFiles: { 'settings.json': '…' } })` starts the app with those files in place. */
  seedFiles: [{}, { option: true }],
  served: async ({ serveArgs, seedFiles }, use) => {
    const server = await startServe(serveArgs, seedFiles);
    await use(server.app);
    await server.stop();
  },
});

export { expect };
