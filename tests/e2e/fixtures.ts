import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test as base, expect } from '@playwright/test';
import { startComfyServer, type ComfyServerOptions, type ComfyTestServer } from '../support/comfy-server';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServedApp {
  /** The URL serve mode printed, token included. */
  url: string;
  port: number;
  dataDir: string;
}

/** Starts the built CLI's serve mode on a free port with its own data folder, and stops it after. */
async function startServe(
  extraArgs: string[] = [],
  seedFiles: SeedFiles = {},
  env: NodeJS.ProcessEnv = {},
): Promise<{ app: ServedApp; child: ChildProcess; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'comfydesk-e2e-'));
  for (const [path, content] of Object.entries(seedFiles)) {
    mkdirSync(dirname(join(dataDir, path)), { recursive: true });
    writeFileSync(join(dataDir, path), content);
  }
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'comfydesk.js'), 'serve', '--port', '0', '--json', '--data-dir', dataDir, ...extraArgs],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolvePromise, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
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

/** The connection id the `comfy` fixture makes the default. */
export const TEST_SERVER_ID = 'test-comfy';
/** Its name as the app shows it. */
export const TEST_SERVER_NAME = 'Test ComfyUI';

/**
 * `settings.json` with the test server as the default connection, merged into any settings a
 * spec seeds itself (its other sections are kept).
 */
function withTestServer(seedFiles: SeedFiles, comfy: ComfyTestServer): SeedFiles {
  const own = seedFiles['settings.json'];
  const settings = (typeof own === 'string' ? JSON.parse(own) : {}) as Record<string, unknown>;
  const connections = {
    profiles: [{ id: TEST_SERVER_ID, kind: 'url', name: TEST_SERVER_NAME, url: comfy.url }],
    activeId: TEST_SERVER_ID,
    alsoOnline: [],
  };
  return { ...seedFiles, 'settings.json': JSON.stringify({ ...settings, connections }) };
}

export const test = base.extend<{
  served: ServedApp;
  serveArgs: string[];
  serveEnv: NodeJS.ProcessEnv;
  seedFiles: SeedFiles;
  comfyServer: ComfyServerOptions | false;
  comfy: ComfyTestServer | undefined;
}>({
  /** Extra `comfydesk serve` arguments for a spec (`test.use({ serveArgs: ['--workflows', dir] })`). */
  serveArgs: [[], { option: true }],
  /** Extra environment for the serve process (e.g. a stand-in RunPod API's address). */
  serveEnv: [{}, { option: true }],
  /** `test.use({ seedFiles: { 'settings.json': '…' } })` starts the app with those files in place. */
  seedFiles: [{}, { option: true }],
  /**
   * `test.use({ comfyServer: { models: {…}, stepMs: 50 } })` also starts the ComfyUI protocol test
   * server (tests/support/comfy-server) on a free port, and the app starts with it as the default
   * connection. @default false (no server)
   */
  comfyServer: [false, { option: true }],
  comfy: async ({ comfyServer }, use) => {
    if (comfyServer === false) return use(undefined);
    const comfy = await startComfyServer(comfyServer);
    await use(comfy);
    await comfy.stop();
  },
  served: async ({ serveArgs, serveEnv, seedFiles, comfy }, use) => {
    const server = await startServe(serveArgs, comfy ? withTestServer(seedFiles, comfy) : seedFiles, serveEnv);
    await use(server.app);
    await server.stop();
  },
});

export { expect };
