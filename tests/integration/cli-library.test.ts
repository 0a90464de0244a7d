import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { listWorkflowFiles, scanFilesSync } from '../../src/main/core/workflows/scan-root';
import { scanInParallel, type ScanBatchResult, type ScanPoolOptions } from '../../src/main/cli/scan-pool';
import { ROOT, runCli } from '../support/cli';
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

describe('scan reader thread', () => {
  const WORKER = join(ROOT, 'out', 'main', 'scan-worker.js');
  /** Every result of a scan, in the order they were handed over. */
  const collect = async (roots: Parameters<typeof scanInParallel>[0], options: ScanPoolOptions) => {
    const results: ScanBatchResult[] = [];
    await scanInParallel(roots, options, (result) => results.push(result));
    return results;
  };
  const manyFiles = (count: number) =>
    folder(
      Object.fromEntries(
        Array.from({ length: count }, (_, index) => [
          `Set ${index % 4}/flow ${String(index).padStart(4, '0')}.json`,
          JSON.stringify(textToImageUi(`model-${index}.safetensors`)),
        ]),
      ),
    );

  test('records read by the reader thread and by this thread come back complete and in the order of the files', async () => {
    const root = manyFiles(700);
    const { files } = await listWorkflowFiles(root);
    files.sort((a, b) => a.path.localeCompare(b.path));
    const expected = scanFilesSync(root, files);
    const asRecords = await collect([{ root, files }], { workerPath: WORKER, asJson: false });
    expect(asRecords.flatMap((result) => ('records' in result ? result.records : []))).toEqual(expected);
    const allRead = await collect([{ root, files }], { workerPath: WORKER, asJson: false, waitForReader: true });
    expect(allRead.flatMap((result) => ('records' in result ? result.records : []))).toEqual(expected);
    const asJson = await collect([{ root, files }], { workerPath: WORKER, asJson: true });
    const text = `[${asJson.map((result) => ('json' in result ? result.json : '')).join(',')}]`;
    expect(text).toBe(JSON.stringify(expected));
  });

  test('every batch is handed over once, in the order of the files, while the scan is still running', async () => {
    const root = manyFiles(700);
    const { files } = await listWorkflowFiles(root);
    const handed: number[] = [];
    let isDone = false;
    const scanning = scanInParallel([{ root, files }], { workerPath: WORKER, asJson: true }, (result) => {
      expect(isDone).toBe(false);
      handed.push(result.index);
    });
    await scanning;
    isDone = true;
    expect(handed).toEqual(Array.from({ length: Math.ceil(700 / 128) }, (_, index) => index));
  });

  test('what the reader thread answers for each batch is what that batch is made of', async () => {
    const root = manyFiles(600);
    const { files } = await listWorkflowFiles(root);
    const reader = join(folder(), 'fake-reader.mjs');
    writeFileSync(
      reader,
      [
        "import { parentPort } from 'node:worker_threads';",
        "const read = { problem: { code: 'unreadable', reason: 'read by the reader' }, sizeBytes: 0, modifiedMs: 0 };",
        'parentPort.on("message", ({ index, paths }) =>',
        '  parentPort.postMessage({ index, reads: paths.split("\\0").map(() => read) }));',
      ].join('\n'),
    );
    const results = await collect([{ root, files }], { workerPath: reader, asJson: false, waitForReader: true });
    const records = results.flatMap((result) => ('records' in result ? result.records : []));
    expect(records.map((record) => record.path)).toEqual(files.map((file) => file.path));
    expect(records.every((record) => record.error?.reason === 'read by the reader')).toBe(true);
  });

  test('batches of a reader thread that fails are read by this thread instead', async () => {
    const root = manyFiles(600);
    const broken = join(folder(), 'broken-worker.mjs');
    writeFileSync(broken, 'throw new Error("this worker cannot start");\n');
    const { files } = await listWorkflowFiles(root);
    const results = await collect([{ root, files }], { workerPath: broken, asJson: false });
    expect(results.flatMap((result) => ('records' in result ? result.records : []))).toEqual(
      scanFilesSync(root, files),
    );
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

  test('in a terminal nothing is "below": the messages for no match and no fitting workflow stand on their own', async () => {
    const unknown = await runCli(['intent', 'something nice', '--data-dir', folder()]);
    const none = await runCli(['intent', 'make a song with vocals', '--data-dir', folder()]);
    expect(none.stdout).toContain('No workflow in your library can');
    for (const result of [unknown, none]) expect(result.stdout).not.toMatch(/below/i);
  });
});
