import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { EnhanceFinished } from '@shared/contract/llm';
import type { LlmStatus } from '@shared/domain/llm';
import { NoticeCenter } from '../../src/main/core/app/notice-center';
import { silentLogger } from '../../src/main/core/lib/logger';
import { LlmService } from '../../src/main/core/llm/llm-service';
import type { LlmEngine } from '../../src/main/core/llm/engine';
import { LocalEngine } from '../../src/main/core/llm/local-engine';
import { ProcessEngine, forkEngineProcess } from '../../src/main/core/llm/process-engine';
import { LlmModelStore, llmDownloader } from '../../src/main/core/llm/model-store';
import { OpenAiBackend } from '../../src/main/core/llm/openai-backend';
import { SettingsService } from '../../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../../src/main/core/settings/settings-store';
import { tempDir, waitFor } from '../support/core';
import { ROOT } from '../support/paths';
import { ManualSchedule } from '../support/llm';
import { tinyGgufBytes, writeTinyGguf } from '../fixtures/tiny-gguf';

const TIME_LIMIT_MS = 60_000;
const IDLE_SECONDS = 7;
/** The built engine process (integration tests build once before they run). */
const WORKER = join(ROOT, 'out', 'main', 'llm-worker.js');

/**
 * The same behaviour either way: node-llama-cpp in this process, and in its own process as the app
 * runs it. Greedy decoding on the CPU: the same answer every run, no GPU probing.
 */
const ENGINES: Array<[string, () => LlmEngine]> = [
  ['in this process', () => new LocalEngine({ log: silentLogger, gpu: false, temperature: 0 })],
  [
    'in its own process',
    () =>
      new ProcessEngine({
        spawn: forkEngineProcess(WORKER),
        options: { gpu: false, temperature: 0 },
        log: silentLogger,
      }),
  ],
];

interface Harness {
  service: LlmService;
  settings: SettingsService;
  schedule: ManualSchedule;
  modelPath: string;
  dir: string;
  statuses: LlmStatus[];
  tokens: Map<string, string[]>;
  /** Token and finish events in arrival order, as `token:<id>` / `finished:<id>`. */
  order: string[];
  finished(id: string): Promise<EnhanceFinished>;
  stop(): Promise<void>;
}

const running: Harness[] = [];
afterEach(async () => {
  for (const harness of running.splice(0)) await harness.stop();
});

async function startService(
  makeEngine: () => LlmEngine,
  options: { realTimers?: boolean; idleSeconds?: number } = {},
): Promise<Harness> {
  const dir = tempDir('comfydesk-llm-');
  const modelPath = join(dir.path, 'tiny.gguf');
  writeTinyGguf(modelPath);
  const settings = new SettingsService({
    store: new MemorySettingsStore({
      llm: { enabled: true, model: modelPath, idleTimeoutSeconds: options.idleSeconds ?? IDLE_SECONDS },
    }),
    notices: new NoticeCenter(),
    log: silentLogger,
  });
  await settings.start();
  const schedule = new ManualSchedule();
  const store = new LlmModelStore({
    settings,
    downloader: llmDownloader({ log: silentLogger }),
    defaultModelsDir: join(dir.path, 'models'),
    log: silentLogger,
  });
  const service = new LlmService({
    settings,
    store,
    engine: makeEngine(),
    openai: new OpenAiBackend({ log: silentLogger }),
    schedule: options.realTimers ? undefined : schedule.schedule,
    timeLimitMs: TIME_LIMIT_MS,
    log: silentLogger,
  });
  await service.start();
  const statuses: LlmStatus[] = [];
  const tokens = new Map<string, string[]>();
  const order: string[] = [];
  const results = new Map<string, EnhanceFinished>();
  service.on('status', (status) => statuses.push(status));
  service.on('token', ({ id, text }) => {
    tokens.set(id, [...(tokens.get(id) ?? []), text]);
    order.push(`token:${id}`);
  });
  service.on('finished', (finished) => {
    results.set(finished.id, finished);
    order.push(`finished:${finished.id}`);
  });
  const harness: Harness = {
    service,
    settings,
    schedule,
    modelPath,
    dir: dir.path,
    statuses,
    tokens,
    order,
    // waitFor only resolves with a value that is there.
    finished: async (id) =>
      (await waitFor(() => results.get(id), {
        timeoutMs: 30_000,
        message: `enhancement ${id} did not finish`,
      })) as EnhanceFinished,
    stop: async () => {
      await service.stop();
      await settings.stop();
      dir.remove();
    },
  };
  running.push(harness);
  return harness;
}

describe.each(ENGINES)('LlmService with a real GGUF model, node-llama-cpp %s', (_, makeEngine) => {
  test('the model loads on the first request, tokens stream, and the cleaned result comes back', async () => {
    const harness = await startService(makeEngine);
    const { service } = harness;
    expect(service.status()).toMatchObject({ activity: 'unloaded', loadedModel: null, backend: 'local' });

    const { id } = service.enhance({ prompt: 'a red fox in the snow', style: 'detailed' });
    const finished = await harness.finished(id);

    expect(harness.statuses.map((status) => status.activity)).toEqual(
      expect.arrayContaining(['loading', 'generating', 'ready']),
    );
    expect(harness.tokens.get(id)!.length).toBeGreaterThan(0);
    expect(finished.ok).toBe(true);
    if (!finished.ok) return;
    expect(finished.result).toMatchObject({
      original: 'a red fox in the snow',
      style: 'detailed',
      model: harness.modelPath,
    });
    expect(finished.result.text.length).toBeGreaterThan(0);
    expect(finished.result.tokens).toBeGreaterThan(0);
    // The tiny model only knows a few scenery words, so it never names the fox: the check says so.
    expect(finished.result.isSubjectKept).toBe(false);
    expect(finished.result.missingWords).toEqual(['red', 'fox', 'snow']);
    expect(service.status()).toMatchObject({ activity: 'ready', loadedModel: harness.modelPath, compute: 'cpu' });
    expect(service.status().threads).toBeGreaterThanOrEqual(1);
    const models = await service.models();
    expect(models.models.find((model) => model.id === harness.modelPath)).toMatchObject({
      state: 'loaded',
      isSelected: true,
      source: 'file',
    });
  });

  test('cancelling mid-stream ends the request with "cancelled" and keeps the model loaded', async () => {
    const harness = await startService(makeEngine);
    const { id } = harness.service.enhance({ prompt: 'a lighthouse at night', style: 'cinematic' });
    // Cancel on the first token, while generation is surely still running.
    harness.service.on('token', (token) => token.id === id && harness.service.cancel(id));
    const finished = await harness.finished(id);
    expect(harness.tokens.get(id)!.length).toBeLessThan(5);
    expect(finished).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(harness.service.status().loadedModel).toBe(harness.modelPath);
  });

  test('after the idle timeout the model is unloaded, and the next request loads it again', async () => {
    const harness = await startService(makeEngine);
    const first = harness.service.enhance({ prompt: 'a quiet harbour' });
    await harness.finished(first.id);
    await waitFor(() => harness.schedule.has(IDLE_SECONDS * 1000));
    expect(harness.service.status().unloadAt).not.toBeNull();

    harness.schedule.fire(IDLE_SECONDS * 1000);
    await waitFor(() => harness.service.status().activity === 'unloaded');
    expect(harness.service.status().loadedModel).toBeNull();

    const loadsBefore = harness.statuses.filter((status) => status.activity === 'loading').length;
    const second = harness.service.enhance({ prompt: 'a quiet harbour' });
    expect((await harness.finished(second.id)).ok).toBe(true);
    expect(harness.statuses.filter((status) => status.activity === 'loading').length).toBe(loadsBefore + 1);
    expect(harness.service.status().loadedModel).toBe(harness.modelPath);
  });

  test('with real timers, a short idle timeout unloads the model by itself', async () => {
    const harness = await startService(makeEngine, { realTimers: true, idleSeconds: 1 });
    await harness.finished(harness.service.enhance({ prompt: 'a quiet harbour' }).id);
    expect(harness.service.status().loadedModel).toBe(harness.modelPath);
    await waitFor(() => harness.service.status().activity === 'unloaded', { timeoutMs: 10_000 });
    expect(harness.statuses.at(-1)).toMatchObject({ activity: 'unloaded', loadedModel: null, unloadAt: null });
  });

  test('two requests made together run one after the other, never interleaved', async () => {
    const harness = await startService(makeEngine);
    const a = harness.service.enhance({ prompt: 'a castle on a hill', style: 'artistic' });
    const b = harness.service.enhance({ prompt: 'a boat on a lake', style: 'minimal' });
    expect(harness.service.status().queued).toBe(2);
    const [resultA, resultB] = await Promise.all([harness.finished(a.id), harness.finished(b.id)]);
    expect(resultA.ok && resultB.ok).toBe(true);
    const lastOfA = harness.order.lastIndexOf(`finished:${a.id}`);
    const firstOfB = harness.order.indexOf(`token:${b.id}`);
    expect(firstOfB).toBeGreaterThan(lastOfA);
    expect(harness.order.slice(0, lastOfA).every((entry) => entry.endsWith(a.id))).toBe(true);
    expect(harness.statuses.some((status) => status.queued === 1 && status.activity !== 'unloaded')).toBe(true);
  });

  test('cancelling a queued request removes it before it runs', async () => {
    const harness = await startService(makeEngine);
    const a = harness.service.enhance({ prompt: 'a castle on a hill' });
    const b = harness.service.enhance({ prompt: 'a boat on a lake' });
    harness.service.cancel(b.id);
    expect(await harness.finished(b.id)).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect((await harness.finished(a.id)).ok).toBe(true);
    expect(harness.tokens.has(b.id)).toBe(false);
  });

  test('a request that runs past the time limit is stopped with llm_timeout', async () => {
    const harness = await startService(makeEngine);
    const { id } = harness.service.enhance({ prompt: 'a market street at dusk' });
    let fired = 0;
    // The time limit runs out while the first token is being delivered.
    harness.service.on(
      'token',
      (token) => token.id === id && fired === 0 && (fired = harness.schedule.fire(TIME_LIMIT_MS)),
    );
    const finished = await harness.finished(id);
    expect(fired).toBe(1);
    expect(finished).toMatchObject({ ok: false, error: { code: 'llm_timeout' } });
    expect(finished.ok === false && finished.error.userMessage).toMatch(/took longer than 60 s.*prompt is unchanged/);
  });

  test('one model is in memory at a time: asking for another swaps it', async () => {
    const harness = await startService(makeEngine);
    const other = join(harness.dir, 'other.gguf');
    writeTinyGguf(other, { seed: 7 });
    await harness.finished(harness.service.enhance({ prompt: 'a forest path' }).id);
    expect(harness.service.status().loadedModel).toBe(harness.modelPath);
    const finished = await harness.finished(harness.service.enhance({ prompt: 'a forest path', model: other }).id);
    expect(finished.ok && finished.result.model).toBe(other);
    expect(harness.service.status().loadedModel).toBe(other);
  });

  test('choosing another model in settings frees the loaded one right away', async () => {
    const harness = await startService(makeEngine);
    await harness.finished(harness.service.enhance({ prompt: 'a forest path' }).id);
    harness.settings.update({ llm: { model: 'llama-3.2-3b-instruct' } });
    await waitFor(() => harness.service.status().activity === 'unloaded');
    expect(harness.service.status()).toMatchObject({ loadedModel: null, model: 'llama-3.2-3b-instruct' });
  });

  describe('a bad model file is refused with a clear error and never takes the process down', () => {
    const cases: Array<{ name: string; write: (path: string) => void; code: string; message: RegExp }> = [
      { name: 'a missing file', write: () => undefined, code: 'llm_model_missing', message: /does not exist/ },
      {
        name: 'a text file',
        write: (path) => writeFileSync(path, 'this is not a model at all, just some text'),
        code: 'llm_model_invalid',
        message: /not a GGUF model file/,
      },
      {
        name: 'a truncated download',
        write: (path) => writeFileSync(path, tinyGgufBytes().subarray(0, 300_000)),
        code: 'llm_model_invalid',
        message: /incomplete/,
      },
      {
        // llama.cpp hits a native assertion on this one and aborts the whole process if it ever loads it.
        name: 'a header without feed_forward_length',
        write: (path) => writeFileSync(path, tinyGgufBytes({ omitKeys: ['llama.feed_forward_length'] })),
        code: 'llm_model_invalid',
        message: /lacks llama\.feed_forward_length/,
      },
    ];
    for (const { name, write, code, message } of cases) {
      test(name, async () => {
        const harness = await startService(makeEngine);
        const path = join(harness.dir, 'bad.gguf');
        write(path);
        const finished = await harness.finished(harness.service.enhance({ prompt: 'a red fox', model: path }).id);
        expect(finished).toMatchObject({ ok: false, error: { code } });
        expect(finished.ok === false && finished.error.userMessage).toMatch(message);
        expect(harness.service.status()).toMatchObject({ activity: 'unloaded', loadedModel: null });
        // The service keeps working with a good model afterwards.
        expect((await harness.finished(harness.service.enhance({ prompt: 'a red fox' }).id)).ok).toBe(true);
      });
    }
  });

  test('a catalog model that is not downloaded says how to get it', async () => {
    const harness = await startService(makeEngine);
    const finished = await harness.finished(
      harness.service.enhance({ prompt: 'a red fox', model: 'phi-3-mini-4k-instruct' }).id,
    );
    expect(finished).toMatchObject({ ok: false, error: { code: 'llm_model_missing' } });
    expect(finished.ok === false && finished.error.userMessage).toMatch(
      /not installed yet.*comfydesk llm download phi-3-mini-4k-instruct/,
    );
  });

  test('stopping the service cancels what is queued and frees the model', async () => {
    const harness = await startService(makeEngine);
    const a = harness.service.enhance({ prompt: 'a castle on a hill' });
    const b = harness.service.enhance({ prompt: 'a boat on a lake' });
    let stopped: Promise<void> | undefined;
    harness.service.on('token', (token) => token.id === a.id && (stopped ??= harness.service.stop()));
    await waitFor(() => stopped !== undefined, { timeoutMs: 30_000 });
    await stopped;
    expect(await harness.finished(a.id)).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(await harness.finished(b.id)).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(harness.service.status()).toMatchObject({ activity: 'unloaded', loadedModel: null });
  });
});
