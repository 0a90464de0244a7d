import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { GeneratePage } from './pages/generate-page';
import { posterWorkflow } from './support/workflows';

const WORKFLOW = 'Lighthouse poster';
/** The same graph with its slow step after the seeded sampler, so each run of a batch really runs. */
const CHAINED = 'Lighthouse series';

test.use({
  comfyServer: { models: { checkpoints: ['sd15.safetensors', 'sdxl.safetensors'] } },
  seedFiles: {
    [`workflows/${WORKFLOW}.json`]: JSON.stringify(posterWorkflow()),
    [`workflows/${CHAINED}.json`]: JSON.stringify(posterWorkflow({ isChained: true })),
  },
});

/**
 * Records every Web Notification the page creates (in `window.__notifications`), and makes the page
 * look like a background tab, where notifications are meant for. Runs in the page, before its scripts.
 */
const RECORD_NOTIFICATIONS = `
  const shown = [];
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      shown.push({ title, body: options && options.body });
    }
  }
  Object.defineProperty(window, 'Notification', { value: Recorded, configurable: true });
  Object.defineProperty(window, '__notifications', { value: shown });
  document.hasFocus = () => false;
`;

/** What the recorder saw. */
function notificationsShown(page: Page): Promise<Array<{ title: string; body?: string }>> {
  return page.evaluate(
    () => (globalThis as unknown as { __notifications: Array<{ title: string; body?: string }> }).__notifications,
  );
}

test.describe('generating in serve mode', () => {
  test.use({ permissions: ['notifications'] });

  test('choose a workflow, write a prompt, Generate: the bar moves, the title and favicon follow, the image appears, and a notification says so', async ({
    page,
    served,
    comfy,
  }) => {
    const app = new AppPage(page);
    const generate = new GeneratePage(page);
    await page.addInitScript({ content: RECORD_NOTIFICATIONS });
    const prompt = 'a lighthouse on a cliff at dusk, oil painting';

    await test.step('turn on browser notifications in Settings', async () => {
      await app.open(served.url);
      await app.goTo('Settings');
      const toggle = page.getByRole('switch', { name: /Notify me when a generation finishes or fails/ });
      await toggle.click();
      await expect(toggle).toBeChecked();
    });

    await test.step('choose the workflow: its form shows what the server allows', async () => {
      await app.goTo('Generate');
      await generate.choose(WORKFLOW);
      await expect(generate.field('Checkpoint')).toHaveValue(/sd15/);
      await expect(generate.field('Width')).toHaveValue('512');
      await expect(generate.generateButton).toBeEnabled();
    });

    await test.step('write a prompt and press Generate', async () => {
      await generate.prompt.fill(prompt);
      await generate.generateButton.click();
      await expect(generate.progress).toBeVisible();
    });

    await test.step('the bar moves, naming the node and step, and the tab title and favicon show the progress', async () => {
      await expect.poll(() => generate.percent(), { timeout: 20_000 }).toBeGreaterThan(10);
      const first = await generate.percent();
      await expect(generate.progress).toHaveAttribute('aria-valuetext', /Refiner \(step \d+\/30\)/);
      await expect.poll(() => generate.percent(), { timeout: 20_000 }).toBeGreaterThan(first);
      await expect(page).toHaveTitle(new RegExp(`^\\d+% · ${WORKFLOW} — ComfyDesk$`));
      await expect.poll(() => generate.favicon()).toMatch(/^data:image\/png/);
      await expect(generate.outputs.getByRole('img', { name: `Live preview of ${WORKFLOW}` })).toBeVisible();
      await expect(app.navigation.getByRole('link', { name: new RegExp(`Running: ${WORKFLOW}`) })).toBeVisible();
      await page.screenshot({ path: 'test-results/screenshots/generate-running.png' });
    });

    await test.step('the output image appears; title and favicon are themselves again', async () => {
      const result = generate.result(WORKFLOW);
      await expect(result).toBeVisible({ timeout: 30_000 });
      await expect(result).toContainText('Finished');
      // Two images in the strip: the diffusion chain's preview (64 px) and the saved poster (256 px),
      // both loaded; the poster is the one shown large.
      const thumbnails = result.getByRole('list', { name: 'Outputs' }).getByRole('listitem').locator('img');
      await expect(thumbnails).toHaveCount(2);
      await expect
        .poll(() =>
          thumbnails.evaluateAll((images) =>
            images.map((image) => (image as unknown as { naturalWidth: number }).naturalWidth).sort((a, b) => a - b),
          ),
        )
        .toEqual([64, 256]);
      await expect(result.getByRole('button', { name: `Open output 2 of ${WORKFLOW}` }).getByRole('img')).toBeVisible();
      await expect(page).toHaveTitle('ComfyDesk');
      await expect.poll(() => generate.favicon()).toBe('./favicon.svg');
      await page.screenshot({ path: 'test-results/screenshots/generate-finished.png' });
    });

    await test.step('the server ran our prompt, and the browser was notified', async () => {
      const entries = Object.values(comfy!.history()) as Array<{
        prompt: [number, string, Record<string, { inputs: Record<string, unknown> }>];
      }>;
      expect(entries.map((entry) => entry.prompt[2]['6']?.inputs.text)).toEqual([prompt]);
      await expect
        .poll(() => notificationsShown(page))
        .toEqual([{ title: 'Generation finished', body: `${WORKFLOW} — ${prompt}` }]);
    });

    await test.step('the result opens large in the viewer with what made it; Escape closes it', async () => {
      await generate
        .result(WORKFLOW)
        .getByRole('button', { name: `Open output 2 of ${WORKFLOW}` })
        .click();
      await expect(generate.viewer).toBeVisible();
      await expect(generate.viewer.getByRole('img', { name: `${WORKFLOW}, output 2 of 2` })).toBeVisible();
      await expect(generate.viewer).toContainText(prompt);
      await expect(generate.viewer.getByRole('link', { name: 'Save' })).toHaveAttribute('download', /poster_\d+_\.png/);
      await page.screenshot({ path: 'test-results/screenshots/generate-viewer.png' });
      await page.keyboard.press('Escape');
      await expect(generate.viewer).toBeHidden();
    });
  });
});

test('cancelling a running job stops it on the server and says so', async ({ page, served, comfy }) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  comfy!.setTiming({ stepMs: 400 });

  await test.step('start a run', async () => {
    await app.open(served.url);
    await generate.choose(WORKFLOW);
    await generate.prompt.fill('a slow one');
    await generate.prompt.press('Control+Enter');
    await expect.poll(() => generate.percent(), { timeout: 20_000 }).toBeGreaterThan(0);
  });

  await test.step('Cancel: the server stops, and the result says it was cancelled with a Retry', async () => {
    await generate.outputs.getByRole('button', { name: 'Cancel' }).click();
    const result = generate.result(WORKFLOW);
    await expect(result).toContainText('Cancelled', { timeout: 20_000 });
    await expect(result.getByRole('button', { name: 'Retry' })).toBeVisible();
    await comfy!.waitForIdle();
    expect(comfy!.queue()).toEqual({ running: [], pending: [] });
  });
});

test('a batch waits in the queue in order; a held run moves up, one is cancelled, and Pause holds the rest', async ({
  page,
  served,
  comfy,
}) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  // Slow enough that run 1 is still running when Pause is pressed, after the moves and the cancel.
  comfy!.setTiming({ stepMs: 600 });
  const row = (run: number) => generate.outputs.getByRole('listitem', { name: `${CHAINED}, run ${run} of 3` });

  await test.step('queue three runs', async () => {
    await app.open(served.url);
    await generate.choose(CHAINED);
    await generate.prompt.fill('three in a row');
    await page.getByRole('spinbutton', { name: 'Runs' }).fill('3');
    await generate.generateButton.click();
    await expect(app.navLink('Generate')).toContainText('3');
  });

  await test.step('the Queue view lists them in the order they run; the first is running', async () => {
    await generate.tab('Queue').click();
    const rows = generate.outputs.getByRole('list', { name: 'Queued jobs' }).getByRole('listitem');
    await expect(rows).toHaveCount(3);
    await expect(rows.first()).toHaveAccessibleName(`${CHAINED}, run 1 of 3`);
    await expect(row(1)).toContainText('Running');
    await expect(row(3)).toContainText('Waiting in ComfyDesk · #2');
    await expect(row(3)).toContainText(/queued \d\d:\d\d( [AP]M)? · seed \d+/);
  });

  await test.step('run 3 moves up before run 2, and run 2 is cancelled', async () => {
    await row(3)
      .getByRole('button', { name: `Move up: ${CHAINED}, run 3 of 3` })
      .click();
    await expect(row(3)).toContainText('#1');
    await expect(row(2)).toContainText('#2');
    await row(2)
      .getByRole('button', { name: `Cancel ${CHAINED}, run 2 of 3` })
      .click();
    await expect(row(2)).toBeHidden();
    await expect(generate.outputs.getByRole('status').filter({ hasText: 'cancelled' })).toHaveText(
      `${CHAINED}, run 2 of 3 cancelled.`,
    );
    await page.screenshot({ path: 'test-results/screenshots/generate-queue.png' });
  });

  await test.step('Pause: the running one finishes and run 3 stays held until Resume', async () => {
    await generate.outputs.getByRole('button', { name: 'Pause queue' }).click();
    await expect(generate.outputs).toContainText('Paused');
    await expect(row(1)).toBeHidden({ timeout: 30_000 });
    await expect(row(3)).toContainText('Waiting in ComfyDesk (queue paused)');
    expect(comfy!.queue()).toEqual({ running: [], pending: [] });
    await generate.outputs.getByRole('button', { name: 'Resume queue' }).click();
    await expect(row(3)).toContainText('Running', { timeout: 20_000 });
    await row(3)
      .getByRole('button', { name: `Cancel ${CHAINED}, run 3 of 3` })
      .click();
    await expect(generate.outputs.getByText('The queue is empty')).toBeVisible({ timeout: 20_000 });
  });
});

test('a long queue draws only the rows in view, yet scrolling and Tab reach every run, and a moved run keeps focus', async ({
  page,
  served,
}) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  const list = generate.outputs.getByRole('list', { name: 'Queued jobs' });
  const row = (run: number) => list.getByRole('listitem', { name: `${WORKFLOW}, run ${run} of 60` });

  await test.step('with the queue paused, 60 runs wait in ComfyDesk', async () => {
    await app.open(served.url);
    await generate.choose(WORKFLOW);
    await generate.prompt.fill('sixty of them');
    await page.getByRole('spinbutton', { name: 'Runs' }).fill('60');
    await generate.tab('Queue').click();
    await generate.outputs.getByRole('button', { name: 'Pause queue' }).click();
    await generate.generateButton.click();
    await generate.tab('Queue').click();
    await expect(row(1)).toHaveAttribute('aria-setsize', '60');
    expect(await list.getByRole('listitem').count()).toBeLessThan(30);
    await expect(row(60)).toHaveCount(0);
  });

  await test.step('scrolling to the end shows the last run, in its place', async () => {
    await page.locator('#output-panel').evaluate((panel) => panel.scrollTo({ top: panel.scrollHeight }));
    await expect(row(60)).toBeInViewport();
    await expect(row(60)).toHaveAttribute('aria-posinset', '60');
    await expect(row(60)).toContainText('Waiting in ComfyDesk (queue paused) · #60');
    await expect(row(1)).toHaveCount(0);
  });

  await test.step('from the top, Tab walks the rows’ buttons past the ones first drawn', async () => {
    await page.locator('#output-panel').evaluate((panel) => panel.scrollTo({ top: 0 }));
    await row(1)
      .getByRole('button', { name: `More actions for ${WORKFLOW}, run 1 of 60` })
      .focus();
    // Each held row after the first has Move up, Move down, Cancel and More actions.
    for (let press = 0; press < 4 * 29; press += 1) await page.keyboard.press('Tab');
    await expect(row(30).getByRole('button', { name: `More actions for ${WORKFLOW}, run 30 of 60` })).toBeFocused();
    await expect(row(30)).toBeInViewport();
  });

  await test.step('the last run, sent next from its menu by keyboard, keeps focus at the top of the queue', async () => {
    await page.locator('#output-panel').evaluate((panel) => panel.scrollTo({ top: panel.scrollHeight }));
    const more = row(60).getByRole('button', { name: `More actions for ${WORKFLOW}, run 60 of 60` });
    await more.focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('menuitem', { name: 'Send next' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(row(60)).toHaveAttribute('aria-posinset', '1');
    await expect(more).toBeFocused();
    await expect(row(60)).toBeInViewport();
    await expect(row(59)).toHaveCount(0);
  });

  await test.step('moved down one place by keyboard, it keeps focus on Move down', async () => {
    const down = row(60).getByRole('button', { name: `Move down: ${WORKFLOW}, run 60 of 60` });
    await down.focus();
    await page.keyboard.press('Enter');
    await expect(row(60)).toHaveAttribute('aria-posinset', '2');
    await expect(down).toBeFocused();
  });
});

test('a past generation is run again from Recent with the same settings, and Ctrl+K goes back to the search', async ({
  page,
  served,
  comfy,
}) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  comfy!.setTiming({ stepMs: 20 });

  await test.step('make one generation', async () => {
    await app.open(served.url);
    await generate.choose(WORKFLOW);
    await generate.prompt.fill('a first lighthouse');
    await generate.generateButton.click();
    await expect(generate.result(WORKFLOW)).toContainText('Finished', { timeout: 30_000 });
  });

  await test.step('Recent lists it; its viewer re-runs it with the same settings', async () => {
    await generate.tab('Recent').click();
    const recent = generate.outputs.getByRole('list', { name: 'Past generations' });
    await expect(recent.getByRole('button', { name: `${WORKFLOW}: a first lighthouse` })).toBeVisible();
    await recent.getByRole('button', { name: `${WORKFLOW}: a first lighthouse` }).click();
    await generate.viewer.getByRole('button', { name: 'Re-run' }).click();
    await expect(generate.viewer).toBeHidden();
    await expect(generate.tab('Current')).toHaveAttribute('aria-selected', 'true');
    await expect(generate.result(WORKFLOW)).toContainText('Finished', { timeout: 30_000 });
  });

  await test.step('both runs are in Recent, found by searching the prompt', async () => {
    await generate.tab('Recent').click();
    const recent = generate.outputs.getByRole('list', { name: 'Past generations' });
    await expect(recent.getByRole('button', { name: `${WORKFLOW}: a first lighthouse` })).toHaveCount(2);
    await generate.outputs.getByLabel('Search past generations').fill('nothing like this');
    await expect(generate.outputs).toContainText('Nothing matches');
    const runs = Object.values(comfy!.history()) as Array<{
      prompt: [number, string, Record<string, { inputs: Record<string, unknown> }>];
    }>;
    expect(runs.map((entry) => entry.prompt[2]['6']?.inputs.text)).toEqual([
      'a first lighthouse',
      'a first lighthouse',
    ]);
  });

  await test.step('Ctrl+K from another page goes back to the workflow search', async () => {
    await app.goTo('Models');
    await page.keyboard.press('Control+k');
    await expect(page.getByLabel('Search workflows')).toBeFocused();
  });
});
