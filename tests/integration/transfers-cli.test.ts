import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { MissingReport } from '../../src/shared/domain/transfer';
import { runCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { tempDir } from '../support/core';
import { TestFileServer, sha256 } from '../support/file-server';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';
import { loaderNode, workflowOf } from '../support/transfers';

const CONTENT = randomBytes(1024 * 1024 + 5);
let files: TestFileServer;
let comfy: ComfyTestServer;
let dir: { path: string; remove: () => void };
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  files = new TestFileServer().serve('/m/sd15.safetensors', CONTENT).serve('/m/extra.safetensors', CONTENT);
  await files.start();
  dir = tempDir('comfydesk-cli-transfers-');
  env = {
    COMFYDESK_HOME: join(dir.path, 'data'),
    // No internet here: the public lists are named, and cannot be fetched.
    COMFYDESK_MODEL_LIST_URL: 'http://127.0.0.1:1/model-list.json',
    COMFYDESK_NODE_MAP_URL: 'http://127.0.0.1:1/extension-node-map.json',
    HF_TOKEN: '',
  };
});
afterAll(async () => {
  await files.stop();
  dir.remove();
});

beforeEach(async () => {
  comfy = await startComfyServer();
});
afterEach(async () => {
  await comfy.stop();
});

function writeWorkflow(name: string, url: string, hash?: string): string {
  const path = join(dir.path, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify(
      workflowOf(name, [
        loaderNode(1, 'CheckpointLoaderSimple', 'sd15.safetensors', { url, directory: 'checkpoints', hash }),
      ]),
    ),
  );
  return path;
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('comfydesk models missing / models get', () => {
  test('models missing lists what the server lacks with its source and destination', async () => {
    const workflow = writeWorkflow('Cli portrait', files.url('/m/sd15.safetensors'), sha256(CONTENT));
    const result = await runCli(['models', 'missing', workflow, '--server', comfy.url, '--json'], { env });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as MissingReport;
    expect(report).toMatchObject({ workflowName: 'Cli portrait', method: 'local' });
    expect(report.models).toEqual([
      expect.objectContaining({
        name: 'sd15.safetensors',
        source: 'workflow',
        sizeBytes: CONTENT.length,
        sha256: sha256(CONTENT),
        destinationDir: comfy.folderPaths().checkpoints![0],
      }),
    ]);
    const text = await runCli(['models', 'missing', workflow, '--server', comfy.url], { env });
    expect(text.stdout).toContain('Cli portrait on');
    expect(text.stdout).toContain('needs 1 model, 1.0 MB');
    expect(text.stdout).toContain(`from the workflow: ${files.url('/m/sd15.safetensors')}`);
  });

  test('models get fetches every missing file, prints JSON lines and exits 0 once each landed verified', async () => {
    const workflow = writeWorkflow('Cli fetch', files.url('/m/sd15.safetensors'), sha256(CONTENT));
    const result = await runCli(['models', 'get', workflow, '--server', comfy.url, '--json'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    const destination = join(comfy.folderPaths().checkpoints![0]!, 'sd15.safetensors');
    expect(lines.at(-2)).toEqual({ type: 'done', name: 'sd15.safetensors', path: destination });
    expect(lines.at(-1)).toMatchObject({ type: 'result', ok: true, failed: [], skipped: [] });
    expect(readFileSync(destination).equals(CONTENT)).toBe(true);
    // The server now has it: nothing is missing any more.
    const after = await runCli(['models', 'missing', workflow, '--server', comfy.url], { env });
    expect(after.stdout).toContain('Cli fetch is Ready on');
  });

  test('models get exits 1 when a file could not be fetched, and says why', async () => {
    const workflow = writeWorkflow('Cli gone', files.url('/m/gone.safetensors'));
    const result = await runCli(['models', 'get', workflow, '--server', comfy.url], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sd15\.safetensors: .*no longer has this file \(404\)/);
    expect(existsSync(join(comfy.folderPaths().checkpoints![0]!, 'sd15.safetensors'))).toBe(false);
  });

  test('models get --url fetches one file into a named folder, its name from the address', async () => {
    const result = await runCli(
      ['models', 'get', '--url', files.url('/m/extra.safetensors'), '--folder', 'loras', '--server', comfy.url],
      { env },
    );
    expect(result.code).toBe(0);
    const destination = join(comfy.folderPaths().loras![0]!, 'extra.safetensors');
    expect(result.stdout).toContain(`Placed extra.safetensors in ${destination}`);
    expect(readFileSync(destination).equals(CONTENT)).toBe(true);
  });
});

describe.skipIf(!SSHD_PATH)('comfydesk models get --ssh', () => {
  let sshd: TestSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd.stop();
  });

  test('the files are downloaded on the SSH server itself, and it exits 0', async () => {
    const workflow = writeWorkflow('Cli pod', files.url('/m/sd15.safetensors'), sha256(CONTENT));
    const before = files.requests.length;
    const result = await runCli(
      [
        'models',
        'get',
        workflow,
        '--ssh',
        `${sshd.user}@${sshd.host}:${sshd.port}`,
        '--key',
        sshd.clientKeyPath,
        '--remote',
        `127.0.0.1:${comfy.port}`,
        '--accept-host-key',
        sshd.hostKeyFingerprint(),
        '--json',
      ],
      { env: { ...env, COMFYDESK_KNOWN_HOSTS: join(dir.path, 'no-known-hosts') }, timeoutMs: 60_000 },
    );
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).at(-1)).toMatchObject({ type: 'result', ok: true });
    expect(readFileSync(join(comfy.folderPaths().checkpoints![0]!, 'sd15.safetensors')).equals(CONTENT)).toBe(true);
    const fetched = files.requests.slice(before).filter((request) => request.method === 'GET');
    expect(fetched.every((request) => request.userAgent?.startsWith('curl/'))).toBe(true);
  });
});
