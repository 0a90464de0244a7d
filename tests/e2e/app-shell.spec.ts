import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';

const version = (
  JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;

test('the served app shows the Generate page, answers a command and receives an event', async ({ page, served }) => {
  const app = new AppPage(page);

  await test.step('open the link serve mode printed', async () => {
    await app.open(served.url);
  });

  await test.step('see the regions of the Generate page', async () => {
    await expect(app.navLink('Generate')).toHaveAttribute('aria-current', 'page');
    await expect(app.region('I want to…')).toBeVisible();
    await expect(page.getByLabel('What do you want to make?')).toBeVisible();
    await expect(app.region('Workflows')).toBeVisible();
    await expect(app.region('Generate')).toBeVisible();
    await expect(page.getByLabel('Prompt', { exact: true })).toBeVisible();
    await expect(app.region('Output & queue')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Generate', exact: true })).toBeDisabled();
    await expect(app.region('Generate')).toContainText('Select a workflow first.');
    await page.screenshot({ path: 'test-results/screenshots/generate-page.png', fullPage: true });
  });

  await test.step('a command round trip: Settings shows the version the core reports', async () => {
    await app.goTo('Settings');
    await expect(page.getByTestId('app-version')).toHaveText(version);
  });

  await test.step('an event: a theme change in another tab reaches this one', async () => {
    expect(await app.theme()).toBe('dark');
    const other = new AppPage(await page.context().newPage());
    await other.open(served.url);
    await other.goTo('Settings');
    await other.themeOption('Light').check();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await expect(app.themeOption('Light')).toBeChecked();
    await page.screenshot({ path: 'test-results/screenshots/settings-light.png', fullPage: true });
    await other.page.close();
  });
});

test('the collapsible regions and the narrow layout keep working', async ({ page, served }) => {
  const app = new AppPage(page);
  await app.open(served.url);
  await test.step('collapse the intent bar to one line (the box stays, the chips go) and expand it again', async () => {
    await page.getByRole('button', { name: 'Collapse intent bar' }).click();
    await expect(page.getByRole('group', { name: 'Quick intents' })).toBeHidden();
    await expect(page.getByLabel('What do you want to make?')).toBeVisible();
    await page.getByRole('button', { name: 'Expand intent bar' }).click();
    await expect(page.getByRole('group', { name: 'Quick intents' })).toBeVisible();
  });
  await test.step('idle, output & queue is its tab bar; a tab opens its view, and it collapses again', async () => {
    const outputs = app.region('Output & queue');
    await expect(outputs.getByRole('tabpanel')).toBeHidden();
    await outputs.getByRole('tab', { name: 'Queue' }).click();
    await expect(outputs.getByRole('tabpanel')).toContainText('The queue is empty');
    await outputs.getByRole('button', { name: 'Collapse output and queue' }).click();
    await expect(outputs.getByRole('tabpanel')).toBeHidden();
  });
  await test.step('a narrow window shows the regions as tabs: Workflows · Generate · Output', async () => {
    await page.setViewportSize({ width: 760, height: 900 });
    await expect(app.navLink('Workflows')).toBeVisible();
    await expect(app.region('Workflows')).toBeVisible();
    await expect(app.region('Generate')).toBeHidden();
    await page.getByRole('tab', { name: 'Generate' }).click();
    await expect(app.region('Generate')).toBeVisible();
    await expect(app.region('Workflows')).toBeHidden();
    await page.getByRole('tab', { name: 'Output' }).click();
    await expect(app.region('Output & queue').getByRole('tabpanel')).toBeVisible();
    await page.screenshot({ path: 'test-results/screenshots/generate-narrow.png' });
  });
});

test('without the token the app is not served', async ({ page, served, pageProblems }) => {
  pageProblems.allow(/401/); // refused on purpose
  const response = await page.goto(served.url.replace(/\?token=.*/, ''));
  expect(response?.status()).toBe(401);
  await expect(page.locator('body')).toContainText('?token=');
});
