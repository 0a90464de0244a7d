import { resolve } from 'node:path';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { LibraryPage } from './pages/library-page';

const FIXTURE_LIBRARY = resolve(import.meta.dirname, '..', 'fixtures', 'library');
const SAMPLES = ['Image to image (SD 1.5)', 'Text to image (SD 1.5)', 'Upscale 4× (Real-ESRGAN)'];
const FIXTURES = ['Animate a photo', 'Fox in the snow', 'Lighthouse poster', 'Upscale 2x', 'Half saved'];

test.use({ serveArgs: ['--workflows', FIXTURE_LIBRARY] });

test('the workflow browser searches, filters, follows an intent chip and explains an unusable file', async ({
  page,
  served,
}) => {
  const app = new AppPage(page);
  const library = new LibraryPage(page);

  await test.step('open the Generate page: every workflow is a card', async () => {
    await app.open(served.url);
    await expect(library.browser.getByRole('status')).toHaveText(`${SAMPLES.length + FIXTURES.length} workflows`);
    await library.expectCards([...SAMPLES, ...FIXTURES]);
    await expect(library.card('Fox in the snow')).toContainText('Not connected');
    await page.screenshot({ path: 'test-results/screenshots/library-all.png', fullPage: true });
  });

  await test.step('search narrows the grid, forgiving a typo', async () => {
    await library.search.fill('lighthuose');
    await library.expectCards(['Lighthouse poster']);
    await library.search.fill('');
    await expect(library.cards).toHaveCount(SAMPLES.length + FIXTURES.length);
  });

  await test.step('a filter chip narrows the grid to video workflows', async () => {
    await library.showFilters();
    await library.filter('Makes', 'Video').click();
    await expect(library.filter('Makes', 'Video')).toHaveAttribute('aria-pressed', 'true');
    await library.expectCards(['Animate a photo', 'Fox in the snow']);
    await library.filter('Makes', 'Video').click();
    await expect(library.cards).toHaveCount(SAMPLES.length + FIXTURES.length);
  });

  await test.step('an intent chip shows the workflows that fit', async () => {
    await library.chip('Image to video').click();
    await expect(library.chip('Image to video')).toHaveAttribute('aria-pressed', 'true');
    await library.expectCards(['Animate a photo']);
    await expect(library.browser).toContainText('1 workflow can make a video from an image.');
    await page.screenshot({ path: 'test-results/screenshots/library-intent.png', fullPage: true });
  });

  await test.step('free text that fits nothing says so and offers to browse', async () => {
    await library.intentInput.fill('generate a song');
    await library.intentInput.press('Enter');
    await expect(library.browser).toContainText('No workflow in your library can make audio yet.');
    await library.browser.getByRole('button', { name: 'Show all workflows' }).first().click();
    await expect(library.cards).toHaveCount(SAMPLES.length + FIXTURES.length);
  });

  await test.step('an error card shows why the file cannot be used', async () => {
    await library.search.fill('half saved');
    const broken = library.card('Half saved');
    await expect(broken).toContainText('Cannot be used');
    await expect(broken).toContainText('cut short');
    await page.screenshot({ path: 'test-results/screenshots/library-error-card.png', fullPage: true });
  });
});

test('choosing a workflow selects it for Generate, and the details show its models and file', async ({
  page,
  served,
}) => {
  const app = new AppPage(page);
  const library = new LibraryPage(page);
  await app.open(served.url);

  await test.step('Generate on a card selects it and names it in the Generate panel', async () => {
    await library.card('Fox in the snow').getByRole('button', { name: 'Generate' }).click();
    await expect(page).toHaveURL(/#\/generate\?workflow=/);
    await expect(app.region('Generate')).toContainText('Fox in the snow');
    await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeDisabled();
    // Why Generate is off, in the connection's words ("Connection refused on … — is ComfyUI running?").
    await expect(page.locator('#generate-hint')).toHaveText(/ComfyUI/);
  });

  await test.step('the link survives a reload', async () => {
    await page.reload();
    await expect(app.region('Generate')).toContainText('Fox in the snow');
  });

  await test.step('the details view lists models, nodes and the file path', async () => {
    await library.card('Fox in the snow').getByRole('button', { name: 'Details' }).click();
    const dialog = page.getByRole('dialog', { name: 'Fox in the snow' });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('cell', { name: 'wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors' })).toBeVisible();
    await expect(dialog).toContainText('Fox in the snow.json');
    await page.screenshot({ path: 'test-results/screenshots/library-details.png', fullPage: true });
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
  });

  await test.step('the Workflows page lists everything and its Generate goes back with the workflow chosen', async () => {
    await app.goTo('Workflows');
    const list = page.getByRole('list', { name: 'Workflows' });
    await expect(list.getByRole('listitem')).toHaveCount(SAMPLES.length + FIXTURES.length);
    await page.screenshot({ path: 'test-results/screenshots/workflows-page.png', fullPage: true });
    await list.getByRole('listitem', { name: 'Lighthouse poster' }).getByRole('button', { name: 'Generate' }).click();
    await expect(app.navLink('Generate')).toHaveAttribute('aria-current', 'page');
    await expect(app.region('Generate')).toContainText('Lighthouse poster');
  });
});

test('workflow folders can be added and removed in Settings', async ({ page, served }) => {
  const app = new AppPage(page);
  await app.open(served.url);
  await app.goTo('Settings');
  const folders = page.getByRole('list', { name: 'Watched folders' });

  await test.step('the app folder and the --workflows folder are listed', async () => {
    await expect(folders.getByRole('listitem')).toHaveCount(2);
    await expect(folders).toContainText('This run only (--workflows)');
  });

  await test.step('a folder that does not exist is refused with a reason', async () => {
    await page.getByLabel('Folder path').fill(`${served.dataDir}/nowhere`);
    await page.getByRole('button', { name: 'Add folder' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'does not exist' })).toBeVisible();
  });

  await test.step('removing the --workflows folder takes its workflows away', async () => {
    await page.getByRole('button', { name: `Stop watching ${FIXTURE_LIBRARY}` }).click();
    await expect(folders.getByRole('listitem')).toHaveCount(1);
    await app.goTo('Workflows');
    await expect(page.getByRole('list', { name: 'Workflows' }).getByRole('listitem')).toHaveCount(SAMPLES.length);
    await page.screenshot({ path: 'test-results/screenshots/settings-folders.png', fullPage: true });
  });
});
