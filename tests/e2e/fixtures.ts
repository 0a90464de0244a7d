import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test as base, expect } from '@playwright/test';
import { startComfyServer, type ComfyServerOptions, type ComfyTestServer } from '../support/comfy-server';
import { sealDataDir } from '../support/sealed';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServedApp {
  /** The URL serve mode printed, token included. */
  url: string;
  port: number;
  dataDir: string;
  /** Stops serve mode now (a test of what the page does when the app goes away); safe to call twice. */
  stop: () => Promise<void>;
}

/** Starts the built CLI's serve mode on a free port with its own data folder, and stops it after. */
async function startServe(
  extraArgs: string[] = [],
  seedFiles: SeedFiles = {},
  env: NodeJS.ProcessEnv = {},
): Promise<{ app: Omit<ServedApp, 'stop'>; child: ChildProcess; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'comfydesk-e2e-'));
  for (const [path, content] of Object.entries(seedFiles)) {
    mkdirSync(dirname(join(dataDir, path)), { recursive: true });
    writeFileSync(join(dataDir, path), content);
  }
  // Never 127.0.0.1:8188, where a real ComfyUI may run: the default connection points at a closed port.
  sealDataDir(dataDir);
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
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolvePromise) => child.once('close', resolvePromise));
        child.kill('SIGTERM');
        await exited;
      }
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

/**
 * What went wrong in the app's pages during a test: uncaught errors, `console.error`, and failed
 * requests to the app's own origin. Any of them fails the test, unless the test said it causes
 * that problem on purpose (`pageProblems.allow(/…/)`, e.g. when it stops the server).
 */
export interface PageProblems {
  /** Everything seen so far, allowed or not, one line each. */
  readonly seen: readonly string[];
  /** Problems matching `pattern` are expected by this test and do not fail it. */
  allow(pattern: RegExp): void;
}

export const test = base.extend<{
  pageProblems: PageProblems;
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
    await use({ ...server.app, stop: server.stop });
    await server.stop();
  },
  // Every test gets it (auto), and it is torn down before serve mode stops, so a server going away
  // after the test is not counted against it.
  pageProblems: [
    async ({ context, served }, use) => {
      const origin = new URL(served.url).origin;
      const seen: string[] = [];
      const allowed: RegExp[] = [];
      const isOurs = (url: string | undefined) => url !== undefined && url.startsWith(origin);
      context.on('weberror', (error) => {
        if (isOurs(error.page()?.url())) seen.push(`pageerror: ${error.error().message}`);
      });
      context.on('console', (message) => {
        if (message.type() !== 'error' || !isOurs(message.page()?.url())) return;
        seen.push(`console.error: ${message.text()} (${message.location().url})`);
      });
      context.on('requestfailed', (request) => {
        const reason = request.failure()?.errorText ?? 'failed';
        // ERR_ABORTED is the browser dropping a request it no longer needs (an element left the
        // page, a navigation started); the server never refused anything.
        if (!isOurs(request.url()) || reason === 'net::ERR_ABORTED') return;
        seen.push(`request failed: ${request.method()} ${request.url()} — ${reason}`);
      });
      context.on('response', (response) => {
        if (response.status() >= 400 && isOurs(response.url()))
          seen.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
      });
      await use({ seen, allow: (pattern) => allowed.push(pattern) });
      const unexpected = seen.filter((line) => !allowed.some((pattern) => pattern.test(line)));
      expect(unexpected, 'errors in the page: no pageerror, console.error or failed request is allowed').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
