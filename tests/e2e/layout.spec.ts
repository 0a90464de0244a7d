import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { GeneratePage } from './pages/generate-page';
import { SIZES, check, expectAccessible, expectNoOverflow, shoot } from './support/layout';
import { photoWorkflow, posterWorkflow } from './support/workflows';

/** A name with characters a URL gives a meaning to: its outputs are saved in a folder of that name. */
const WORKFLOW = 'Blur + invert & co';
const LONG = 'A rather long workflow name that goes on and on for a while';
const PHOTO = 'Touch up a photo';

test.use({
  comfyServer: { models: { checkpoints: ['sd15.safetensors'] } },
  seedFiles: {
    [`workflows/${WORKFLOW}.json`]: JSON.stringify(posterWorkflow({ steps: 30 })),
    [`workflows/${LONG}.json`]: JSON.stringify(posterWorkflow()),
    [`workflows/${PHOTO}.json`]: JSON.stringify(photoWorkflow()),
  },
});

for (const size of SIZES) {
  test(`at ${size.name} every region of the Generate page fits, from choosing a workflow to its result, the queue, Recent and the viewer`, async ({
    page,
    served,
    comfy,
  }) => {
    // Nine states, each with a screenshot, an overflow check and an axe scan (seconds each on 2 cores).
    test.setTimeout(240_000);
    const app = new AppPage(page);
    const generate = new GeneratePage(page);
    const isNarrow = size.width < 1000;
    const shot = (step: string) => check(page, `layout-${size.name}-${step}`);
    comfy!.setTiming({ stepMs: 250 });
    await page.setViewportSize({ width: size.width, height: size.height });

    await test.step('the page before anything is chosen', async () => {
      await app.open(served.url);
      await expect(page.getByRole('listitem', { name: LONG, exact: true })).toBeVisible();
      if (isNarrow) await expect(page.getByRole('tab', { name: 'Workflows' })).toHaveAttribute('aria-selected', 'true');
      else await expect(generate.outputs.getByRole('tabpanel')).toBeHidden(); // idle: only its tab bar
      await shot('1-start');
    });

    await test.step('choosing a workflow: the intent bar folds to one line, the browser becomes a list', async () => {
      await generate.choose(WORKFLOW);
      await expect(page.getByRole('group', { name: 'Quick intents' })).toBeHidden();
      if (isNarrow) await expect(page.getByRole('tab', { name: 'Generate' })).toHaveAttribute('aria-selected', 'true');
      else await expect(page.getByRole('button', { name: 'List', pressed: true })).toBeVisible();
      await expect(generate.generateButton).toBeInViewport();
      await shot('2-chosen');
    });

    await test.step('Generate: output & queue grows and shows the live preview large', async () => {
      await generate.prompt.fill(
        'a lighthouse at dusk, with a long prompt that goes on to see that it wraps and clamps',
      );
      await generate.generateButton.click();
      await expect.poll(() => generate.percent(), { timeout: 20_000 }).toBeGreaterThan(0);
      await expect(generate.outputs.getByRole('img', { name: `Live preview of ${WORKFLOW}` })).toBeVisible();
      await shoot(page, `layout-${size.name}-3-running`);
      await expectNoOverflow(page, `${size.name} running`);
    });

    await test.step('the finished image, large, with the outputs as a strip', async () => {
      const result = generate.result(WORKFLOW);
      await expect(result).toContainText('Finished', { timeout: 30_000 });
      const large = result.getByRole('button', { name: /^Open output \d of / });
      await expect(large.getByRole('img')).toBeVisible();
      await expect
        .poll(() =>
          large.getByRole('img').evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth),
        )
        .toBe(256);
      await expect(result.getByRole('list', { name: 'Outputs' }).getByRole('listitem')).toHaveCount(2);
      await shot('4-finished');
    });

    await test.step('the queue and Recent views', async () => {
      await generate.tab('Queue').click();
      await expect(generate.outputs.getByText('The queue is empty')).toBeVisible();
      await shot('5-queue');
      await generate.tab('Recent').click();
      const tile = generate.outputs.getByRole('list', { name: 'Past generations' }).getByRole('listitem').first();
      await expect(tile).toContainText(/seed \d+/);
      await expect(tile).toContainText('256 × 256');
      await expect(tile).toContainText('Test ComfyUI');
      await shot('6-recent');
    });

    await test.step('the viewer (lightbox) with every setting used; Escape closes it', async () => {
      await generate.outputs.getByRole('list', { name: 'Past generations' }).getByRole('button').first().click();
      await expect(generate.viewer).toBeVisible();
      await expect(generate.viewer.getByRole('heading', { name: 'Settings used' })).toBeVisible();
      await expect(generate.viewer.getByRole('heading', { name: 'Refiner' })).toBeVisible();
      await shot('7-viewer');
      await page.keyboard.press('Escape');
      await expect(generate.viewer).toBeHidden();
    });

    await test.step('a workflow’s details', async () => {
      if (isNarrow) await page.getByRole('tab', { name: 'Workflows' }).click();
      await page.getByRole('button', { name: `Details of ${LONG}` }).click();
      const details = page.getByRole('dialog', { name: LONG });
      await expect(details).toBeVisible();
      await shot('8-details');
      await page.keyboard.press('Escape');
      await expect(details).toBeHidden();
    });

    await test.step('the browser as cards again, with a chosen workflow', async () => {
      await page.getByRole('button', { name: 'Cards', exact: true }).click();
      await expect(page.getByRole('listitem', { name: LONG, exact: true }).getByRole('heading')).toBeVisible();
      await shot('9-cards');
    });
  });
}

test('Recent compares two generations side by side, steps through them with the arrow keys, and puts one into an image-to-image workflow', async ({
  page,
  served,
  comfy,
}) => {
  test.setTimeout(120_000);
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  comfy!.setTiming({ stepMs: 10 });
  const recent = generate.outputs.getByRole('list', { name: 'Past generations' });

  await test.step('make two generations with different prompts', async () => {
    await app.open(served.url);
    await generate.choose(WORKFLOW);
    for (const prompt of ['a first lighthouse', 'a second lighthouse']) {
      await generate.prompt.fill(prompt);
      await generate.generateButton.click();
      await expect(generate.result(WORKFLOW)).toContainText('Finished', { timeout: 30_000 });
      await expect(generate.result(WORKFLOW)).toContainText(prompt);
    }
  });

  await test.step('pick both and compare: the two side by side, with what differs', async () => {
    await generate.tab('Recent').click();
    await recent.getByRole('checkbox', { name: /a first lighthouse/ }).check();
    await recent.getByRole('checkbox', { name: /a second lighthouse/ }).check();
    await generate.outputs.getByRole('button', { name: 'Compare (2/2)' }).click();
    const compare = page.getByRole('dialog', { name: 'Compare two generations' });
    await expect(compare.getByRole('img')).toHaveCount(2);
    await expect(compare.getByRole('row', { name: /Positive › text/ })).toContainText('a first lighthouse');
    await check(page, 'gallery-compare');
    await page.keyboard.press('Escape');
    await expect(compare).toBeHidden();
  });

  await test.step('the lightbox goes from one generation to the next with → and back with ←', async () => {
    await recent.getByRole('button', { name: `${WORKFLOW}: a second lighthouse` }).click();
    await expect(generate.viewer).toContainText('a second lighthouse');
    // It opens on the saved poster, its last output: → goes on to the older generation, ← comes back.
    await page.keyboard.press('ArrowRight');
    await expect(generate.viewer).toContainText('a first lighthouse');
    await page.keyboard.press('ArrowLeft');
    await expect(generate.viewer).toContainText('a second lighthouse');
  });

  await test.step('Use as input: the image goes into the image-to-image workflow, which runs with it', async () => {
    await generate.viewer.getByRole('button', { name: 'Use as input' }).click();
    await expect(generate.viewer).toBeHidden();
    await expect(generate.panel.getByRole('heading', { name: PHOTO })).toBeVisible();
    await expect(generate.panel.getByRole('img', { name: /poster_\d+_.*\.png/ })).toBeVisible();
    await expect(generate.generateButton).toBeEnabled({ timeout: 20_000 });
    await generate.generateButton.click();
    await expect(generate.result(PHOTO)).toContainText('Finished', { timeout: 30_000 });
    const runs = Object.values(comfy!.history()) as Array<{
      prompt: [number, string, Record<string, { class_type: string; inputs: Record<string, unknown> }>];
    }>;
    const photoRun = runs.at(-1)!.prompt[2];
    const loader = Object.values(photoRun).find((node) => node.class_type === 'LoadImage')!;
    expect(String(loader.inputs.image)).toMatch(/poster_\d+_.*\.png/);
    await shoot(page, 'gallery-use-as-input');
  });
});

test('every page passes an accessibility scan in the dark and the light theme', async ({ page, served }) => {
  test.setTimeout(180_000);
  const app = new AppPage(page);
  await app.open(served.url);
  for (const theme of ['Dark', 'Light'] as const) {
    await app.goTo('Settings');
    await app.themeOption(theme).check();
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme.toLowerCase());
    for (const name of ['Generate', 'Workflows', 'Models', 'Settings'] as const) {
      await test.step(`${name} in the ${theme.toLowerCase()} theme`, async () => {
        await app.goTo(name);
        await expect(app.main).toBeVisible();
        await expectAccessible(page, `${name} (${theme})`);
        await shoot(page, `a11y-${name.toLowerCase()}-${theme.toLowerCase()}`);
      });
    }
  }
});

test('when serve mode stops, the page says ComfyDesk is disconnected instead of the last server state', async ({
  page,
  served,
  pageProblems,
}) => {
  // The page keeps trying to reconnect to the stopped server: those failures are the point here.
  pageProblems.allow(/WebSocket connection .* failed|ERR_CONNECTION_REFUSED/);
  const app = new AppPage(page);
  await app.open(served.url);
  await expect(app.navigation.getByText('Test ComfyUI: online')).toBeVisible();
  await served.stop();
  await expect(app.navigation.getByText('Disconnected from ComfyDesk')).toBeVisible({ timeout: 20_000 });
  await expect(app.navigation.getByText('Test ComfyUI: unknown')).toBeVisible();
  await expect(app.navigation).not.toContainText(/\d+ ms/);
  await expect(
    page.getByRole('status').filter({ hasText: 'Disconnected from ComfyDesk. Trying to reconnect' }),
  ).toBeVisible();
  await shoot(page, 'disconnected');
});
