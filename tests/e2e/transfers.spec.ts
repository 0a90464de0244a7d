import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestFileServer, sha256 } from '../support/file-server';
import { loaderNode, customNode, workflowOf } from '../support/transfers';
import { expect, test as base, TEST_SERVER_NAME } from './fixtures';
import { AppPage } from './pages/app-page';
import { LibraryPage } from './pages/library-page';

const CONTENT = randomBytes(3 * 1024 * 1024);
const KJ = 'https://github.com/kijai/ComfyUI-KJNodes';

/**
 * A file server for the model (its first answer stalls halfway, so the progress can be looked at until the
 * test drops the connection and the download resumes) and the node map; the workflows that point at it.
 * Page errors, console errors and failed requests fail each test through the shared fixture.
 */
const test = base.extend<{ files: TestFileServer }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern; it has none
  files: async ({}, use) => {
    const files = new TestFileServer()
      .serve('/m/portrait.safetensors', { content: CONTENT, stallAfterBytes: CONTENT.length / 2 })
      .serve('/node-map.json', Buffer.from(JSON.stringify({ [KJ]: [['ImageResizeKJ'], { title_aux: 'KJNodes' }] })));
    await files.start();
    await use(files);
    await files.stop();
  },
  seedFiles: async ({ files }, use) => {
    await use({
      'workflows/Portrait.json': JSON.stringify(
        workflowOf('E2E portrait', [
          loaderNode(1, 'CheckpointLoaderSimple', 'portrait.safetensors', {
            url: files.url('/m/portrait.safetensors'),
            directory: 'checkpoints',
            hash: sha256(CONTENT),
          }),
        ]),
      ),
      'workflows/Resize.json': JSON.stringify(workflowOf('E2E resize', [customNode(1, 'ImageResizeKJ')])),
      'settings.json': JSON.stringify({
        transfers: { modelListUrl: files.url('/model-list.json'), nodeMapUrl: files.url('/node-map.json') },
      }),
    });
  },
});

test.use({ comfyServer: {} });

test('Missing to Ready: Get missing puts the model on the server, the card turns Ready, Downloads shows it', async ({
  page,
  served,
  comfy,
  files,
}) => {
  const app = new AppPage(page);
  const library = new LibraryPage(page);
  const card = library.card('E2E portrait');

  await test.step('the card says what is missing and offers Get missing with its size', async () => {
    await app.open(served.url);
    await expect(card).toContainText('Missing 1');
    await expect(card.getByRole('button', { name: 'Get missing (1 model, 3.0 MB) for E2E portrait' })).toBeVisible();
    await expect(library.card('E2E resize')).toContainText('needs ComfyUI-KJNodes (1 node type)');
    await expect(library.card('E2E resize').getByRole('link', { name: 'ComfyUI-KJNodes' })).toHaveAttribute('href', KJ);
    await page.screenshot({ path: 'test-results/screenshots/transfers-missing.png', fullPage: true });
  });

  const dialog = page.getByRole('dialog', { name: 'Get missing: E2E portrait' });
  await test.step('the dialog says where the file comes from and where it goes', async () => {
    await card.getByRole('button', { name: /^Get missing/ }).click();
    await expect(dialog).toContainText('ComfyUI runs on this computer');
    await expect(dialog).toContainText('from the workflow');
    await expect(dialog).toContainText(comfy!.folderPaths().checkpoints![0]!);
    await page.screenshot({ path: 'test-results/screenshots/transfers-dialog.png', fullPage: true });
  });

  await test.step('Download shows progress, resumes after a dropped connection, then the card turns Ready with a notice', async () => {
    await dialog.getByRole('button', { name: 'Download 1 file (3.0 MB)' }).click();
    await expect(dialog.getByRole('progressbar', { name: 'Download of portrait.safetensors' })).toBeVisible();
    await expect(app.navLink('Downloads').getByLabel('1 downloading')).toBeVisible();
    await expect(dialog).toContainText('1.5 MB of 3.0 MB'); // where the server stalled
    await page.screenshot({ path: 'test-results/screenshots/transfers-progress.png', fullPage: true });
    files.dropConnections();
    await expect(dialog).toContainText('Ready — Test ComfyUI has everything this workflow needs.', { timeout: 30_000 });
    await expect(page.getByText(`E2E portrait is Ready on ${TEST_SERVER_NAME}.`)).toBeVisible();
    await page.screenshot({ path: 'test-results/screenshots/transfers-ready.png', fullPage: true });
    await dialog.getByRole('button', { name: 'Close', exact: true }).first().click();
    await expect(card).toContainText('Ready');
    await expect(card.getByRole('button', { name: /^Get missing/ })).toHaveCount(0);
    const placed = join(comfy!.folderPaths().checkpoints![0]!, 'portrait.safetensors');
    expect(readFileSync(placed).equals(CONTENT)).toBe(true);
  });

  await test.step('the Downloads view lists the finished transfer by server', async () => {
    await app.goTo('Downloads');
    const server = page.getByRole('region', { name: TEST_SERVER_NAME });
    const row = server.getByRole('listitem', { name: 'portrait.safetensors' });
    await expect(row).toContainText('Done');
    await expect(row).toContainText('into the folder on this computer');
    await expect(page.getByRole('region', { name: 'Access tokens' })).toContainText('Not set');
    await page.screenshot({ path: 'test-results/screenshots/transfers-downloads.png', fullPage: true });
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await expect(page.getByText('Nothing is downloading')).toBeVisible();
  });
});
