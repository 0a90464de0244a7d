import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { silentLogger } from '../../src/main/core/lib/logger';
import type { ReadWorkflow } from '../../src/main/core/workflows/scan-root';
import { readWorkflowFile } from '../../src/main/core/workflows/scan-file';
import { WatchedRoot } from '../../src/main/core/workflows/watched-root';
import { tempDir, waitFor } from '../support/core';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const workflow = (name: string) =>
  JSON.stringify({
    _meta: { name },
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'x' } },
  });

/**
 * A read that takes the file's content at once and then waits to be released before it answers,
 * as a read does on a loaded machine: the content is in hand while the folder changes.
 */
function heldReads() {
  let holdNext: string | undefined;
  let release: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const seen: string[] = [];
  const read: ReadWorkflow = async (path) => {
    seen.push(path);
    const result = await readWorkflowFile(path);
    if (holdNext && path.endsWith(holdNext)) {
      holdNext = undefined;
      entered();
      await new Promise<void>((resolve) => (release = resolve));
    }
    return result;
  };
  return {
    read,
    /** Every path read so far. */
    seen,
    /** Holds the next read of a path ending in `suffix`; resolves once that read has its content. */
    holdNextRead(suffix: string): Promise<void> {
      holdNext = suffix;
      return new Promise<void>((resolve) => (entered = resolve));
    },
    release: () => release(),
  };
}

async function watchedRoot(read: ReadWorkflow, beforeScanEnds?: (dir: string) => Promise<void>) {
  const dir = tempDir('comfydesk-race-');
  cleanups.push(() => dir.remove());
  mkdirSync(join(dir.path, 'portraits'));
  writeFileSync(join(dir.path, 'portraits', 'fox.json'), workflow('Fox'));
  const upserts: string[] = [];
  const removals: string[] = [];
  const root = new WatchedRoot({
    path: dir.path,
    source: 'settings',
    log: silentLogger,
    debounceMs: 20,
    read,
    onChange: (upserted: WorkflowRecord[], removed: WorkflowRecord[]) => {
      upserts.push(...upserted.map((record) => record.path));
      removals.push(...removed.map((record) => record.path));
    },
    onStatus: () => undefined,
  });
  cleanups.push(() => root.stop());
  const started = root.start();
  await beforeScanEnds?.(dir.path);
  await started;
  const paths = () => [...root.records].map((record) => record.path).sort();
  if (!beforeScanEnds) expect(paths()).toEqual(['portraits/fox.json']);
  return { dir: dir.path, root, upserts, removals, paths };
}

describe('the watcher never keeps records of files that are gone', () => {
  test('a read in flight when its folder is renamed does not bring the old path back', async () => {
    const reads = heldReads();
    const { dir, upserts, removals, paths } = await watchedRoot(reads.read);

    // The file changes, and its read has the content in hand when the folder is renamed.
    const held = reads.holdNextRead('portraits/fox.json');
    writeFileSync(join(dir, 'portraits', 'fox.json'), workflow('Fox, edited'));
    await held;
    renameSync(join(dir, 'portraits'), join(dir, 'animals'));
    await waitFor(() => removals.includes('portraits/fox.json'), { message: 'the old path was not removed' });
    await waitFor(() => paths().includes('animals/fox.json'), { message: 'the new path did not appear' });
    const upsertsBefore = upserts.length;

    reads.release();
    // A later change is the barrier: once it is in, the released read has long finished.
    writeFileSync(join(dir, 'later.json'), workflow('Later'));
    await waitFor(() => paths().includes('later.json'));
    expect(paths()).toEqual(['animals/fox.json', 'later.json']);
    expect(upserts.slice(upsertsBefore)).not.toContain('portraits/fox.json');
  });

  test('a read in flight when its folder is deleted does not resurrect the file', async () => {
    const reads = heldReads();
    const { dir, removals, paths } = await watchedRoot(reads.read);

    const held = reads.holdNextRead('portraits/fox.json');
    writeFileSync(join(dir, 'portraits', 'fox.json'), workflow('Fox, edited'));
    await held;
    rmSync(join(dir, 'portraits'), { recursive: true });
    await waitFor(() => removals.includes('portraits/fox.json'));

    reads.release();
    writeFileSync(join(dir, 'later.json'), workflow('Later'));
    await waitFor(() => paths().includes('later.json'));
    expect(paths()).toEqual(['later.json']);
  });

  test('a read in flight when its file is deleted does not resurrect it', async () => {
    const reads = heldReads();
    const { dir, removals, paths } = await watchedRoot(reads.read);

    const held = reads.holdNextRead('portraits/fox.json');
    writeFileSync(join(dir, 'portraits', 'fox.json'), workflow('Fox, edited'));
    await held;
    rmSync(join(dir, 'portraits', 'fox.json'));
    await waitFor(() => removals.includes('portraits/fox.json'));

    reads.release();
    writeFileSync(join(dir, 'later.json'), workflow('Later'));
    await waitFor(() => paths().includes('later.json'));
    expect(paths()).toEqual(['later.json']);
  });

  test('a folder renamed while the first scan is reading it leaves only the new path', async () => {
    const reads = heldReads();
    const held = reads.holdNextRead('portraits/fox.json');
    const { dir, paths } = await watchedRoot(reads.read, async (folder) => {
      await held;
      renameSync(join(folder, 'portraits'), join(folder, 'animals'));
      // The watcher has taken in the rename (it reads the new path) while the scan still holds the old content.
      await waitFor(() => reads.seen.some((path) => path.endsWith('animals/fox.json')));
      writeFileSync(join(folder, 'barrier.json'), workflow('Barrier'));
      reads.release();
    });
    await waitFor(() => paths().includes('animals/fox.json') && paths().includes('barrier.json'));
    writeFileSync(join(dir, 'later.json'), workflow('Later'));
    await waitFor(() => paths().includes('later.json'));
    expect(paths()).toEqual(['animals/fox.json', 'barrier.json', 'later.json']);
  });
});
