import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { EnhanceResult, LlmModel, LlmModelList, LlmStatus } from '@shared/domain/llm';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { FakeCore, FakeFailure } from './support/fake-core';
import LlmHarness from './support/LlmHarness.svelte';

afterEach(() => {
  cleanup();
  window.location.hash = '';
});

const STATUS: LlmStatus = {
  enabled: true,
  backend: 'local',
  model: 'qwen2.5-1.5b-instruct',
  activity: 'unloaded',
  loadedModel: null,
  compute: null,
  threads: null,
  queued: 0,
  unloadAt: null,
  engine: { state: 'ok' },
};

function model(overrides: Partial<LlmModel> & Pick<LlmModel, 'id' | 'name'>): LlmModel {
  return {
    source: 'catalog',
    description: 'A small model.',
    path: `/models/${overrides.id}.gguf`,
    sizeBytes: 1_117_320_736,
    memoryBytes: 1_500_000_000,
    state: 'not_installed',
    isSelected: false,
    ...overrides,
  };
}

const MODELS: LlmModelList = {
  modelsDir: '/models',
  freeBytes: 50_000_000_000,
  models: [
    model({
      id: 'qwen2.5-1.5b-instruct',
      name: 'Qwen 2.5 1.5B Instruct (Q4_K_M)',
      isSelected: true,
      state: 'installed',
    }),
    model({ id: 'phi-3-mini-4k-instruct', name: 'Phi-3 Mini 4k Instruct (Q4)' }),
  ],
};

function result(overrides: Partial<EnhanceResult>): EnhanceResult {
  return {
    text: '',
    original: '',
    style: 'detailed',
    model: 'qwen2.5-1.5b-instruct',
    isSubjectKept: true,
    missingWords: [],
    isTruncated: false,
    tokens: 12,
    durationMs: 900,
    ...overrides,
  };
}

/** A fake core with enhancement on; `llm.enhance` answers with the id `e1`. */
function enabledCore(): FakeCore {
  const core = new FakeCore();
  core.settings = { ...core.settings, llm: { ...core.settings.llm, enabled: true } };
  core.handle('llm.status', () => STATUS);
  core.handle('llm.models', () => MODELS);
  core.handle('llm.enhance', () => ({ id: 'e1' }));
  core.handle('llm.cancel', () => ({}));
  return core;
}

async function enhanceView(core: FakeCore, prompt: string) {
  const view = render(LlmHarness, { api: core.api, view: 'enhance', prompt });
  const enhance = await screen.findByRole('button', { name: 'Enhance' });
  await waitFor(() => expect((enhance as HTMLButtonElement).disabled).toBe(false));
  return { view, enhance, box: screen.getByLabelText('Prompt') as HTMLTextAreaElement };
}

describe('the Enhance control beside the prompt', () => {
  test('it is not there while enhancement is off', async () => {
    const core = new FakeCore();
    core.handle('llm.status', () => ({ ...STATUS, enabled: false }));
    core.handle('llm.models', () => MODELS);
    render(LlmHarness, { api: core.api, view: 'enhance', prompt: 'a fox' });
    await waitFor(() => expect(core.callsOf('settings.get')).toHaveLength(1));
    expect(screen.queryByRole('button', { name: 'Enhance' })).toBeNull();
    expect(screen.queryByLabelText('Enhancement style')).toBeNull();
  });

  test('the text streams in, then replaces the prompt; Undo brings the original back', async () => {
    const core = enabledCore();
    const { enhance, box } = await enhanceView(core, 'a red fox');
    await fireEvent.change(screen.getByLabelText('Enhancement style'), { target: { value: 'cinematic' } });
    await fireEvent.click(enhance);
    expect(core.callsOf('llm.enhance')).toEqual([{ prompt: 'a red fox', style: 'cinematic' }]);
    core.emit('llm.token', { id: 'e1', text: 'Low-angle shot of a red fox' });
    core.emit('llm.token', { id: 'e1', text: ', golden hour' });
    const streaming = await screen.findByRole('region', { name: 'Enhanced prompt' });
    await waitFor(() => expect(streaming.textContent).toContain('Low-angle shot of a red fox, golden hour'));
    expect(streaming.getAttribute('aria-busy')).toBe('true');
    expect(screen.getByRole('button', { name: 'Stop' })).toBeTruthy();

    core.emit('llm.finished', {
      id: 'e1',
      ok: true,
      result: result({ text: 'Low-angle shot of a red fox, golden hour', original: 'a red fox', style: 'cinematic' }),
    });
    await waitFor(() => expect(box.value).toBe('Low-angle shot of a red fox, golden hour'));
    expect(screen.getByRole('region', { name: 'Enhancement' }).textContent).toContain('Enhanced · Cinematic');
    expect(screen.getByRole('status').textContent).toContain('Edit it, keep it, or undo');

    await fireEvent.click(screen.getByRole('button', { name: 'Undo enhancement' }));
    expect(box.value).toBe('a red fox');
    expect(screen.queryByRole('region', { name: 'Enhancement' })).toBeNull();
  });

  test('when the subject is lost the prompt stays, the reason is given, and the suggestion can be used anyway', async () => {
    const core = enabledCore();
    const { enhance, box } = await enhanceView(core, 'a red fox');
    await fireEvent.click(enhance);
    await core.answered();
    core.emit('llm.finished', {
      id: 'e1',
      ok: true,
      result: result({
        text: 'a grey wolf at dusk',
        original: 'a red fox',
        isSubjectKept: false,
        missingWords: ['red', 'fox'],
      }),
    });
    const offer = (await screen.findByRole('button', { name: 'Use it anyway' })).closest(
      '[role="region"]',
    ) as HTMLElement;
    expect(offer.getAttribute('aria-label')).toBe('Enhanced prompt');
    expect(offer.textContent).toContain('dropped “red”, “fox”, so your prompt was kept');
    expect(box.value).toBe('a red fox');
    await fireEvent.click(within(offer).getByRole('button', { name: 'Use it anyway' }));
    expect(box.value).toBe('a grey wolf at dusk');
    await fireEvent.click(screen.getByRole('button', { name: 'Undo enhancement' }));
    expect(box.value).toBe('a red fox');
  });

  test('Ctrl+E starts it from the keyboard; Stop cancels it', async () => {
    const core = enabledCore();
    const { box } = await enhanceView(core, 'a lighthouse');
    await fireEvent.keyDown(box, { key: 'e', ctrlKey: true });
    await waitFor(() => expect(core.callsOf('llm.enhance')).toHaveLength(1));
    await fireEvent.click(await screen.findByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(core.callsOf('llm.cancel')).toEqual([{ id: 'e1' }]));
    core.emit('llm.finished', {
      id: 'e1',
      ok: false,
      error: { code: 'cancelled', userMessage: 'Enhancement cancelled; your prompt is unchanged.' },
    });
    expect((await screen.findByRole('region', { name: 'Enhancement' })).textContent).toContain(
      'Enhancement stopped. Your prompt is unchanged.',
    );
    expect(box.value).toBe('a lighthouse');
  });

  test('prompt edits made while it runs are never overwritten', async () => {
    const core = enabledCore();
    const { enhance, box } = await enhanceView(core, 'a red fox');
    await fireEvent.click(enhance);
    await core.answered();
    await fireEvent.input(box, { target: { value: 'a red fox, watercolour' } });
    core.emit('llm.finished', {
      id: 'e1',
      ok: true,
      result: result({ text: 'A red fox in snow', original: 'a red fox' }),
    });
    const offer = (await screen.findByRole('button', { name: 'Use it anyway' })).closest(
      '[role="region"]',
    ) as HTMLElement;
    expect(offer.textContent).toContain('You changed the prompt while it was being enhanced');
    expect(box.value).toBe('a red fox, watercolour');
  });

  test('a missing model is explained with a way to Settings', async () => {
    const core = enabledCore();
    core.handle('llm.enhance', () => ({ id: 'e1' }));
    const { enhance } = await enhanceView(core, 'a red fox');
    await fireEvent.click(enhance);
    await core.answered();
    core.emit('llm.finished', {
      id: 'e1',
      ok: false,
      error: { code: 'llm_model_missing', userMessage: 'Qwen 2.5 1.5B Instruct (Q4_K_M) is not installed yet.' },
    });
    const problem = await screen.findByRole('region', { name: 'Enhancement problem' });
    expect(problem.textContent).toContain('is not installed yet');
    await fireEvent.click(within(problem).getByRole('button', { name: 'Open settings' }));
    expect(window.location.hash).toBe('#/settings');
  });

  test('when the engine stops mid-enhancement it says so beside the prompt, and Restart engine brings it back', async () => {
    const core = enabledCore();
    const message =
      'The AI engine stopped unexpectedly while generating with tiny.gguf: it was killed, most often because the computer ran out of memory. ComfyDesk kept running and your prompt is unchanged; restart the engine to try again, or choose another model.';
    core.handle('llm.restartEngine', () => STATUS);
    const { enhance, box } = await enhanceView(core, 'a red fox');
    await fireEvent.click(enhance);
    await core.answered();
    core.emit('llm.statusChanged', { ...STATUS, engine: { state: 'stopped', message, stoppedAt: 1 } });
    core.emit('llm.finished', { id: 'e1', ok: false, error: { code: 'llm_engine_stopped', userMessage: message } });
    const stopped = await screen.findByRole('region', { name: 'AI engine stopped' });
    expect(stopped.textContent).toContain('ran out of memory');
    expect(screen.queryByRole('region', { name: 'Enhancement problem' })).toBeNull();
    expect(box.value).toBe('a red fox');
    const button = screen.getByRole('button', { name: 'Enhance' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toMatch(/restart it first/);

    await fireEvent.click(within(stopped).getByRole('button', { name: 'Restart engine' }));
    await waitFor(() => expect(core.callsOf('llm.restartEngine')).toHaveLength(1));
    await waitFor(() => expect(screen.queryByRole('region', { name: 'AI engine stopped' })).toBeNull());
    await waitFor(() => expect(button.disabled).toBe(false));
    expect(screen.getByRole('status').textContent).toBe('The AI engine is ready again.');
  });

  test('an empty prompt cannot be enhanced', async () => {
    const core = enabledCore();
    render(LlmHarness, { api: core.api, view: 'enhance', prompt: '   ' });
    const enhance = await screen.findByRole('button', { name: 'Enhance' });
    await waitFor(() => expect(core.callsOf('app.info')).toHaveLength(1));
    expect((enhance as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('Settings › AI prompt enhancement', () => {
  test('the switch turns enhancement on, and a model can be chosen', async () => {
    const core = enabledCore();
    core.settings = { ...core.settings, llm: { ...core.settings.llm, enabled: false } };
    render(LlmHarness, { api: core.api, view: 'settings' });
    const toggle = await screen.findByRole('switch', { name: 'Enable prompt enhancement' });
    expect((toggle as HTMLInputElement).checked).toBe(false);
    await fireEvent.click(toggle);
    await waitFor(() => expect(core.callsOf('settings.update')).toEqual([{ llm: { enabled: true } }]));
    await waitFor(() => expect((toggle as HTMLInputElement).checked).toBe(true));
    await fireEvent.click(await screen.findByRole('radio', { name: 'Phi-3 Mini 4k Instruct (Q4)' }));
    await waitFor(() =>
      expect(core.callsOf('settings.update').at(-1)).toEqual({ llm: { model: 'phi-3-mini-4k-instruct' } }),
    );
  });

  test('each model shows its state; a download shows a progress bar, speed and time left, and can be cancelled', async () => {
    const core = enabledCore();
    const toasts = new Toasts();
    core.handle('llm.download', ({ modelId }) => ({ downloadId: 'd1', modelId }));
    core.handle('llm.cancelDownload', () => ({}));
    render(LlmHarness, { api: core.api, view: 'settings', toasts });
    const phi = (await screen.findByText('Phi-3 Mini 4k Instruct (Q4)')).closest('li')!;
    expect(within(phi).getByTestId('model-state').textContent).toContain('Not installed');
    expect(phi.textContent).toContain('1.0 GB on disk');
    await fireEvent.click(within(phi).getByRole('button', { name: 'Download Phi-3 Mini 4k Instruct (Q4)' }));
    await waitFor(() => expect(core.callsOf('llm.download')).toEqual([{ modelId: 'phi-3-mini-4k-instruct' }]));

    core.emit('llm.downloadProgress', {
      downloadId: 'd1',
      modelId: 'phi-3-mini-4k-instruct',
      progress: { receivedBytes: 500_000_000, totalBytes: 1_000_000_000, bytesPerSecond: 10_000_000, etaSeconds: 50 },
    });
    const bar = await within(phi).findByRole('progressbar', { name: 'Downloading Phi-3 Mini 4k Instruct (Q4)' });
    expect(bar.getAttribute('aria-valuenow')).toBe('50');
    expect(within(phi).getByTestId('model-state').textContent).toContain('Downloading 50%');
    expect(phi.textContent).toContain('477 MB of 954 MB · 9.5 MB/s · ~50 s left');
    await fireEvent.click(
      within(phi).getByRole('button', { name: 'Cancel the download of Phi-3 Mini 4k Instruct (Q4)' }),
    );
    await waitFor(() => expect(core.callsOf('llm.cancelDownload')).toEqual([{ modelId: 'phi-3-mini-4k-instruct' }]));

    core.emit('llm.downloadFinished', {
      downloadId: 'd1',
      modelId: 'phi-3-mini-4k-instruct',
      ok: false,
      error: {
        code: 'llm_checksum_mismatch',
        userMessage: 'The downloaded file does not match its published checksum.',
      },
    });
    await waitFor(() =>
      expect(toasts.items.map((toast) => toast.message)).toContain(
        'The downloaded file does not match its published checksum.',
      ),
    );
  });

  test('the status line says what is loaded and where it runs', async () => {
    const core = enabledCore();
    core.handle('llm.status', () => ({
      ...STATUS,
      activity: 'ready',
      loadedModel: 'qwen2.5-1.5b-instruct',
      compute: 'cpu',
      threads: 4,
    }));
    render(LlmHarness, { api: core.api, view: 'settings' });
    expect((await screen.findByText(/is loaded on the CPU/)).textContent).toBe(
      'Qwen 2.5 1.5B Instruct (Q4_K_M) is loaded on the CPU (4 threads); it is unloaded when idle.',
    );
    core.emit('llm.statusChanged', {
      ...STATUS,
      activity: 'ready',
      loadedModel: 'qwen2.5-1.5b-instruct',
      compute: 'cuda',
      threads: 4,
    });
    expect(await screen.findByText(/on the GPU \(CUDA\)/)).toBeTruthy();
  });

  test('a stopped engine is shown in the status line with Restart engine', async () => {
    const core = enabledCore();
    const message = 'The AI engine stopped unexpectedly while loading bad.gguf: llama.cpp aborted.';
    core.handle('llm.status', () => ({ ...STATUS, engine: { state: 'stopped', message, stoppedAt: 1 } }));
    core.handle('llm.restartEngine', () => STATUS);
    render(LlmHarness, { api: core.api, view: 'settings' });
    expect((await screen.findByText(/llama\.cpp aborted/)).textContent).toBe(message);
    await fireEvent.click(screen.getByRole('button', { name: 'Restart engine' }));
    await waitFor(() => expect(core.callsOf('llm.restartEngine')).toHaveLength(1));
    expect(await screen.findByText(/No model in memory/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Restart engine' })).toBeNull();
  });

  test('a server backend shows its fields and Test connection reports the models or the problem', async () => {
    const core = enabledCore();
    core.settings = { ...core.settings, llm: { ...core.settings.llm, backend: 'openai' } };
    let refuse = false;
    core.handle('llm.checkEndpoint', () => {
      if (refuse)
        throw new FakeFailure({
          code: 'llm_endpoint_unreachable',
          userMessage: 'http://127.0.0.1:11434/v1 is not answering (ECONNREFUSED).',
        });
      return { models: ['qwen2.5:1.5b-instruct'] };
    });
    render(LlmHarness, { api: core.api, view: 'settings' });
    const model = await screen.findByLabelText('Model name');
    await fireEvent.change(model, { target: { value: 'qwen2.5:1.5b-instruct' } });
    await waitFor(() =>
      expect(core.callsOf('settings.update')).toEqual([
        { llm: { openai: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:1.5b-instruct', apiKey: '' } } },
      ]),
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    expect(await screen.findByText('Connected: 1 model (qwen2.5:1.5b-instruct)')).toBeTruthy();
    refuse = true;
    await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    expect(await screen.findByText(/is not answering \(ECONNREFUSED\)/)).toBeTruthy();
  });

  test('Test connection checks the address being typed, before it is saved', async () => {
    const core = enabledCore();
    core.settings = { ...core.settings, llm: { ...core.settings.llm, backend: 'openai' } };
    core.handle('llm.checkEndpoint', () => ({ models: ['llama3'] }));
    render(LlmHarness, { api: core.api, view: 'settings' });
    const address = await screen.findByLabelText('Server address');
    await fireEvent.input(address, { target: { value: 'http://127.0.0.1:1234/v1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    expect(await screen.findByText('Connected: 1 model (llama3)')).toBeTruthy();
    expect(core.callsOf('llm.checkEndpoint')).toEqual([{ baseUrl: 'http://127.0.0.1:1234/v1', model: '', apiKey: '' }]);
  });
});
