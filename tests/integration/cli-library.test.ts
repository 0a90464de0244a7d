import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { runCli } from '../support/cli';
import { tempDir } from '../support/core';
import { textToImageApi, textToImageUi, writeTree } from '../support/workflows';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function folder(files: Record<string, string> = {}): string {
  const dir = tempDir('comfydesk-cli-library-');
  dirs.push(dir);
  return writeTree(dir.path, files);
}

describe('comfydesk scan', () => {
  test('--json prints one record per file, failed files with "error", and exits 0', async () => {
    const root = folder({
      'Images/t2i.json': JSON.stringify(textToImageUi()),
      'api.json': JSON.stringify(textToImageApi()),
      'broken.json': '{"nodes": [',
    });
    const result = await runCli(['scan', root, '--json']);
    expect(result.code).toBe(0);
    const records = JSON.parse(result.stdout) as WorkflowRecord[];
    expect(records.map((record) => [record.path, record.format, record.type, record.error?.code ?? null])).toEqual([
      ['api.json', 'api', 't2i', null],
      ['broken.json', null, 'other', 'truncated'],
      ['Images/t2i.json', 'ui', 't2i', null],
    ]);
    expect(records[2]).toMatchObject({
      category: 'Images',
      models: [{ name: 'sd15.safetensors', folder: 'checkpoints' }],
      inputTypes: ['text'],
      outputTypes: ['image'],
      nodeCount: 8,
    });
  });

  test('without --json it prints a readable table and the failures with their reasons', async () => {
    const root = folder({ 'one.json': JSON.stringify(textToImageUi()), 'notes.json': '{"todo": []}' });
    const result = await runCli(['scan', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/NAME\s+TYPE\s+IN → OUT/);
    expect(result.stdout).toMatch(/One\s+t2i\s+text → image/);
    expect(result.stdout).toContain('✗ notes.json: This JSON file is not a ComfyUI workflow');
    expect(result.stdout).toContain('1 workflow, 1 file that could not be used, in 1 folder.');
  });

  test('a folder that does not exist fails with exit 1 and says so on stderr', async () => {
    const result = await runCli(['scan', join(folder(), 'nope'), '--json']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toMatchObject({
      error: { code: 'not_found', message: expect.stringContaining('does not exist') },
    });
  });
});

describe('comfydesk intent', () => {
  test('matches free text to a type and lists the fitting workflows of the library', async () => {
    const extra = folder({
      'fox.json': JSON.stringify(textToImageUi('fox.safetensors', { extra: { info: { name: 'Fox portrait' } } })),
    });
    const result = await runCli([
      'intent',
      'a portrait of a fox',
      '--json',
      '--data-dir',
      folder(),
      '--workflows',
      extra,
    ]);
    expect(result.code).toBe(0);
    const match = JSON.parse(result.stdout) as {
      intent: { type: string };
      workflows: Array<{ name: string; status: string }>;
      total: number;
    };
    expect(match.intent.type).toBe('t2i');
    expect(match.workflows[0]).toMatchObject({ name: 'Fox portrait', status: 'not_connected' });
    expect(match.total).toBe(2); // the fox workflow and the seeded text-to-image sample
  });

  test('text it cannot place gets an honest message, still exit 0', async () => {
    const result = await runCli(['intent', 'hello, what can you do?', '--data-dir', folder()]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('could not tell what you want to make');
  });
});
