import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LLM_CATALOG } from '../../src/main/core/llm/catalog';
import { runCli } from '../support/cli';
import { tempDir } from '../support/core';
import { RangeFileServer } from '../support/llm';
import { writeTinyGguf } from '../fixtures/tiny-gguf';

const dirs: Array<{ remove: () => void }> = [];
const servers: RangeFileServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) dir.remove();
});

function dataDir(): string {
  const dir = tempDir('comfydesk-llm-cli-');
  dirs.push(dir);
  return dir.path;
}

function lines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('comfydesk enhance', () => {
  test('--json streams each token as a JSON line and ends with the result', async () => {
    const dir = dataDir();
    const model = join(dir, 'tiny.gguf');
    writeTinyGguf(model);
    const result = await runCli(
      ['enhance', 'a red fox in the snow', '--model', model, '--style', 'cinematic', '--json', '--data-dir', dir],
      { timeoutMs: 60_000 },
    );
    expect(result.code).toBe(0);
    const output = lines(result.stdout);
    expect(output.length).toBeGreaterThan(2);
    expect(output.slice(0, -1).every((line) => line.type === 'token' && typeof line.text === 'string')).toBe(true);
    const last = output.at(-1)!;
    expect(last).toMatchObject({
      type: 'result',
      style: 'cinematic',
      original: 'a red fox in the snow',
      model,
      isSubjectKept: false,
      missingWords: ['red', 'fox', 'snow'],
    });
    // The subject was lost, so the prompt to use is the original.
    expect(last.prompt).toBe('a red fox in the snow');
  });

  test('plain output prints the prompt to use and explains on stderr when the original was kept', async () => {
    const dir = dataDir();
    writeTinyGguf(join(dir, 'tiny.gguf'));
    // A relative path is taken from where the command runs.
    const result = await runCli(
      ['enhance', 'a red fox', '--model', join(dir, 'tiny.gguf').replace(`${process.cwd()}/`, ''), '--data-dir', dir],
      { timeoutMs: 60_000 },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('a red fox\n');
    expect(result.stderr).toContain(
      'the enhanced prompt lost "red", "fox", so your original prompt is kept. The model suggested:',
    );
  });

  test('a model that is not installed fails with exit 1 and says how to get it', async () => {
    const result = await runCli(['enhance', 'a red fox', '--data-dir', dataDir()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('comfydesk llm download qwen2.5-1.5b-instruct');
  });

  test('a corrupt model file is refused with exit 1, never a crash', async () => {
    const dir = dataDir();
    const bad = join(dir, 'bad.gguf');
    writeTinyGguf(bad, { omitKeys: ['llama.attention.head_count'] });
    const result = await runCli(['enhance', 'a red fox', '--model', bad, '--json', '--data-dir', dir], {
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr.trim().split('\n').at(-1)!)).toMatchObject({
      error: { code: 'llm_model_invalid', message: expect.stringContaining('lacks llama.attention.head_count') },
    });
  });

  test('an unknown style is a usage error', async () => {
    const result = await runCli(['enhance', 'a red fox', '--style', 'baroque']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('must be one of detailed, cinematic, artistic, minimal');
  });
});

describe('comfydesk llm', () => {
  test('list shows the catalog and files in the models folder; --models-dir is remembered', async () => {
    const dir = dataDir();
    const models = join(dir, 'volume', 'llm');
    const first = await runCli(['llm', 'list', '--json', '--data-dir', dir, '--models-dir', models]);
    expect(first.code).toBe(0);
    const list = JSON.parse(first.stdout) as { modelsDir: string; models: Array<{ id: string; state: string }> };
    expect(list.modelsDir).toBe(models);
    expect(list.models.map((model) => model.id)).toEqual(LLM_CATALOG.map((model) => model.id));
    const again = await runCli(['llm', 'list', '--data-dir', dir]);
    expect(again.stdout).toContain(`Models folder: ${models}`);
    expect(again.stdout).toMatch(/\* qwen2\.5-1\.5b-instruct\s+not installed\s+1\.0 GB/);
  });

  test('download fetches from an HF_ENDPOINT mirror and rejects a file whose checksum does not match the catalog', async () => {
    const entry = LLM_CATALOG[0]!;
    const server = new RangeFileServer();
    servers.push(server);
    const path = new URL(entry.url).pathname;
    server.serve(path, randomBytes(256 * 1024));
    await server.start();
    const dir = dataDir();
    const result = await runCli(['llm', 'download', entry.id, '--json', '--data-dir', dir], {
      env: { HF_ENDPOINT: `http://127.0.0.1:${server.port}` },
      timeoutMs: 30_000,
    });
    expect(server.requests.map((request) => request.path)).toEqual([path]);
    expect(result.code).toBe(1);
    expect(lines(result.stdout).every((line) => line.type === 'progress')).toBe(true);
    expect(JSON.parse(result.stderr.trim().split('\n').at(-1)!)).toMatchObject({
      error: { code: 'llm_checksum_mismatch' },
    });
    const modelsDir = join(dir, 'models', 'llm');
    expect(existsSync(join(modelsDir, entry.fileName))).toBe(false);
    expect(existsSync(join(modelsDir, `${entry.fileName}.part`))).toBe(false);
  });

  test('download of an unknown id fails and lists the known ones', async () => {
    const result = await runCli(['llm', 'download', 'gpt-5', '--data-dir', dataDir()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('There is no catalog model "gpt-5". Known: qwen2.5-1.5b-instruct');
  });

  test('download of an installed model succeeds without downloading', async () => {
    const dir = dataDir();
    const entry = LLM_CATALOG[0]!;
    const modelsDir = join(dir, 'models', 'llm');
    mkdirSync(modelsDir, { recursive: true });
    const size = writeTinyGguf(join(modelsDir, entry.fileName));
    const result = await runCli(['llm', 'download', entry.id, '--json', '--data-dir', dir]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      type: 'done',
      alreadyInstalled: true,
      path: join(modelsDir, entry.fileName),
    });
    expect(statSync(join(modelsDir, entry.fileName)).size).toBe(size);
  });
});
