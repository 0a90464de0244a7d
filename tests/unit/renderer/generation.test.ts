import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { GenerationForm } from '@shared/contract/jobs';
import { GenerationState, type GenerationTarget } from '../../../src/renderer/src/state/generation.svelte';
import { FakeCore, FakeFailure } from './support/fake-core';
import GenerateHarness from './support/GenerateHarness.svelte';
import { card, fullForm } from './support/jobs-data';

afterEach(() => cleanup());

const ONLINE: GenerationTarget = {
  workflowId: 'wf-t2i',
  card: card(),
  isLibraryLoaded: true,
  serverId: 'local',
  isOnline: true,
  isLinkOpen: true,
};

/** The Generate panel on a core that answers `generation.form` with `form`, pointed at the ready workflow. */
async function panel(form: GenerationForm = fullForm(), options: { random?: () => number } = {}) {
  const core = new FakeCore();
  core.handle('generation.form', () => form);
  core.handle('jobs.list', () => ({ jobs: [], paused: false }));
  core.handle('history.list', () => ({ jobs: [] }));
  core.handle('jobs.enqueue', () => ({ jobIds: ['j1'] }));
  core.handle('generation.stageFile', ({ path }) => ({
    id: 's1',
    name: path.slice(path.lastIndexOf('/') + 1),
    mime: 'image/png',
    sizeBytes: 7,
  }));
  const generation = new GenerationState(core.api, {
    random: options.random ?? (() => 0.5),
    createPreviewUrl: () => 'blob:preview',
  });
  const queued: string[][] = [];
  render(GenerateHarness, { api: core.api, view: 'panel', generation, onrerun: (ids: string[]) => queued.push(ids) });
  generation.use(ONLINE);
  await core.answered();
  await screen.findByRole('spinbutton', { name: 'Steps' });
  const generate = screen.getByRole('button', { name: 'Generate' }) as HTMLButtonElement;
  return { core, generation, generate, queued };
}

describe('the generated form', () => {
  test('every parameter gets a control of its kind, grouped by what it sets, with Advanced folded away', async () => {
    await panel();
    expect((screen.getByLabelText('Prompt', { exact: true }) as HTMLTextAreaElement).value).toBe('a red fox');
    expect((screen.getByLabelText('Negative prompt') as HTMLTextAreaElement).value).toBe('blurry');
    for (const group of ['Inputs', 'Size', 'Sampling', 'Models'])
      expect(screen.getByRole('group', { name: group })).toBeTruthy();

    const steps = screen.getByRole('spinbutton', { name: 'Steps' }) as HTMLInputElement;
    expect([steps.value, steps.min, steps.max, steps.step]).toEqual(['20', '1', '10000', '1']);
    const cfg = screen.getByRole('spinbutton', { name: 'CFG' }) as HTMLInputElement;
    expect([cfg.value, cfg.step]).toEqual(['8', '0.1']);
    const sampler = screen.getByRole('combobox', { name: 'Sampler' }) as HTMLSelectElement;
    expect([...sampler.options].map((option) => option.text)).toEqual(['euler', 'euler_ancestral', 'dpmpp_2m']);
    const model = screen.getByRole('combobox', { name: 'Checkpoint' }) as HTMLSelectElement;
    expect(model.selectedOptions[0]?.text).toBe('sd15.safetensors');
    expect((screen.getByRole('spinbutton', { name: 'Width' }) as HTMLInputElement).step).toBe('8');
    expect(screen.getByRole('combobox', { name: 'Seed mode' })).toBeTruthy();
    expect(screen.getByRole('button', { name: /New seed/ })).toBeTruthy();
    expect(screen.getByRole('group', { name: 'Start image' })).toBeTruthy();

    const advanced = screen.getByRole('button', { name: /Advanced/ });
    expect(advanced.getAttribute('aria-expanded')).toBe('false');
    expect(screen.queryByRole('textbox', { name: 'filename_prefix' })).toBeNull();
    await fireEvent.click(advanced);
    expect((screen.getByRole('textbox', { name: 'filename_prefix' }) as HTMLInputElement).value).toBe('ComfyUI');
    expect((screen.getByRole('checkbox', { name: 'tiled' }) as HTMLInputElement).checked).toBe(false);
    expect((screen.getByRole('textbox', { name: 'notes' }) as HTMLTextAreaElement).tagName).toBe('TEXTAREA');
    expect(screen.getByRole('heading', { name: 'VAE Decode' })).toBeTruthy();
  });

  test('a value outside the limits is explained beside its field, and Generate says why it is off', async () => {
    const { generate } = await panel();
    const steps = screen.getByRole('spinbutton', { name: 'Steps' }) as HTMLInputElement;
    await fireEvent.input(steps, { target: { value: '0' } });
    expect(steps.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('"Steps" must be at least 1 (got 0).').id).toBe(steps.getAttribute('aria-describedby'));
    expect(generate.disabled).toBe(true);
    expect(screen.getByText('One field needs attention.')).toBeTruthy();
    await fireEvent.input(steps, { target: { value: '' } });
    expect(screen.getByText(/^"Steps" must be a whole number/)).toBeTruthy();
    await fireEvent.input(steps, { target: { value: '30' } });
    expect(steps.getAttribute('aria-invalid')).toBe('false');
    expect(generate.disabled).toBe(false);
  });

  test('edits of every kind are sent with Generate, with the seed mode and the batch count', async () => {
    const { core, generation, queued } = await panel(fullForm(), { random: () => 0.25 });
    await fireEvent.input(screen.getByLabelText('Prompt', { exact: true }), {
      target: { value: 'a lighthouse at dusk' },
    });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Sampler' }), { target: { value: 's:dpmpp_2m' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Size preset' }), { target: { value: String(2) } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Seed mode' }), { target: { value: 'increment' } });
    await fireEvent.click(screen.getByRole('button', { name: /New seed/ }));
    await fireEvent.click(screen.getByRole('button', { name: /Advanced/ }));
    await fireEvent.click(screen.getByRole('checkbox', { name: 'tiled' }));
    await fireEvent.input(screen.getByRole('spinbutton', { name: 'Runs' }), { target: { value: '3' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await core.answered();
    expect(core.callsOf('jobs.enqueue')).toEqual([
      {
        workflowId: 'wf-t2i',
        serverId: 'local',
        values: {
          prompt: 'a lighthouse at dusk',
          sampler: 'dpmpp_2m',
          width: 1024,
          height: 1024,
          seed: Math.floor(0.25 * (Number.MAX_SAFE_INTEGER + 1)),
          '12.tiled': true,
        },
        count: 3,
        seedMode: 'increment',
      },
    ]);
    expect(queued).toEqual([['j1']]);
    expect(generation.seedMode).toBe('increment');
  });

  test('Ctrl+Enter generates from the prompt box', async () => {
    const { core } = await panel();
    await fireEvent.keyDown(screen.getByLabelText('Prompt', { exact: true }), { key: 'Enter', ctrlKey: true });
    await core.answered();
    expect(core.callsOf('jobs.enqueue')).toHaveLength(1);
  });

  test('a dropped image is staged by its path (never its bytes in a message), previewed, and sent as a reference', async () => {
    const { core, generation } = await panel();
    const zone = screen.getByRole('group', { name: 'Start image' });
    const file = new File(['PNGDATA'], 'fox.png', { type: 'image/png' });
    await fireEvent.drop(zone, { dataTransfer: { files: [file], types: ['Files'] } });
    await waitFor(() => expect(within(zone).getByText('7 B · ready')).toBeTruthy());
    expect(core.callsOf('generation.stageFile')).toEqual([{ path: '/home/me/fox.png' }]);
    expect(JSON.stringify(core.calls)).not.toContain(btoa('PNGDATA'));
    expect((within(zone).getByRole('img', { name: 'Preview of fox.png' }) as HTMLImageElement).src).toBe(
      'blob:preview',
    );
    expect(generation.edits.image).toEqual({ staged: 's1' });
    await fireEvent.click(within(zone).getByRole('button', { name: 'Remove fox.png' }));
    expect(generation.edits.image).toBeUndefined();
  });

  test('a picked file of the wrong type, or over 64 MB, is refused beside the field and never sent', async () => {
    const { core, generate } = await panel();
    const input = screen.getByLabelText('Start image file') as HTMLInputElement;
    await fireEvent.change(input, {
      target: { files: [new File(['%PDF'], 'report.pdf', { type: 'application/pdf' })] },
    });
    expect(screen.getByText('report.pdf is a PDF file; “Start image” takes an image.')).toBeTruthy();
    expect(generate.disabled).toBe(true);
    const huge = new File(['x'], 'huge.png', { type: 'image/png' });
    Object.defineProperty(huge, 'size', { value: 70 * 1024 * 1024 });
    await fireEvent.change(input, { target: { files: [huge] } });
    expect(screen.getByText(/huge\.png is 70 MB; ComfyDesk takes files up to 64 MB/)).toBeTruthy();
    await core.answered();
    expect(core.callsOf('generation.stageFile')).toEqual([]);
  });

  test('a dropped file that is not on disk (pasted, or dragged from a web page) is explained beside the field', async () => {
    const { core, generate } = await panel();
    core.pathForFile = () => '';
    const zone = screen.getByRole('group', { name: 'Start image' });
    const file = new File(['PNGDATA'], 'clipboard.png', { type: 'image/png' });
    await fireEvent.drop(zone, { dataTransfer: { files: [file], types: ['Files'] } });
    expect(
      await screen.findByText(
        'clipboard.png is not a file on this computer. Save it to a folder first, then drop or choose it from there.',
      ),
    ).toBeTruthy();
    expect(generate.disabled).toBe(true);
    expect(core.callsOf('generation.stageFile')).toEqual([]);
  });

  test('a file name the server does not have is flagged, and one of its own files can be picked instead', async () => {
    const form = fullForm();
    form.parameters = form.parameters.map((parameter) =>
      parameter.id === 'image' ? { ...parameter, value: 'gone.png' } : parameter,
    );
    const { generate } = await panel(form);
    expect(screen.getByText('gone.png is not on the server; drop a file here or pick one.')).toBeTruthy();
    expect(generate.disabled).toBe(true);
    await fireEvent.change(screen.getByRole('combobox', { name: /Or pick a file already on the server/ }), {
      target: { value: 's:cat.png' },
    });
    expect(generate.disabled).toBe(false);
  });

  test('the core’s refusal of a value is shown beside the field it names', async () => {
    const { core } = await panel();
    core.handle('jobs.enqueue', () => {
      throw new FakeFailure({
        code: 'parameter_invalid',
        userMessage:
          '"Checkpoint" must be one of "sd15.safetensors" (got "x"). Correct it and try again; nothing was sent.',
        details: {
          issues: [
            { parameterId: 'model', code: 'not_an_option', message: '"Checkpoint" must be one of "sd15.safetensors".' },
          ],
        },
      });
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await core.answered();
    const model = screen.getByRole('combobox', { name: 'Checkpoint' });
    expect(model.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('"Checkpoint" must be one of "sd15.safetensors".')).toBeTruthy();
    // Changing the field clears the core's complaint about it.
    await fireEvent.change(model, { target: { value: 's:sdxl.safetensors' } });
    expect(screen.queryByText('"Checkpoint" must be one of "sd15.safetensors".')).toBeNull();
  });

  test('custom nodes the server lacks are named, with their pack, and Generate stays off', async () => {
    const { generate } = await panel(
      fullForm({
        missingNodeTypes: [
          { type: 'VHS_VideoCombine', nodeIds: ['20'], cnrId: 'comfyui-videohelpersuite', version: '1.6.1' },
        ],
      }),
    );
    const missing = screen.getByRole('list', { name: 'Missing custom nodes' });
    expect(missing.textContent).toContain('VHS_VideoCombine — from comfyui-videohelpersuite 1.6.1');
    expect(generate.disabled).toBe(true);
    expect(screen.getByText('Install the missing custom nodes on the server first.')).toBeTruthy();
  });
});

describe('GenerationState', () => {
  function stateOn(core: FakeCore) {
    return new GenerationState(core.api, { createPreviewUrl: () => undefined });
  }

  test('Generate says why it is off: no workflow, a deleted one, no server online, missing models', async () => {
    const core = new FakeCore();
    core.handle('generation.form', () => fullForm());
    const state = stateOn(core);
    state.use({ ...ONLINE, workflowId: undefined, card: undefined });
    expect(state.blockedReason).toBe('Select a workflow first.');
    state.use({ ...ONLINE, card: undefined });
    expect(state.blockedReason).toBe('That workflow is no longer in your library. Pick another.');
    state.use({ ...ONLINE, isOnline: false });
    expect(state.blockedReason).toBe('Connect to a ComfyUI server to generate.');
    expect(core.callsOf('generation.form')).toEqual([]);
    state.use({
      ...ONLINE,
      card: card({
        compat: { ...card().compat, status: 'missing', missing: [{ name: 'sdxl.safetensors', folder: 'checkpoints' }] },
      }),
    });
    await core.answered();
    expect(state.blockedReason).toBe('Install the missing models on the server first.');
  });

  test('the form is read again when the server comes back or the file changes; values the person set stay', async () => {
    const core = new FakeCore();
    core.handle('generation.form', () => fullForm());
    const state = stateOn(core);
    state.use(ONLINE);
    await core.answered();
    state.setValue('steps', 35);
    state.use({ ...ONLINE, isOnline: false });
    state.use(ONLINE);
    await core.answered();
    state.use({ ...ONLINE, card: card({ modifiedMs: 2 }) });
    await core.answered();
    // A health report that changes nothing that matters does not read it again.
    state.use({ ...ONLINE, card: card({ modifiedMs: 2 }) });
    await core.answered();
    expect(core.callsOf('generation.form')).toHaveLength(3);
    expect(state.edits).toEqual({ steps: 35 });
    expect(state.canGenerate).toBe(true);
  });

  test('the prompt follows the person to another workflow; the other values stay with the first', async () => {
    const core = new FakeCore();
    core.handle('generation.form', ({ workflowId }) => fullForm({ workflowId }));
    const state = stateOn(core);
    state.use(ONLINE);
    await core.answered();
    state.prompt = 'a castle in fog';
    state.setValue('steps', 12);
    state.setSeedMode('fixed');
    state.use({ ...ONLINE, workflowId: 'wf-other', card: card({ id: 'wf-other', name: 'Other' }) });
    await core.answered();
    expect(state.edits).toEqual({ prompt: 'a castle in fog' });
    expect(state.prompt).toBe('a castle in fog');
    expect(state.seedMode).toBe('randomize');
  });

  test('a form that cannot be read says why, and Try again reads it again', async () => {
    const core = new FakeCore();
    let isOffline = true;
    core.handle('generation.form', () => {
      if (isOffline)
        throw new FakeFailure({ code: 'comfy_offline', userMessage: 'This computer is not connected right now.' });
      return fullForm();
    });
    const state = stateOn(core);
    state.use(ONLINE);
    await core.answered();
    expect(state.blockedReason).toBe('This computer is not connected right now.');
    isOffline = false;
    await state.reload();
    expect(state.form?.parameters).toHaveLength(13);
    expect(state.blockedReason).toBeUndefined();
  });

  test('the seed mode follows the workflow’s own control until the person picks one', async () => {
    const core = new FakeCore();
    const form = fullForm();
    form.parameters = form.parameters.map((parameter) =>
      parameter.kind === 'seed' ? { ...parameter, seedControl: 'fixed' } : parameter,
    );
    core.handle('generation.form', () => form);
    const state = stateOn(core);
    state.use(ONLINE);
    await core.answered();
    expect(state.seedMode).toBe('fixed');
    state.setSeedMode('randomize');
    expect(state.seedMode).toBe('randomize');
  });
});
