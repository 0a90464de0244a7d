import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { GenerationForm } from '@shared/contract/jobs';
import type { Preset } from '@shared/domain/generation';
import { colorHex, colorNumber, hasSlider, sliderRange } from '../../../src/renderer/src/features/generate/form/fields';
import { GenerationState, type GenerationTarget } from '../../../src/renderer/src/state/generation.svelte';
import { placeNodeErrors } from '../../../src/renderer/src/state/node-errors';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { FakeCore, FakeFailure } from './support/fake-core';
import GenerateHarness from './support/GenerateHarness.svelte';
import { card, fullForm, job, parameter, succeeded } from './support/jobs-data';

/** What the form brought into view: jsdom lays nothing out, so it has no scrollIntoView; this one notes the element. */
let scrolledIntoView: Element[] = [];
const hadScrollIntoView = Object.hasOwn(Element.prototype, 'scrollIntoView');
beforeEach(() => {
  scrolledIntoView = [];
  Element.prototype.scrollIntoView = function (this: Element) {
    scrolledIntoView.push(this);
  };
});

afterEach(() => {
  cleanup();
  window.location.hash = '';
  if (!hadScrollIntoView) delete (Element.prototype as Partial<Element>).scrollIntoView;
});

const ONLINE: GenerationTarget = {
  workflowId: 'wf-t2i',
  card: card(),
  isLibraryLoaded: true,
  serverId: 'local',
  isOnline: true,
  isLinkOpen: true,
};

/** The full form plus a colour canvas, a blend strength and an image input as the core sends them for a UI workflow. */
function richForm(): GenerationForm {
  const form = fullForm();
  form.parameters = form.parameters.map((item) =>
    item.id === 'image'
      ? {
          ...item,
          targets: [{ nodeId: '10', inputName: 'image' }],
          constraints: {
            type: 'COMBO',
            media: 'image',
            acceptsAnyFile: true,
            folder: 'input',
            options: ['example.png', 'cat.png'],
          },
        }
      : item,
  );
  form.parameters.push(
    parameter('20.color', {
      kind: 'integer',
      group: 'size',
      label: 'Color (Canvas)',
      section: 'Canvas',
      targets: [{ nodeId: '20', inputName: 'color' }],
      value: 0xff8000,
      constraints: { type: 'INT', min: 0, max: 16777215, step: 1, display: 'color', default: 0 },
    }),
    parameter('21.blend_factor', {
      kind: 'number',
      group: 'advanced',
      label: 'Blend factor',
      section: 'Image Blend',
      targets: [{ nodeId: '21', inputName: 'blend_factor' }],
      value: 0.5,
      constraints: { type: 'FLOAT', min: 0, max: 1, step: 0.01 },
    }),
  );
  return form;
}

async function panel(
  options: { form?: GenerationForm; presets?: Preset[]; view?: 'panel' | 'form'; toasts?: Toasts } = {},
) {
  const core = new FakeCore();
  let presets = options.presets ?? [];
  core.handle('generation.form', ({ workflowId }) => ({ ...(options.form ?? richForm()), workflowId }));
  core.handle('jobs.list', () => ({ jobs: [], paused: false }));
  core.handle('history.list', () => ({ jobs: [] }));
  core.handle('jobs.enqueue', () => ({ jobIds: ['j1'] }));
  core.handle('jobs.retry', () => ({ jobIds: ['j2'] }));
  core.handle('presets.list', () => ({ presets }));
  core.handle('presets.save', ({ name, values, seedMode }) => {
    presets = [
      ...presets.filter((preset) => preset.name !== name),
      { name, values, ...(seedMode ? { seedMode } : {}), savedAt: 1 },
    ];
    return { presets };
  });
  core.handle('presets.delete', ({ name }) => {
    presets = presets.filter((preset) => preset.name !== name);
    return { presets };
  });
  const opened: string[] = [];
  const generation = new GenerationState(core.api, {
    random: () => 0.5,
    createPreviewUrl: () => 'blob:preview',
    openTab: (url) => opened.push(url),
  });
  render(GenerateHarness, {
    api: core.api,
    view: options.view ?? 'panel',
    generation,
    ...(options.toasts ? { toasts: options.toasts } : {}),
  });
  generation.use(ONLINE);
  await core.answered();
  await screen.findByRole('spinbutton', { name: 'Steps' });
  const generate = screen.getByRole('button', { name: 'Generate' }) as HTMLButtonElement;
  return { core, generation, generate, opened };
}

describe('the form’s fields', () => {
  test('a colour input is a colour picker showing its hex value; picking a colour sets the number ComfyUI takes', async () => {
    const { core, generation } = await panel();
    const picker = screen.getByLabelText('Color (Canvas)') as HTMLInputElement;
    expect([picker.type, picker.value]).toEqual(['color', '#ff8000']);
    expect(screen.getByText('#FF8000')).toBeTruthy();
    await fireEvent.input(picker, { target: { value: '#00ff00' } });
    expect(generation.edits['20.color']).toBe(0x00ff00);
    await fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await core.answered();
    expect((core.callsOf('jobs.enqueue')[0] as { values: Record<string, unknown> }).values).toEqual({
      '20.color': 0x00ff00,
    });
  });

  test('sliders span the range people use: Steps to 100 (not 10,000), stretched by a bigger value; a 0–1 strength gets one too', async () => {
    const { generation } = await panel();
    const sliderOf = (label: string) =>
      screen.getByLabelText(label).closest('.number')!.querySelector('input[type="range"]') as HTMLInputElement;
    expect([sliderOf('Steps').min, sliderOf('Steps').max]).toEqual(['1', '100']);
    expect([sliderOf('CFG').min, sliderOf('CFG').max]).toEqual(['0', '30']);
    generation.setValue('steps', 150);
    await waitFor(() => expect(sliderOf('Steps').max).toBe('200'));
    await fireEvent.click(screen.getByRole('button', { name: /Advanced/ }));
    expect([sliderOf('Blend factor').min, sliderOf('Blend factor').max]).toEqual(['0', '1']);
    // The number field still takes anything the server allows.
    expect((screen.getByLabelText('Steps') as HTMLInputElement).max).toBe('10000');
  });

  test('slider ranges: soft ends for huge ranges, none for sizes and seeds, colours never', () => {
    const steps = parameter('steps', {
      kind: 'steps',
      group: 'sampling',
      constraints: { type: 'INT', min: 1, max: 10000 },
    });
    expect(sliderRange(steps, 20)).toEqual({ min: 1, max: 100 });
    expect(sliderRange(steps, 260)).toEqual({ min: 1, max: 500 });
    const denoise = parameter('denoise', {
      kind: 'denoise',
      group: 'sampling',
      constraints: { type: 'FLOAT', min: 0, max: 1 },
    });
    expect(sliderRange(denoise, 0.4)).toEqual({ min: 0, max: 1 });
    const wide = parameter('5.strength', {
      kind: 'number',
      group: 'advanced',
      constraints: { type: 'FLOAT', min: -10000, max: 10000, display: 'slider', default: 1 },
    });
    expect(sliderRange(wide, 1)).toEqual({ min: -10000, max: 5 });
    const width = parameter('width', { kind: 'width', group: 'size', constraints: { type: 'INT', min: 16, max: 64 } });
    expect(hasSlider(width)).toBe(false);
    const color = parameter('1.color', {
      kind: 'integer',
      group: 'size',
      constraints: { type: 'INT', min: 0, max: 100, display: 'color' },
    });
    expect(hasSlider(color)).toBe(false);
    expect([colorHex(255), colorHex(0xff8000), colorHex(-4), colorNumber('#0A0B0C')]).toEqual([
      '#0000ff',
      '#ff8000',
      '#000000',
      0x0a0b0c,
    ]);
  });

  test('an input file the server does not have is caught before sending; one in a sub folder is left to ComfyUI', async () => {
    const form = richForm();
    form.parameters = form.parameters.map((item) => (item.id === 'image' ? { ...item, value: 'holiday.png' } : item));
    const { generation, generate } = await panel({ form });
    expect(screen.getByText('holiday.png is not on the server; drop a file here or pick one.')).toBeTruthy();
    expect(generate.disabled).toBe(true);
    generation.setValue('image', 'trips/holiday.png');
    await waitFor(() => expect(generate.disabled).toBe(false));
    expect(screen.queryByText(/is not on the server/)).toBeNull();
  });
});

describe('presets', () => {
  test('Save as preset keeps every setting but the prompts and input files; loading one puts its values back', async () => {
    const { core, generation } = await panel();
    await fireEvent.input(screen.getByLabelText('Prompt', { exact: true }), { target: { value: 'a harbour' } });
    await fireEvent.input(screen.getByLabelText('Steps'), { target: { value: '42' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Seed mode' }), { target: { value: 'fixed' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save as preset…' }));
    const name = screen.getByLabelText('Preset name');
    await waitFor(() => expect(document.activeElement).toBe(name));
    await fireEvent.input(name, { target: { value: 'Slow and fixed' } });
    await fireEvent.submit(name.closest('form')!);
    await core.answered();
    const saved = core.callsOf('presets.save')[0] as {
      name: string;
      values: Record<string, unknown>;
      seedMode: string;
    };
    expect(saved.name).toBe('Slow and fixed');
    expect(saved.seedMode).toBe('fixed');
    expect(saved.values).toMatchObject({ steps: 42, cfg: 8, sampler: 'euler', width: 512, seed: 42 });
    expect(Object.keys(saved.values)).not.toContain('prompt');
    expect(Object.keys(saved.values)).not.toContain('negative_prompt');
    expect(Object.keys(saved.values)).not.toContain('image');
    expect(await screen.findByText('Saved “Slow and fixed”.')).toBeTruthy();
    // Nothing was queued by the preset form's Enter.
    expect(core.callsOf('jobs.enqueue')).toEqual([]);

    generation.setValue('steps', 8);
    generation.setSeedMode('randomize');
    await fireEvent.change(screen.getByLabelText('Load a preset'), { target: { value: 'Slow and fixed' } });
    expect((screen.getByLabelText('Steps') as HTMLInputElement).value).toBe('42');
    expect(generation.seedMode).toBe('fixed');
    expect(generation.prompt).toBe('a harbour');
  });

  test("a workflow's presets are listed when it is chosen; a preset that names fields the workflow lost loads the rest; delete removes it", async () => {
    const { core, generation } = await panel({
      presets: [{ name: 'Old', values: { steps: 12, '99.gone': 1 }, savedAt: 1 }],
    });
    expect(core.callsOf('presets.list')).toEqual([{ workflowId: 'wf-t2i' }]);
    const choice = screen.getByLabelText('Load a preset') as HTMLSelectElement;
    expect([...choice.options].map((option) => option.text)).toEqual(['Load a preset…', 'Old']);
    await fireEvent.change(choice, { target: { value: 'Old' } });
    expect(generation.edits).toEqual({ steps: 12 });
    await fireEvent.click(screen.getByRole('button', { name: 'Delete preset Old' }));
    await core.answered();
    expect(core.callsOf('presets.delete')).toEqual([{ workflowId: 'wf-t2i', name: 'Old' }]);
    expect(await screen.findByText('No presets yet')).toBeTruthy();
  });
});

describe('Open in ComfyUI', () => {
  test("sends the values set, opens the server's page, and says where the workflow was saved", async () => {
    const { core, opened } = await panel();
    core.handle('generation.openInComfy', () => ({
      savedAs: 'workflows/ComfyDesk/Text to image.json',
      url: 'http://127.0.0.1:8188',
      openedBy: 'client',
    }));
    await fireEvent.input(screen.getByLabelText('Steps'), { target: { value: '33' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Open in ComfyUI' }));
    await core.answered();
    expect(core.callsOf('generation.openInComfy')).toEqual([
      { workflowId: 'wf-t2i', serverId: 'local', values: { steps: 33 } },
    ]);
    expect(opened).toEqual(['http://127.0.0.1:8188']);
    expect(await screen.findByText(/Saved as “ComfyDesk\/Text to image.json” in ComfyUI's workflows/)).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Open ComfyUI again' }).getAttribute('href')).toBe('http://127.0.0.1:8188');
  });

  test('a refusal is said beside the button and nothing opens', async () => {
    const { core, opened } = await panel();
    core.handle('generation.openInComfy', () => {
      throw new FakeFailure({ code: 'invalid_input', userMessage: 'Text to image is an API prompt, …' });
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Open in ComfyUI' }));
    await core.answered();
    expect((await screen.findByRole('alert')).textContent).toContain('is an API prompt');
    expect(opened).toEqual([]);
  });
});

describe("ComfyUI's own refusal", () => {
  const rejected = () =>
    job('j1', {
      status: 'failed',
      error: {
        message:
          'ComfyUI refused the prompt — Load Image: Custom validation failed for node — image - Invalid image file: trips/x.png',
        type: 'prompt_outputs_failed_validation',
        nodeId: '10',
        nodeTitle: 'Load Image',
        nodeErrors: [
          {
            nodeId: '10',
            nodeTitle: 'Load Image',
            messages: ['Custom validation failed for node — image - Invalid image file: trips/x.png'],
          },
          { nodeId: '3', nodeTitle: 'KSampler', messages: ['Value 0 smaller than min of 1 — steps'] },
          { nodeId: '77', nodeTitle: 'Mystery', messages: ['Exception when validating inner node — boom'] },
        ],
      },
    });

  test('its messages go beside the fields they name, the rest above Generate, and no toast repeats them', async () => {
    const toasts = new Toasts();
    const { core } = await panel({ view: 'form', toasts });
    core.emit('jobs.updated', job('j1', { status: 'held' }));
    core.emit('jobs.updated', rejected());
    await core.answered();
    const zone = screen.getByRole('group', { name: 'Start image' });
    expect(
      await within(zone.closest('.field')!).findByText('ComfyUI refused this: Invalid image file: trips/x.png'),
    ).toBeTruthy();
    const steps = screen.getByLabelText('Steps');
    expect(steps.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('ComfyUI refused this: Value 0 smaller than min of 1')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain(
      'ComfyUI refused the last run: Mystery: Exception when validating inner node — boom',
    );
    expect(toasts.items).toEqual([]);
    // The first message beside a field is brought into view.
    await waitFor(() =>
      expect(scrolledIntoView.map((element) => element.id)).toEqual([expect.stringMatching(/-issue$/)]),
    );
    // Fixing the field clears ComfyUI's word about it.
    await fireEvent.input(steps, { target: { value: '25' } });
    expect(screen.queryByText('ComfyUI refused this: Value 0 smaller than min of 1')).toBeNull();
  });

  test('placing messages: by node and the input name that starts the details', () => {
    const form = richForm();
    expect(
      placeNodeErrors(form.parameters, [
        { nodeId: '3', messages: ['Failed to convert an input value to a INT value — steps, abc, invalid literal'] },
        { nodeId: '3', messages: ['Required input is missing — cfg'] },
        { nodeId: '4', messages: ['Value not in list — ckpt_name: x not in [...]'] },
      ]),
    ).toEqual({
      byField: {
        steps: 'ComfyUI refused this: Failed to convert an input value to a INT value',
        cfg: 'ComfyUI refused this: Required input is missing',
      },
      unplaced: ['Node 4: Value not in list — ckpt_name: x not in [...]'],
    });
  });

  test('away from the Generate page the refusal is toasted; a later success of that workflow clears old failure toasts', async () => {
    const toasts = new Toasts();
    const { core } = await panel({ view: 'form', toasts });
    window.location.hash = '#/settings';
    await waitFor(() => expect(window.location.hash).toBe('#/settings'));
    core.emit('jobs.updated', job('j1', { status: 'held' }));
    core.emit('jobs.updated', rejected());
    core.emit('jobs.updated', job('other', { status: 'held', workflowId: 'wf-other', workflowName: 'Other' }));
    core.emit(
      'jobs.updated',
      job('other', { status: 'failed', workflowId: 'wf-other', workflowName: 'Other', error: { message: 'boom' } }),
    );
    await core.answered();
    await waitFor(() => expect(toasts.items).toHaveLength(2));
    core.emit('jobs.updated', job('j3', { status: 'running' }));
    core.emit('jobs.updated', succeeded('j3'));
    await core.answered();
    await waitFor(() =>
      expect(toasts.items.map((toast) => toast.message)).toEqual(['Other failed: boom', 'Text to image finished.']),
    );
  });
});

describe('what the form keeps', () => {
  test('"Queued" is said after Generate and gone after switching to another workflow', async () => {
    const { core, generation } = await panel();
    await fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await core.answered();
    expect(screen.getByText('Queued. Progress shows below.')).toBeTruthy();
    generation.use({ ...ONLINE, workflowId: 'wf-other', card: card({ id: 'wf-other', name: 'Other' }) });
    await core.answered();
    expect(screen.queryByText('Queued. Progress shows below.')).toBeNull();
    expect(generation.announcement).toBe('');
  });

  test('values, seed mode and dropped files stay with their workflow: switching away and back finds them', async () => {
    const core = new FakeCore();
    core.handle('generation.form', ({ workflowId }) => ({ ...richForm(), workflowId }));
    core.handle('presets.list', () => ({ presets: [] }));
    const revoked: string[] = [];
    const state = new GenerationState(core.api, {
      createPreviewUrl: () => 'blob:x',
      revokePreviewUrl: (url) => revoked.push(url),
    });
    state.use(ONLINE);
    await core.answered();
    state.setValue('steps', 9);
    state.setSeedMode('fixed');
    const other = { ...ONLINE, workflowId: 'wf-other', card: card({ id: 'wf-other', name: 'Other' }) };
    state.use(other);
    await core.answered();
    expect(state.edits).toEqual({});
    state.setValue('steps', 50);
    state.use(ONLINE);
    await core.answered();
    expect(state.edits).toEqual({ steps: 9 });
    expect(state.seedMode).toBe('fixed');
    state.use(other);
    await core.answered();
    expect(state.edits).toEqual({ steps: 50 });
    expect(revoked).toEqual([]);
  });

  test('the intent bar’s prompt goes in while the person has not written one, follows the text, and is taken back', () => {
    const state = new GenerationState(new FakeCore().api);
    state.offerPrompt('a cat');
    expect(state.prompt).toBe('a cat');
    state.offerPrompt('a cat astronaut');
    expect(state.prompt).toBe('a cat astronaut');
    state.offerPrompt(null);
    expect(state.edits).toEqual({});
    state.prompt = 'my own words';
    state.offerPrompt('a dog');
    expect(state.prompt).toBe('my own words');
    state.offerPrompt(null);
    expect(state.prompt).toBe('my own words');
  });

  test('with the server down, Generate says what the connection says (a dead port asks whether ComfyUI runs)', () => {
    const state = new GenerationState(new FakeCore().api);
    state.use({
      ...ONLINE,
      isOnline: false,
      serverProblem: 'Connection refused on 127.0.0.1:8188 — is ComfyUI running?',
    });
    expect(state.blockedReason).toBe('Connection refused on 127.0.0.1:8188 — is ComfyUI running?');
    state.use({ ...ONLINE, serverId: null, isOnline: false });
    expect(state.blockedReason).toBe('Add a ComfyUI server in Settings › Connections to generate.');
  });
});
