import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { EnhanceFinished } from '@shared/contract/llm';
import type { LlmStatus } from '@shared/domain/llm';
import { NoticeCenter } from '../../src/main/core/app/notice-center';
import { silentLogger } from '../../src/main/core/lib/logger';
import { llmDownloader } from '../../src/main/core/llm/model-store';
import { LlmService } from '../../src/main/core/llm/llm-service';
import { LlmModelStore } from '../../src/main/core/llm/model-store';
import { OpenAiBackend } from '../../src/main/core/llm/openai-backend';
import {
  ProcessEngine,
  forkEngineProcess,
  type EngineProcess,
  type SpawnEngineProcess,
} from '../../src/main/core/llm/process-engine';
import { SettingsService } from '../../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../../src/main/core/settings/settings-store';
import {
  ENGINE_SERVICE_NAME,
  utilityEngineProcess,
  type UtilityProcessModule,
} from '../../src/main/electron/utility-engine';
import { tempDir, waitFor } from '../support/core';
import { createElectronStandIn, StandInUtilityProcess } from '../support/electron-stand-in';
import { ROOT } from '../support/paths';
import { tinyGgufBytes, writeTinyGguf } from '../fixtures/tiny-gguf';

const WORKER = join(ROOT, 'out', 'main', 'llm-worker.js');
/** An engine process that skips ComfyDesk's header checks, so llama.cpp really gets a bad file. */
const UNCHECKED_WORKER = join(ROOT, 'tests', 'support', 'unchecked-llm-worker.mjs');

interface Harness {
  service: LlmService;
  modelPath: string;
  dir: string;
  /** Every engine process started so far, in order. */
  processes: EngineProcess[];
  statuses: LlmStatus[];
  tokens: Map<string, string[]>;
  finished(id: string): Promise<EnhanceFinished>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const child of StandInUtilityProcess.forked.splice(0)) child.kill();
});

async function startService(spawn: SpawnEngineProcess): Promise<Harness> {
  const dir = tempDir('comfydesk-llm-engine-');
  const modelPath = join(dir.path, 'tiny.gguf');
  writeTinyGguf(modelPath);
  const settings = new SettingsService({
    store: new MemorySettingsStore({ llm: { enabled: true, model: modelPath } }),
    notices: new NoticeCenter(),
    log: silentLogger,
  });
  await settings.start();
  const processes: EngineProcess[] = [];
  const service = new LlmService({
    settings,
    store: new LlmModelStore({
      settings,
      downloader: llmDownloader({ log: silentLogger }),
      defaultModelsDir: join(dir.path, 'models'),
      log: silentLogger,
    }),
    engine: new ProcessEngine({
      spawn: () => {
        const started = spawn();
        processes.push(started);
        return started;
      },
      options: { gpu: false, temperature: 0 },
      log: silentLogger,
    }),
    openai: new OpenAiBackend({ log: silentLogger }),
    log: silentLogger,
  });
  await service.start();
  const statuses: LlmStatus[] = [];
  const tokens = new Map<string, string[]>();
  const results = new Map<string, EnhanceFinished>();
  service.on('status', (status) => statuses.push(status));
  service.on('token', ({ id, text }) => tokens.set(id, [...(tokens.get(id) ?? []), text]));
  service.on('finished', (finished) => results.set(finished.id, finished));
  cleanups.push(async () => {
    await service.stop();
    await settings.stop();
    dir.remove();
  });
  return {
    service,
    modelPath,
    dir: dir.path,
    processes,
    statuses,
    tokens,
    finished: async (id) =>
      (await waitFor(() => results.get(id), {
        timeoutMs: 30_000,
        message: `enhancement ${id} did not finish`,
      })) as EnhanceFinished,
  };
}

/** Starts an enhancement and ends the engine's process from outside at its first token. */
async function killedMidGeneration(harness: Harness, kill: () => void): Promise<EnhanceFinished> {
  const { id } = harness.service.enhance({ prompt: 'a lighthouse at night' });
  let killed = false;
  harness.service.on('token', (token) => {
    if (token.id !== id || killed) return;
    killed = true;
    kill();
  });
  return harness.finished(id);
}

describe('the local engine in a process of its own', () => {
  test('a killed engine leaves ComfyDesk running: the request fails, the status says the engine stopped, and a restart brings it back', async () => {
    const harness = await startService(forkEngineProcess(WORKER));
    const { service } = harness;
    expect(service.status().engine).toEqual({ state: 'ok' });

    // The operating system ends it, as it does to a process that ran the machine out of memory.
    const finished = await killedMidGeneration(harness, () => harness.processes[0]!.kill());
    expect(finished).toMatchObject({ ok: false, error: { code: 'llm_engine_stopped' } });
    expect(finished.ok === false && finished.error.userMessage).toMatch(
      /The AI engine stopped unexpectedly while generating with tiny\.gguf: it was killed.*ComfyDesk kept running and your prompt is unchanged/,
    );
    await waitFor(() => service.status().activity === 'unloaded');
    expect(service.status()).toMatchObject({
      engine: { state: 'stopped', message: expect.stringContaining('stopped unexpectedly') },
      loadedModel: null,
    });
    expect(harness.statuses.some((status) => status.engine.state === 'stopped')).toBe(true);

    // Until the user restarts it, requests fail at once with the same explanation and start nothing.
    const refused = await harness.finished(service.enhance({ prompt: 'a red fox' }).id);
    expect(refused).toMatchObject({ ok: false, error: { code: 'llm_engine_stopped' } });
    expect(harness.processes).toHaveLength(1);
    expect((await service.models()).models.length).toBeGreaterThan(0);

    expect((await service.restartEngine()).engine).toEqual({ state: 'ok' });
    const again = await harness.finished(service.enhance({ prompt: 'a red fox' }).id);
    expect(again.ok).toBe(true);
    expect(harness.processes).toHaveLength(2);
    expect(service.status()).toMatchObject({ activity: 'ready', loadedModel: harness.modelPath });
  });

  test('a model that makes llama.cpp abort ends only the engine: the message names the model and says why', async () => {
    const harness = await startService(forkEngineProcess(UNCHECKED_WORKER));
    const bad = join(harness.dir, 'bad.gguf');
    // Without feed_forward_length llama.cpp fails a native assertion and aborts its whole process.
    writeFileSync(bad, tinyGgufBytes({ omitKeys: ['llama.feed_forward_length'] }));
    const finished = await harness.finished(harness.service.enhance({ prompt: 'a red fox', model: bad }).id);
    expect(finished).toMatchObject({
      ok: false,
      error: { code: 'llm_engine_stopped', details: { signal: 'SIGABRT' } },
    });
    expect(finished.ok === false && finished.error.userMessage).toMatch(
      /stopped unexpectedly while loading bad\.gguf: llama\.cpp aborted/,
    );
    expect(harness.service.status()).toMatchObject({ activity: 'unloaded', engine: { state: 'stopped' } });
  });

  test('in the desktop app the engine is an Electron utility process, with the same recovery', async () => {
    const electron = createElectronStandIn();
    const harness = await startService(
      utilityEngineProcess(electron.module.utilityProcess as unknown as UtilityProcessModule, WORKER),
    );
    const first = await harness.finished(harness.service.enhance({ prompt: 'a quiet harbour' }).id);
    expect(first.ok).toBe(true);
    expect(harness.tokens.get(first.id)!.length).toBeGreaterThan(0);
    const [utility] = StandInUtilityProcess.forked;
    expect(utility).toMatchObject({ modulePath: WORKER, options: { serviceName: ENGINE_SERVICE_NAME } });

    const finished = await killedMidGeneration(harness, () => utility!.crash());
    expect(finished).toMatchObject({ ok: false, error: { code: 'llm_engine_stopped' } });
    expect(finished.ok === false && finished.error.userMessage).toMatch(/it was killed/);
    await harness.service.restartEngine();
    expect((await harness.finished(harness.service.enhance({ prompt: 'a quiet harbour' }).id)).ok).toBe(true);
    expect(StandInUtilityProcess.forked).toHaveLength(2);
  });
});
