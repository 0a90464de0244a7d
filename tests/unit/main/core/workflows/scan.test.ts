import { closeSync, ftruncateSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  decodeWorkflowBytes,
  measureWorkflowBytes,
  parseWorkflowText,
  readableName,
} from '../../../../../src/main/core/workflows/scan-file';
import { scanRoot, type ReadWorkflow } from '../../../../../src/main/core/workflows/scan-root';
import { tempDir } from '../../../../support/core';
import { textToImageApi, textToImageUi, writeTree } from '../../../../support/workflows';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function library(files: Record<string, string | Buffer>): string {
  const dir = tempDir('comfydesk-scan-');
  dirs.push(dir);
  return writeTree(dir.path, files);
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

describe('scanning files', () => {
  test('two files with the same name in different folders are different workflows, each with its category', async () => {
    const root = library({
      'Portraits/flow.json': json(textToImageUi()),
      'Landscapes/flow.json': json(textToImageUi()),
    });
    const { records } = await scanRoot(root);
    expect(records).toHaveLength(2);
    expect(new Set(records.map((record) => record.id)).size).toBe(2);
    expect(records.map((record) => record.category).sort()).toEqual(['Landscapes', 'Portraits']);
    const again = await scanRoot(root);
    expect(again.records.map((record) => record.id).sort()).toEqual(records.map((record) => record.id).sort());
  });

  test('a UTF-8 byte order mark is skipped, and UTF-16 files are decoded', async () => {
    const root = library({
      'bom.json': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json(textToImageUi()))]),
      'utf16.json': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json(textToImageApi()), 'utf16le')]),
    });
    const { records } = await scanRoot(root);
    expect(records.map((record) => [record.path, record.error, record.format]).sort()).toEqual([
      ['bom.json', null, 'ui'],
      ['utf16.json', null, 'api'],
    ]);
  });

  test('truncated, empty, broken and foreign JSON become error records with a reason, and the scan goes on', async () => {
    const whole = json(textToImageUi());
    const root = library({
      'good.json': whole,
      'cut.json': whole.slice(0, Math.floor(whole.length / 2)),
      'empty.json': '',
      'broken.json': '{"nodes": [1, 2,, 3]}',
      'package.json': json({ name: 'thing', dependencies: {} }),
    });
    const { records } = await scanRoot(root);
    const byPath = Object.fromEntries(records.map((record) => [record.path, record]));
    expect(byPath['good.json']!.error).toBeNull();
    expect(byPath['cut.json']!.error?.code).toBe('truncated');
    expect(byPath['empty.json']!.error?.code).toBe('empty');
    expect(byPath['broken.json']!.error?.code).toBe('invalid_json');
    expect(byPath['package.json']!.error?.code).toBe('not_workflow');
    for (const record of records.filter((item) => item.error)) {
      expect(record).toMatchObject({ format: null, type: 'other', models: [], description: record.error!.reason });
    }
  });

  test('a file over 20 MB becomes an error card without being read', async () => {
    const root = library({ 'small.json': json(textToImageUi()) });
    const huge = join(root, 'huge.json');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 21 * 1024 * 1024); // sparse: no real disk use
    closeSync(fd);
    const { records } = await scanRoot(root);
    const record = records.find((item) => item.path === 'huge.json')!;
    expect(record.error?.code).toBe('too_large');
    expect(record.error?.reason).toMatch(/21\.0 MB/);
    expect(record.fileSizeBytes).toBe(21 * 1024 * 1024);
  });

  test('hidden folders and non-JSON files are left out; an image with the same base name is the thumbnail', async () => {
    const root = library({
      'flow.json': json(textToImageUi()),
      'flow.png': 'png bytes',
      'notes.txt': 'hello',
      '.git/config.json': json(textToImageUi()),
      '.trash/old.json': json(textToImageUi()),
      'sub/.hidden.json': json(textToImageUi()),
    });
    const { records } = await scanRoot(root);
    expect(records.map((record) => record.path)).toEqual(['flow.json']);
    expect(records[0]!.thumbnail).toBe('flow.png');
  });

  test('a symlink loop is walked once and does not hang the scan', async () => {
    const root = library({ 'a/b/flow.json': json(textToImageUi()) });
    symlinkSync(root, join(root, 'a', 'b', 'back-to-root'));
    symlinkSync(join(root, 'missing-target'), join(root, 'dangling'));
    const { records } = await scanRoot(root);
    expect(records.map((record) => record.path)).toEqual(['a/b/flow.json']);
  });

  test('a file that cannot be read becomes an error record; the others are still scanned', async () => {
    const root = library({ 'locked.json': json(textToImageUi()), 'open.json': json(textToImageUi()) });
    const read: ReadWorkflow = async (path) =>
      path.endsWith('locked.json')
        ? {
            problem: {
              code: 'unreadable',
              reason: 'ComfyDesk is not allowed to read this file. Check its permissions.',
            },
            sizeBytes: 0,
            modifiedMs: 0,
          }
        : (await import('../../../../../src/main/core/workflows/scan-file')).readWorkflowFile(path);
    const { records } = await scanRoot(root, { read });
    expect(records.find((record) => record.path === 'locked.json')?.error?.code).toBe('unreadable');
    expect(records.find((record) => record.path === 'open.json')?.error).toBeNull();
  });

  test('an earlier scan is reused for files whose size and time did not change', async () => {
    const root = library({ 'one.json': json(textToImageUi()), 'two.json': json(textToImageUi('other.safetensors')) });
    const first = await scanRoot(root);
    expect(first.readCount).toBe(2);
    writeFileSync(join(root, 'two.json'), json(textToImageUi('changed.safetensors')));
    const second = await scanRoot(root, { previous: new Map(first.records.map((record) => [record.path, record])) });
    expect(second.readCount).toBe(1);
    expect(second.records.find((record) => record.path === 'two.json')?.models[0]?.name).toBe('changed.safetensors');
  });
});

describe('reading many files', () => {
  const many = (count: number) =>
    Object.fromEntries(
      Array.from({ length: count }, (_, index) => [
        `Batch ${index % 3}/flow ${index}.json`,
        json(textToImageUi(`model-${index}.safetensors`)),
      ]),
    );

  test('a large folder is read completely, every file once, in the order of the walk', async () => {
    const root = library(many(150));
    const { records, readCount } = await scanRoot(root);
    expect(readCount).toBe(150);
    expect(records).toHaveLength(150);
    expect(new Set(records.map((record) => record.models[0]?.name)).size).toBe(150);
    expect(records.every((record) => record.error === null)).toBe(true);
  });

  test('a folder whose files are slow to read switches to overlapped reads and still gets every file right', async () => {
    const root = library(many(60));
    const direct = await scanRoot(root);
    // Any direct read counts as slow here, so the scan switches after its probe.
    const switched = await scanRoot(root, { slowFileMs: -1 });
    expect(switched.readCount).toBe(60);
    const summary = (records: typeof direct.records) =>
      records.map((record) => [record.path, record.models[0]?.name, record.error]).sort();
    expect(summary(switched.records)).toEqual(summary(direct.records));
    const reused = await scanRoot(root, {
      slowFileMs: -1,
      previous: new Map(direct.records.map((record) => [record.path, record])),
    });
    expect(reused.readCount).toBe(0);
    expect(summary(reused.records)).toEqual(summary(direct.records));
  });
});

describe('names and parsing', () => {
  test('file names are made readable', () => {
    expect(readableName('video/wan_2.2-image_to_video.json')).toBe('Wan 2.2 image to video');
    expect(readableName('hiresfix_esrgan_workflow.workflow.json')).toBe('Hiresfix esrgan workflow');
    expect(readableName('Upscale 4x.JSON')).toBe('Upscale 4x');
  });

  test('a file cut inside a string is truncated, not merely invalid', () => {
    expect(parseWorkflowText('{"nodes": [{"type": "KSamp')).toMatchObject({ problem: { code: 'truncated' } });
    expect(parseWorkflowText('   \n')).toMatchObject({ problem: { code: 'empty' } });
    expect(parseWorkflowText('{"a": 1} trailing')).toMatchObject({ problem: { code: 'invalid_json' } });
  });

  test('JSON nested past the limit is too deep, whether or not it also fails to parse', () => {
    const nested = (depth: number) => `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
    // 256 objects each holding a list: 512 levels pass, 514 do not.
    expect(parseWorkflowText(nested(256))).toHaveProperty('value');
    expect(parseWorkflowText(nested(257))).toMatchObject({ problem: { code: 'too_deep' } });
    expect(parseWorkflowText('['.repeat(100_000))).toMatchObject({ problem: { code: 'too_deep' } });
    expect(parseWorkflowText(`${nested(300)} trailing`)).toMatchObject({ problem: { code: 'too_deep' } });
    // Brackets inside strings are text, not nesting.
    expect(parseWorkflowText(JSON.stringify({ note: '['.repeat(1000) }))).toHaveProperty('value');
  });

  test('a depth measured on the bytes beforehand decides the same way', () => {
    const deep = `${'['.repeat(600)}${']'.repeat(600)}`;
    const depthOf = (text: string) => measureWorkflowBytes(Buffer.from(text, 'utf8'))?.depth;
    expect(parseWorkflowText(deep, depthOf(deep))).toMatchObject({ problem: { code: 'too_deep' } });
    expect(parseWorkflowText('[[[', depthOf('[[['))).toMatchObject({ problem: { code: 'truncated' } });
    expect(parseWorkflowText('{"a": [1]}', depthOf('{"a": [1]}'))).toEqual({ value: { a: [1] } });
    // UTF-16 files are measured after decoding.
    expect(measureWorkflowBytes(Buffer.from([0xff, 0xfe, 0x5b, 0x00]))).toBeUndefined();
  });

  test.each([
    ['{"title": "plain ASCII", "nodes": []}', true],
    ['{"title": "café", "nodes": []}', false],
    ['{"title": "\\"é", "nodes": []}', false],
    ['\ufeff{"nodes": []}', false],
  ])('bytes measured as ASCII decode to the same text as UTF-8: %s', (text, isAscii) => {
    const bytes = Buffer.from(text, 'utf8');
    const measure = measureWorkflowBytes(bytes)!;
    expect(measure.isAscii).toBe(isAscii);
    expect(decodeWorkflowBytes(bytes, measure.isAscii)).toBe(decodeWorkflowBytes(bytes));
  });
});
