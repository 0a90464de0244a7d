import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { EnhancePanel } from './pages/enhance-panel';
import { tinyGgufBytes } from '../fixtures/tiny-gguf';

test.describe('with enhancement on and the tiny model selected', () => {
  test.use({
    seedFiles: {
      // A bare .gguf name is looked up in the models folder.
      'settings.json': JSON.stringify({ llm: { enabled: true, model: 'tiny.gguf' } }),
      'models/llm/tiny.gguf': tinyGgufBytes(),
    },
  });

  test('Ctrl+E streams an enhancement, keeps the prompt when the subject is lost, and it can be used anyway and undone', async ({
    page,
    served,
  }) => {
    const app = new AppPage(page);
    const panel = new EnhancePanel(page);
    const original = 'a red fox in the snow';

    await test.step('open the Generate page and write a prompt', async () => {
      await app.open(served.url);
      await expect(panel.enhanceButton).toBeVisible();
      await panel.type(original);
      await panel.chooseStyle('Cinematic');
    });

    await test.step('press Ctrl+E: the model loads, the text streams in, and the check keeps the original', async () => {
      await panel.enhanceWithShortcut();
      await expect(panel.suggestion).toBeVisible();
      // The tiny test model only knows scenery words, so it never names the fox: the subject check says so.
      await expect(panel.suggestion).toContainText('dropped “red”, “fox”, “snow”, so your prompt was kept', {
        timeout: 30_000,
      });
      await expect(panel.prompt).toHaveValue(original);
      await expect(page.getByRole('status').filter({ hasText: 'so your prompt was kept' })).toHaveCount(1);
      await page.screenshot({ path: 'test-results/screenshots/enhance-subject-kept.png', fullPage: true });
    });

    await test.step('use the suggestion anyway, then undo it', async () => {
      await panel.suggestion.getByRole('button', { name: 'Use it anyway' }).click();
      await expect(panel.prompt).not.toHaveValue(original);
      await expect(panel.result).toContainText('Enhanced · Cinematic');
      await page.screenshot({ path: 'test-results/screenshots/enhance-applied.png', fullPage: true });
      await panel.result.getByRole('button', { name: 'Undo enhancement' }).click();
      await expect(panel.prompt).toHaveValue(original);
      await expect(panel.result).toBeHidden();
    });

    await test.step('the Enhance button works too, and Settings shows the model as loaded', async () => {
      await panel.enhanceButton.click();
      await expect(panel.suggestion.getByRole('button', { name: 'Use it anyway' })).toBeVisible({ timeout: 30_000 });
      await app.goTo('Settings');
      await expect(page.getByRole('switch', { name: 'Enable prompt enhancement' })).toBeChecked();
      const tiny = page.getByRole('listitem').filter({ hasText: 'tiny.gguf' });
      await expect(tiny.getByTestId('model-state')).toHaveText('Loaded');
      await expect(page.getByRole('status').filter({ hasText: 'tiny.gguf is loaded on the' })).toBeVisible();
    });
  });
});

test('turning enhancement on in Settings shows the Enhance control; a model that is not installed points back to Settings', async ({
  page,
  served,
}) => {
  const app = new AppPage(page);
  const panel = new EnhancePanel(page);

  await test.step('off by default: no Enhance control', async () => {
    await app.open(served.url);
    await expect(panel.prompt).toBeVisible();
    await expect(panel.enhanceButton).toHaveCount(0);
  });

  await test.step('turn it on in Settings › AI prompt enhancement', async () => {
    await app.goTo('Settings');
    const section = page.getByRole('region', { name: 'AI prompt enhancement' });
    await section.getByRole('switch', { name: 'Enable prompt enhancement' }).check();
    await expect(section.getByRole('radio', { name: 'Qwen 2.5 1.5B Instruct (Q4_K_M)' })).toBeChecked();
    await expect(section.getByRole('button', { name: 'Download Phi-3 Mini 4k Instruct (Q4)' })).toBeVisible();
    await expect(
      section.getByRole('listitem').filter({ hasText: 'Llama 3.2 3B' }).getByTestId('model-state'),
    ).toHaveText('Not installed');
    await page.screenshot({ path: 'test-results/screenshots/settings-llm.png', fullPage: true });
  });

  await test.step('enhancing without the model explains and offers the way to Settings', async () => {
    await app.goTo('Generate');
    await panel.type('a lighthouse at night');
    await panel.enhanceButton.click();
    await expect(panel.problem).toContainText('Qwen 2.5 1.5B Instruct (Q4_K_M) is not installed yet');
    await expect(panel.prompt).toHaveValue('a lighthouse at night');
    await panel.problem.getByRole('button', { name: 'Open settings' }).click();
    await expect(app.navLink('Settings')).toHaveAttribute('aria-current', 'page');
  });

  await test.step('switching to a server shows its fields, and a server that is not running is reported', async () => {
    const section = page.getByRole('region', { name: 'AI prompt enhancement' });
    await section.getByRole('radio', { name: /On a server I already run/ }).check();
    await section.getByLabel('Server address').fill('http://127.0.0.1:9/v1');
    await section.getByLabel('Server address').press('Tab');
    await section.getByRole('button', { name: 'Test connection' }).click();
    await expect(section.getByRole('status').filter({ hasText: 'is not answering' })).toBeVisible();
  });
});
