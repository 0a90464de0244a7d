import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, test } from 'vitest';
import { NoticeCenter } from '../../../../src/main/core/app/notice-center';
import { silentLogger } from '../../../../src/main/core/lib/logger';
import { SettingsService } from '../../../../src/main/core/settings/settings-service';
import { MemorySettingsStore, confSettingsStore } from '../../../../src/main/core/settings/settings-store';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fileStore(contents?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'comfydesk-settings-'));
  dirs.push(dir);
  const location = join(dir, 'settings.json');
  if (contents !== undefined) writeFileSync(location, contents);
  const store = confSettingsStore(
    () => new Conf({ cwd: dir, configName: 'settings', projectName: 'comfydesk-test', clearInvalidConfig: false }),
    location,
  );
  return { dir, location, store };
}

const fixedNow = () => new Date('2026-11-23T10:00:00.000Z');

describe('SettingsService', () => {
  test('starts from defaults when there is no file, and persists changes to it', async () => {
    const { location, store } = fileStore();
    const service = new SettingsService({ store, notices: new NoticeCenter(), log: silentLogger });
    await service.start();
    expect(service.get().general.theme).toBe('dark');
    service.update({ general: { theme: 'light' } });
    expect(JSON.parse(readFileSync(location, 'utf8'))).toMatchObject({ general: { theme: 'light' } });

    const again = new SettingsService({ store: fileStore().store, notices: new NoticeCenter(), log: silentLogger });
    await again.start();
    expect(again.get().general.theme).toBe('dark');
  });

  test('a file that is not JSON is moved aside, never wiped, and the user is told where it went', async () => {
    const { dir, store } = fileStore('{"general": {"theme": "li');
    const notices = new NoticeCenter();
    const service = new SettingsService({ store, notices, log: silentLogger, now: fixedNow });
    await service.start();
    expect(service.get().general.theme).toBe('dark');
    const kept = readdirSync(dir).filter((name) => name.includes('.corrupt-'));
    expect(kept).toEqual(['settings.json.corrupt-2026-11-23T10-00-00-000Z']);
    expect(readFileSync(join(dir, kept[0]!), 'utf8')).toBe('{"general": {"theme": "li');
    expect(notices.list()).toHaveLength(1);
    expect(notices.list()[0]!.message).toContain('settings.json.corrupt-2026-11-23T10-00-00-000Z');
    // The app keeps working: a change is saved to a fresh file.
    service.update({ general: { theme: 'light' } });
    expect(service.get().general.theme).toBe('light');
  });

  test('valid JSON that is not an object ([1,2], a number, null) is moved aside like a damaged file, and the user is told', async () => {
    for (const contents of ['[1,2]', '42', 'null', '"settings"']) {
      const { dir, location, store } = fileStore(contents);
      const notices = new NoticeCenter();
      const service = new SettingsService({ store, notices, log: silentLogger, now: fixedNow });
      await service.start();
      expect(service.get().general.theme).toBe('dark');
      const kept = readdirSync(dir).filter((name) => name.includes('.corrupt-'));
      expect([contents, kept]).toEqual([contents, ['settings.json.corrupt-2026-11-23T10-00-00-000Z']]);
      expect(readFileSync(join(dir, kept[0]!), 'utf8')).toBe(contents);
      expect(notices.list().map((notice) => notice.message)).toEqual([
        expect.stringContaining('is not a settings file'),
      ]);
      // A change is saved to a fresh file; the original stays aside.
      service.update({ general: { theme: 'light' } });
      expect(JSON.parse(readFileSync(location, 'utf8'))).toMatchObject({ general: { theme: 'light' } });
    }
  });

  test('a store that hands back a list instead of an object is treated the same way', async () => {
    const moved: string[] = [];
    const notices = new NoticeCenter();
    const service = new SettingsService({
      store: new MemorySettingsStore([1, 2]),
      notices,
      log: silentLogger,
      moveFile: (from) => moved.push(from),
    });
    await service.start();
    expect(moved).toEqual(['(memory)']);
    expect(notices.list()[0]?.message).toContain('is not a settings file');
  });

  test('an invalid value resets only its section; the original file is kept aside', async () => {
    const { dir, store } = fileStore(JSON.stringify({ general: { theme: 'neon' }, extra: 1 }));
    const notices = new NoticeCenter();
    const service = new SettingsService({ store, notices, log: silentLogger, now: fixedNow });
    await service.start();
    expect(service.get().general.theme).toBe('dark');
    expect(readdirSync(dir).some((name) => name.startsWith('settings.json.corrupt-'))).toBe(true);
    expect(notices.list()[0]!.level).toBe('warning');
  });

  test('update merges one level deep, validates, and tells listeners', async () => {
    const store = new MemorySettingsStore({ general: { theme: 'light' } });
    const service = new SettingsService({ store, notices: new NoticeCenter(), log: silentLogger });
    await service.start();
    const seen: string[] = [];
    service.on('changed', (settings) => seen.push(settings.general.theme));
    service.update({ general: { theme: 'system' } });
    expect(seen).toEqual(['system']);
    expect(store.value).toMatchObject({ general: { theme: 'system' } });
  });

  test('a write that fails is reported and the old value stays', async () => {
    const store = new MemorySettingsStore();
    store.write = () => {
      throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
    };
    const service = new SettingsService({ store, notices: new NoticeCenter(), log: silentLogger });
    await service.start();
    expect(() => service.update({ general: { theme: 'light' } })).toThrow(/could not be saved/);
    expect(service.get().general.theme).toBe('dark');
  });
});

describe('settings patches', () => {
  test("changing one field of a section keeps the section's other fields (defaults are not re-applied)", async () => {
    const store = new MemorySettingsStore({
      library: { includeAppFolder: true, folders: ['/a', '/b'] },
      general: { theme: 'light' },
    });
    const service = new SettingsService({ store, notices: new NoticeCenter(), log: silentLogger });
    await service.start();
    const { SettingsPatch } = await import('../../../../src/shared/domain/settings');
    service.update(SettingsPatch.parse({ library: { includeAppFolder: false } }));
    expect(service.get().library).toEqual({ includeAppFolder: false, folders: ['/a', '/b'] });
    service.update(SettingsPatch.parse({ general: {} }));
    expect(service.get().general.theme).toBe('light');
  });
});
