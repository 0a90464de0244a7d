import { describe, expect, test } from 'vitest';
import { commands } from '@shared/contract/commands';
import { events } from '@shared/contract/events';
import { SettingsPatch, Settings } from '@shared/domain/settings';
import { NoticeCenter } from '../../../src/main/core/app/notice-center';
import { silentLogger } from '../../../src/main/core/lib/logger';
import { SettingsService } from '../../../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../../../src/main/core/settings/settings-store';

describe('the llm contract', () => {
  test('enhancement is off by default, with the smallest catalog model, 5 minutes idle and the Detailed style', () => {
    expect(Settings.parse({}).llm).toEqual({
      enabled: false,
      backend: 'local',
      model: 'qwen2.5-1.5b-instruct',
      modelsDir: '',
      idleTimeoutSeconds: 300,
      defaultStyle: 'detailed',
      openai: { baseUrl: 'http://127.0.0.1:11434/v1', model: '', apiKey: '' },
    });
  });

  test('a settings patch carries only what it names, so other llm settings are never reset', async () => {
    expect(SettingsPatch.parse({ llm: { enabled: true } })).toEqual({ llm: { enabled: true } });
    const store = new MemorySettingsStore({ llm: { model: '/models/mine.gguf', idleTimeoutSeconds: 60 } });
    const service = new SettingsService({ store, notices: new NoticeCenter(), log: silentLogger });
    await service.start();
    service.update({ llm: { enabled: true } });
    expect(service.get().llm).toMatchObject({ enabled: true, model: '/models/mine.gguf', idleTimeoutSeconds: 60 });
  });

  test('llm.enhance takes a trimmed, non-empty prompt, a known style and nothing else', () => {
    const input = commands['llm.enhance'].input;
    expect(input.parse({ prompt: '  a red fox  ', style: 'cinematic' })).toEqual({
      prompt: 'a red fox',
      style: 'cinematic',
    });
    expect(input.safeParse({ prompt: '   ' }).success).toBe(false);
    expect(input.safeParse({ prompt: 'x', style: 'baroque' }).success).toBe(false);
    expect(input.safeParse({ prompt: 'x', temperature: 2 }).success).toBe(false);
    expect(input.safeParse({ prompt: 'x'.repeat(4001) }).success).toBe(false);
  });

  test('settings refuse an idle time below zero, a server address that is not http(s), and an unknown backend', () => {
    const patch = commands['settings.update'].input;
    expect(patch.safeParse({ llm: { idleTimeoutSeconds: -1 } }).success).toBe(false);
    expect(patch.safeParse({ llm: { openai: { baseUrl: 'file:///etc/passwd' } } }).success).toBe(false);
    expect(patch.safeParse({ llm: { backend: 'cloud' } }).success).toBe(false);
  });

  test('llm.finished carries either a result or a serialised error', () => {
    const finished = events['llm.finished'];
    expect(finished.safeParse({ id: 'e1', ok: false, error: { code: 'llm_timeout', userMessage: 'x' } }).success).toBe(
      true,
    );
    expect(finished.safeParse({ id: 'e1', ok: true }).success).toBe(false);
    expect(
      events['llm.downloadProgress'].safeParse({
        downloadId: 'd',
        modelId: 'm',
        progress: { receivedBytes: 1, totalBytes: null, bytesPerSecond: 0, etaSeconds: null },
      }).success,
    ).toBe(true);
  });
});
