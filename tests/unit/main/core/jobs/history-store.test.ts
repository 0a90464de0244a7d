import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Job } from '@shared/domain/job';
import { NoticeCenter } from '../../../../../src/main/core/app/notice-center';
import {
  HISTORY_MIGRATIONS,
  HISTORY_SCHEMA_VERSION,
  HistoryStore,
} from '../../../../../src/main/core/jobs/history-store';
import { silentLogger } from '../../../../../src/main/core/lib/logger';
import { tempDir } from '../../../../support/core';

const dirs: Array<{ remove: () => void }> = [];
const stores: HistoryStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.stop();
  for (const dir of dirs.splice(0)) dir.remove();
});

function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 'job-1',
    promptId: 'p-1',
    origin: 'comfydesk',
    serverId: 'local',
    workflowId: 'wf-1',
    workflowName: 'Text to image',
    status: 'succeeded',
    parameters: { positive: 'a red fox in the snow', seed: 42 },
    promptText: 'a red fox in the snow',
    createdAt: 1000,
    queuedAt: 1001,
    startedAt: 2000,
    finishedAt: 12_000,
    progress: null,
    error: null,
    outputs: [
      {
        kind: 'image',
        nodeId: '9',
        filename: 'ComfyUI_00001_.png',
        subfolder: '',
        type: 'output',
        localPath: 'x/ComfyUI_00001_.png',
      },
    ],
    position: 0,
    batch: null,
    ...overrides,
  };
}

async function open(file?: string, notices?: NoticeCenter) {
  const dir = tempDir('comfydesk-history-');
  dirs.push(dir);
  const store = new HistoryStore({
    file: file ?? join(dir.path, 'history.db'),
    log: silentLogger,
    notices,
    now: () => new Date('2026-11-23T10:00:00Z'),
  });
  await store.start();
  stores.push(store);
  return { store, dir: dir.path };
}

describe('HistoryStore', () => {
  test('a saved job survives closing and reopening the database, with its prompt and outputs', async () => {
    const { store, dir } = await open();
    store.save({
      job: job(),
      apiPrompt: { '3': { class_type: 'KSampler', inputs: {} } },
      sourceWorkflow: { nodes: [] },
    });
    await store.stop();
    const again = new HistoryStore({ file: join(dir, 'history.db'), log: silentLogger });
    await again.start();
    stores.push(again);
    const record = again.get('job-1');
    expect(record?.job).toMatchObject({ workflowName: 'Text to image', status: 'succeeded', parameters: { seed: 42 } });
    expect(record?.job.outputs[0]?.localPath).toBe('x/ComfyUI_00001_.png');
    expect(record?.apiPrompt).toEqual({ '3': { class_type: 'KSampler', inputs: {} } });
  });

  test('search finds jobs by words of the prompt (prefixes too), newest first, and tolerates FTS syntax in input', async () => {
    const { store } = await open();
    store.save({
      job: job({ id: 'a', promptText: 'a red fox in the snow', createdAt: 1 }),
      apiPrompt: null,
      sourceWorkflow: null,
    });
    store.save({
      job: job({ id: 'b', promptText: 'portrait of a fox', createdAt: 2 }),
      apiPrompt: null,
      sourceWorkflow: null,
    });
    store.save({
      job: job({ id: 'c', promptText: 'city at night', createdAt: 3 }),
      apiPrompt: null,
      sourceWorkflow: null,
    });
    expect(store.list({ text: 'fox' }).map((j) => j.id)).toEqual(['b', 'a']);
    expect(store.list({ text: 'sno' }).map((j) => j.id)).toEqual(['a']);
    expect(store.list({ text: 'night" (*' }).map((j) => j.id)).toEqual(['c']);
    expect(store.list().map((j) => j.id)).toEqual(['c', 'b', 'a']);
    expect(store.list({ limit: 1, offset: 1 }).map((j) => j.id)).toEqual(['b']);
  });

  test('an update replaces the record and the search index follows', async () => {
    const { store } = await open();
    store.save({ job: job({ promptText: 'old words' }), apiPrompt: null, sourceWorkflow: null });
    store.save({ job: job({ promptText: 'new words', status: 'failed' }), apiPrompt: null, sourceWorkflow: null });
    expect(store.count()).toBe(1);
    expect(store.list({ text: 'old' })).toEqual([]);
    expect(store.list({ text: 'new' })[0]?.status).toBe('failed');
  });

  test('durations of past successful runs feed the ETA, per workflow and server', async () => {
    const { store } = await open();
    store.save({ job: job({ id: '1', startedAt: 0, finishedAt: 10_000 }), apiPrompt: null, sourceWorkflow: null });
    store.save({ job: job({ id: '2', startedAt: 0, finishedAt: 20_000 }), apiPrompt: null, sourceWorkflow: null });
    store.save({
      job: job({ id: '3', startedAt: 0, finishedAt: 99_000, status: 'failed' }),
      apiPrompt: null,
      sourceWorkflow: null,
    });
    store.save({
      job: job({ id: '4', startedAt: 0, finishedAt: 5000, serverId: 'pod' }),
      apiPrompt: null,
      sourceWorkflow: null,
    });
    expect(store.durations('wf-1', 'local').sort()).toEqual([10_000, 20_000]);
  });

  test('unfinished jobs are found after a restart, and delete returns what it removed', async () => {
    const { store } = await open();
    store.save({ job: job({ id: 'held', status: 'held', position: 2 }), apiPrompt: null, sourceWorkflow: null });
    store.save({ job: job({ id: 'run', status: 'running', position: 1 }), apiPrompt: null, sourceWorkflow: null });
    store.save({ job: job({ id: 'done' }), apiPrompt: null, sourceWorkflow: null });
    expect(store.unfinished().map((record) => record.job.id)).toEqual(['run', 'held']);
    expect(store.delete('done')?.job.id).toBe('done');
    expect(store.get('done')).toBeUndefined();
  });

  test('a damaged database is moved aside, the user is told, and a fresh one works', async () => {
    const dir = tempDir('comfydesk-history-');
    dirs.push(dir);
    const file = join(dir.path, 'history.db');
    writeFileSync(file, 'this is not a database, just some text that happens to be here');
    const notices = new NoticeCenter();
    const { store } = await open(file, notices);
    store.save({ job: job(), apiPrompt: null, sourceWorkflow: null });
    expect(store.count()).toBe(1);
    expect(readdirSync(dir.path).some((name) => name.startsWith('history.db.corrupt-2026-11-23'))).toBe(true);
    expect(notices.list()[0]?.message).toContain('history.db.corrupt-');
  });

  test('the schema is migrated in place: the version is recorded and reopening does not recreate it', async () => {
    const { store, dir } = await open();
    store.save({ job: job(), apiPrompt: null, sourceWorkflow: null });
    await store.stop();
    const { DatabaseSync } = await import('node:sqlite');
    const raw = new DatabaseSync(join(dir, 'history.db'));
    expect((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(
      HISTORY_SCHEMA_VERSION,
    );
    raw.close();
    await store.start();
    expect(store.count()).toBe(1);
  });

  test('a database of the first schema is migrated in place: its jobs stay, and what the new columns hold starts empty', async () => {
    const dir = tempDir('comfydesk-history-');
    dirs.push(dir);
    const file = join(dir.path, 'history.db');
    const { DatabaseSync } = await import('node:sqlite');
    const raw = new DatabaseSync(file);
    raw.exec(HISTORY_MIGRATIONS[0]!);
    raw.exec('PRAGMA user_version = 1');
    raw
      .prepare(
        `INSERT INTO jobs (id, prompt_id, origin, server_id, workflow_id, workflow_name, status, prompt_text, created_at, started_at, finished_at)
         VALUES ('old', 'p-old', 'comfydesk', 'local', 'wf-1', 'Text to image', 'succeeded', 'a red fox', 1, 2, 10002)`,
      )
      .run();
    raw.close();
    const { store } = await open(file);
    expect(store.get('old')).toMatchObject({
      job: { id: 'old', status: 'succeeded' },
      sentAt: null,
      uploads: [],
      uploaded: [],
    });
    expect(store.pastRuns('wf-1', 'local')).toEqual([{ durationMs: 10_000, samplingSteps: null }]);
    expect(store.list({ text: 'fox' }).map((item) => item.id)).toEqual(['old']);
    store.writeState('queue.paused', 'true');
    expect(store.readState('queue.paused')).toBe('true');
  });

  test('a job keeps when its prompt was sent, its pending and done uploads and its steps, across a reopen', async () => {
    const { store, dir } = await open();
    const uploads = [{ stagedId: 's-1', targets: [{ nodeId: '10', inputName: 'image' }] }];
    const uploaded = [{ stagedId: 's-2', targets: [{ nodeId: '11', inputName: 'image' }], name: 'photo.png' }];
    store.save({
      job: job({ id: 'sent', status: 'held' }),
      apiPrompt: {},
      sourceWorkflow: null,
      sentAt: 5000,
      uploads,
      uploaded,
      samplingSteps: 30,
    });
    store.save({
      job: job({ id: 'ran', startedAt: 0, finishedAt: 9000 }),
      apiPrompt: {},
      sourceWorkflow: null,
      samplingSteps: 30,
    });
    store.writeState('queue.paused', 'true');
    await store.stop();
    const again = new HistoryStore({ file: join(dir, 'history.db'), log: silentLogger });
    await again.start();
    stores.push(again);
    expect(again.get('sent')).toMatchObject({ sentAt: 5000, uploads, uploaded, samplingSteps: 30 });
    expect(again.get('ran')).toMatchObject({ uploads: [], uploaded: [] });
    expect(again.pastRuns('wf-1', 'local')).toEqual([{ durationMs: 9000, samplingSteps: 30 }]);
    expect(again.readState('queue.paused')).toBe('true');
    expect(again.readState('never.written')).toBeUndefined();
  });

  test('a database from a newer ComfyDesk is refused, not damaged', async () => {
    const dir = tempDir('comfydesk-history-');
    dirs.push(dir);
    const file = join(dir.path, 'history.db');
    const { DatabaseSync } = await import('node:sqlite');
    const raw = new DatabaseSync(file);
    raw.exec('PRAGMA user_version = 999');
    raw.close();
    const store = new HistoryStore({ file, log: silentLogger });
    await expect(store.start()).rejects.toMatchObject({
      code: 'io_error',
      userMessage: expect.stringContaining('newer ComfyDesk'),
    });
  });

  test('damaged pages fail the integrity check at start: the file is moved aside, the user is told, a new one works', async () => {
    const { store, dir } = await open();
    for (let index = 0; index < 200; index += 1)
      store.save({
        job: job({ id: `old-${index}`, promptText: 'x'.repeat(300) }),
        apiPrompt: null,
        sourceWorkflow: null,
      });
    await store.stop();
    const file = join(dir, 'history.db');
    // Page 1 (the header) stays intact, so the file still opens and answers its version; page 4 is garbage.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(512, 0xab), 0, 512, 4096 * 3);
    closeSync(fd);
    const notices = new NoticeCenter();
    const again = new HistoryStore({ file, log: silentLogger, notices, now: () => new Date('2026-11-23T10:00:00Z') });
    await again.start();
    stores.push(again);
    const names = readdirSync(dir);
    const moved = names.find((name) => name.startsWith('history.db.corrupt-2026-11-23'));
    expect(moved).toBeDefined();
    expect(notices.list()).toEqual([
      expect.objectContaining({ level: 'warning', message: expect.stringContaining(`kept as ${join(dir, moved!)}`) }),
    ]);
    expect(notices.list()[0]?.message).toContain('damaged');
    expect(again.count()).toBe(0);
    again.save({ job: job(), apiPrompt: null, sourceWorkflow: null });
    expect(again.count()).toBe(1);
    expect(again.isPersistent).toBe(true);
  });

  test('damage met by a save while running is reported at once, moved aside, and that record and the next are kept', async () => {
    const notices = new NoticeCenter();
    const { store, dir } = await open(undefined, notices);
    store.save({ job: job({ id: 'before' }), apiPrompt: null, sourceWorkflow: null });
    // Another writer (a failing disk, a sync tool) breaks the search index's structure page under the open store.
    const { DatabaseSync } = await import('node:sqlite');
    const other = new DatabaseSync(join(dir, 'history.db'));
    other.exec("UPDATE jobs_fts_data SET block = x'ffffffffffffffff' WHERE id = 10");
    other.close();
    store.save({ job: job({ id: 'during', promptText: 'a fox at dusk' }), apiPrompt: null, sourceWorkflow: null });
    expect(notices.list()).toHaveLength(1);
    expect(notices.list()[0]?.message).toMatch(/damaged while saving a generation.*kept as .*history\.db\.corrupt-/);
    expect(readdirSync(dir).some((name) => name.startsWith('history.db.corrupt-'))).toBe(true);
    store.save({ job: job({ id: 'after' }), apiPrompt: null, sourceWorkflow: null });
    expect(store.list().map((saved) => saved.id)).toEqual(['after', 'during']);
    expect(store.list({ text: 'dusk' }).map((saved) => saved.id)).toEqual(['during']);
    await store.stop();
    await store.start();
    expect(store.count()).toBe(2);
  });

  test('a read-only database is reported as read-only, left unchanged and not replaced; its jobs stay listed', async () => {
    const { store, dir } = await open();
    store.save({ job: job({ id: 'past', promptText: 'a red fox' }), apiPrompt: null, sourceWorkflow: null });
    await store.stop();
    const file = join(dir, 'history.db');
    // A file format "write version" above 2 makes SQLite itself refuse every write, even for root.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([3]), 0, 1, 18);
    closeSync(fd);
    const before = readFileSync(file);
    const notices = new NoticeCenter();
    const again = new HistoryStore({ file, log: silentLogger, notices });
    await again.start();
    stores.push(again);
    expect(notices.list()).toHaveLength(1);
    expect(notices.list()[0]?.message).toContain('read-only');
    expect(notices.list()[0]?.message).not.toContain('damaged');
    expect(again.isPersistent).toBe(false);
    expect(again.list().map((saved) => saved.id)).toEqual(['past']);
    again.save({ job: job({ id: 'new', createdAt: 5000 }), apiPrompt: null, sourceWorkflow: null });
    expect(again.list().map((saved) => saved.id)).toEqual(['new', 'past']);
    expect(notices.list()).toHaveLength(1);
    await again.stop();
    expect(readdirSync(dir).filter((name) => name.includes('corrupt'))).toEqual([]);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test.runIf(process.getuid?.() !== 0)(
    'a history file without write permission is reported as read-only, not damaged',
    async () => {
      const { store, dir } = await open();
      store.save({ job: job({ id: 'past' }), apiPrompt: null, sourceWorkflow: null });
      await store.stop();
      const file = join(dir, 'history.db');
      chmodSync(file, 0o444);
      chmodSync(dir, 0o555);
      try {
        const notices = new NoticeCenter();
        const again = new HistoryStore({ file, log: silentLogger, notices });
        await again.start();
        stores.push(again);
        expect(notices.list()[0]?.message).toContain('read-only');
        expect(again.isPersistent).toBe(false);
        expect(existsSync(file)).toBe(true);
        expect(readdirSync(dir).filter((name) => name.includes('corrupt'))).toEqual([]);
      } finally {
        chmodSync(dir, 0o755);
        chmodSync(file, 0o644);
      }
    },
  );
});
