import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { FormPage, watchForErrors } from './pages/form-page';
import { canvasWorkflow, invertPhotoWorkflow, posterWorkflow } from './support/workflows';

const POSTER = 'Lighthouse poster';
const CANVAS = 'Poster canvas';

test.use({
  viewport: { width: 1280, height: 800 },
  comfyServer: { models: { checkpoints: ['sd15.safetensors', 'sdxl.safetensors'] }, stepMs: 5 },
  seedFiles: {
    [`workflows/${POSTER}.json`]: JSON.stringify(posterWorkflow({ steps: 4, stepMs: 5 })),
    [`workflows/${CANVAS}.json`]: JSON.stringify(canvasWorkflow()),
    'workflows/Photo frame.json': JSON.stringify(invertPhotoWorkflow('holiday.png')),
    'workflows/Trip photo.json': JSON.stringify(invertPhotoWorkflow('trips/holiday.png')),
  },
});

type HistoryEntry = { prompt: [number, string, Record<string, { inputs: Record<string, unknown> }>] };

test('a colour input is a colour picker: the colour picked is the number ComfyUI gets', async ({
  page,
  served,
  comfy,
}) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);

  await test.step('the canvases’ sizes and colours are in the Size group, under each canvas’s title', async () => {
    await app.open(served.url);
    await form.choose(CANVAS);
    const size = form.group('Size');
    await expect(size.getByRole('heading', { name: 'Background' })).toBeVisible();
    await expect(size.getByRole('heading', { name: 'Overlay' })).toBeVisible();
    await expect(form.field('Width (Background)')).toHaveValue('320');
    await expect(form.field('Color (Background)')).toHaveAttribute('type', 'color');
    await expect(form.field('Color (Background)')).toHaveValue('#ff8000');
    await expect(form.card(CANVAS)).toContainText('Workflow');
  });

  await test.step('pick another colour and Generate: the server gets it as 0xRRGGBB', async () => {
    await form.field('Color (Background)').fill('#2266cc');
    await expect(form.group('Size')).toContainText('#2266CC');
    await form.screenshot('colour-picker');
    await form.generateButton.click();
    await expect.poll(() => Object.keys(comfy!.history()).length, { timeout: 20_000 }).toBe(1);
    const [entry] = Object.values(comfy!.history()) as HistoryEntry[];
    expect(entry!.prompt[2]['1']!.inputs.color).toBe(0x2266cc);
    expect(entry!.prompt[2]['2']!.inputs.color).toBe(0x0000ff);
  });
  errors.check();
});

test('a preset saves the settings of a workflow and puts them back, after a reload too', async ({ page, served }) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);

  await test.step('set Steps and CFG, and save them as “Quick draft”', async () => {
    await app.open(served.url);
    await form.choose(POSTER);
    await expect(form.presetChoice).toBeDisabled();
    await form.field('Steps').fill('12');
    await form.field('CFG').fill('4.5');
    await form.savePreset('Quick draft');
    await form.screenshot('preset-saved');
  });

  await test.step('change them, then load the preset: its values come back, the prompt stays', async () => {
    await page.getByLabel('Prompt', { exact: true }).fill('a harbour at night');
    await form.field('Steps').fill('40');
    await form.presetChoice.selectOption('Quick draft');
    await expect(form.field('Steps')).toHaveValue('12');
    await expect(form.field('CFG')).toHaveValue('4.5');
    await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('a harbour at night');
  });

  await test.step('after a reload the preset is still listed for this workflow, and only for it', async () => {
    await page.reload();
    await expect(form.panel.getByRole('heading', { name: POSTER })).toBeVisible();
    await expect(form.presetChoice.getByRole('option', { name: 'Quick draft' })).toHaveCount(1);
    await form.choose(CANVAS);
    await expect(form.presetChoice).toBeDisabled();
    await form.screenshot('preset-other-workflow');
  });
  errors.check();
});

test('the chosen workflow and the values set survive a visit to Settings', async ({ page, served }) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);

  await test.step('choose a workflow, write a prompt, change Steps and the seed mode', async () => {
    await app.open(served.url);
    await form.choose(POSTER);
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse in a storm');
    await form.field('Steps').fill('33');
    await form.panel.getByRole('combobox', { name: 'Seed mode' }).selectOption('fixed');
  });

  await test.step('go to Settings and back with the sidebar: everything is as it was', async () => {
    await app.goTo('Settings');
    await expect(page.getByRole('heading', { name: 'Connections' })).toBeVisible();
    await app.goTo('Generate');
    await expect(form.panel.getByRole('heading', { name: POSTER })).toBeVisible();
    await expect(page).toHaveURL(/#\/generate\?workflow=/);
    await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('a lighthouse in a storm');
    await expect(form.field('Steps')).toHaveValue('33');
    await expect(form.panel.getByRole('combobox', { name: 'Seed mode' })).toHaveValue('fixed');
    await form.screenshot('back-from-settings');
  });
  errors.check();
});

test("an input file the server lacks is caught before sending, and ComfyUI's own refusal shows once, beside the field", async ({
  page,
  served,
  comfy,
}) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);
  mkdirSync(join(comfy!.dataDir, 'input'), { recursive: true });
  writeFileSync(join(comfy!.dataDir, 'input', 'cat.png'), Buffer.from(await (await fetch(tinyPng())).arrayBuffer()));

  await test.step('a file name that is not in the server’s input folder is flagged, and Generate stays off', async () => {
    await app.open(served.url);
    await form.choose('Photo frame');
    await expect(form.panel.getByText('holiday.png is not on the server; drop a file here or pick one.')).toBeVisible();
    await expect(form.generateButton).toBeDisabled();
    await form.screenshot('missing-input');
  });

  await test.step('a file in a sub folder cannot be checked here: ComfyUI refuses it, and that is said beside the field only', async () => {
    await form.choose('Trip photo');
    await expect(form.generateButton).toBeEnabled();
    await form.generateButton.click();
    const photo = form.panel.getByText('ComfyUI refused this: Invalid image file: trips/holiday.png');
    await expect(photo).toBeVisible({ timeout: 20_000 });
    await expect(photo).toBeInViewport();
    // Once: no toast, and the result view points at the form instead of repeating ComfyUI's words.
    await expect(page.getByText(/Trip photo failed/)).toHaveCount(0);
    await expect(page.getByText(/Invalid image file/)).toHaveCount(1);
    await expect(page.getByRole('region', { name: 'Result of Trip photo' })).toContainText(
      'ComfyUI refused these values. Why is said beside the fields in the form above.',
    );
    await expect(form.generateButton).toBeDisabled();
    await form.screenshot('comfy-refusal');
  });

  await test.step('picking a file the server has clears it, and the run goes through', async () => {
    await form.panel.getByRole('combobox', { name: /Or pick a file already on the server/ }).selectOption('cat.png');
    await expect(form.panel.getByText(/ComfyUI refused this/)).toHaveCount(0);
    await form.generateButton.click();
    await expect(page.getByRole('region', { name: 'Result of Trip photo' })).toContainText('Finished', {
      timeout: 20_000,
    });
  });
  errors.check();
});

test('the intent bar answers as you type, and a plain prompt offers the text-to-image workflows with the prompt filled in', async ({
  page,
  served,
}) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);

  await test.step('typing, without Enter, narrows the workflows to text-to-image ones', async () => {
    await app.open(served.url);
    await form.intent.pressSequentially('a cat astronaut', { delay: 20 });
    await expect(form.browser).toContainText('“a cat astronaut” goes in as the prompt.');
    await expect(form.browser.getByRole('listitem')).toHaveCount(1);
    await expect(form.card(POSTER)).toBeVisible();
    await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('a cat astronaut');
    await form.screenshot('intent-typed');
  });

  await test.step('choosing the offered workflow keeps the prompt', async () => {
    await form.choose(POSTER);
    await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('a cat astronaut');
  });

  await test.step('asking for a kind of workflow describes nothing: the prompt written by the bar is taken back', async () => {
    await form.intent.fill('turn this photo into a short clip');
    await expect(form.browser).toContainText('Image to video');
    await expect(page.getByLabel('Prompt', { exact: true })).toHaveValue('a lighthouse');
  });
  errors.check();
});

test("Open in ComfyUI saves the workflow with the form's values into the server's workflows and opens its page", async ({
  page,
  served,
  comfy,
}) => {
  const errors = watchForErrors(page);
  const app = new AppPage(page);
  const form = new FormPage(page);

  await app.open(served.url);
  await form.choose(CANVAS);
  await form.field('Width (Overlay)').fill('200');
  await form.field('Color (Overlay)').fill('#00ff00');
  const opened = page.context().waitForEvent('page');
  await form.panel.getByRole('button', { name: 'Open in ComfyUI' }).click();
  const comfyPage = await opened;
  await comfyPage.waitForLoadState();
  expect(comfyPage.url()).toBe(`${comfy!.url}/`);
  await expect(form.panel.getByText(/Saved as “ComfyDesk\/Poster canvas.json” in ComfyUI's workflows/)).toBeVisible();
  await form.screenshot('open-in-comfyui');

  const listing = (await (await fetch(`${comfy!.url}/api/userdata?dir=workflows&recurse=true`)).json()) as string[];
  expect(listing).toEqual(['ComfyDesk/Poster canvas.json']);
  const saved = (await (
    await fetch(`${comfy!.url}/api/userdata/${encodeURIComponent('workflows/ComfyDesk/Poster canvas.json')}`)
  ).json()) as { nodes: Array<{ id: number; widgets_values: unknown[] }> };
  expect(saved.nodes.find((node) => node.id === 2)!.widgets_values).toEqual([200, 240, 1, 0x00ff00]);
  expect(saved.nodes.find((node) => node.id === 1)!.widgets_values).toEqual([320, 240, 1, 0xff8000]);
  await comfyPage.close();
  errors.check();
});

/** A 1×1 PNG as a data: URL (a real image file for the server's input folder). */
function tinyPng(): string {
  return 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
}
