import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { GeneratePage } from './pages/generate-page';

const WORKFLOW = 'Tinted photo';

/** Smallest valid PNG: a 1×1 pixel. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * An API-format file with the seed's own `_meta` (its card's name, description and category): the
 * person's photo goes through a stand-in sampler that the test server runs for real, and is saved.
 */
function tintedPhoto(): Record<string, unknown> {
  return {
    _meta: { name: WORKFLOW, description: 'Your photo, tinted', category: 'Photos' },
    '1': { class_type: 'LoadImage', inputs: { image: 'photo.png' }, _meta: { title: 'Photo' } },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps: 3, step_ms: 20, preview: false },
      _meta: { title: 'Tint' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'tinted' }, _meta: { title: 'Save' } },
  };
}

test.use({
  comfyServer: {},
  seedFiles: { 'workflows/tinted.json': JSON.stringify(tintedPhoto()) },
});

test('a photo chosen for a run is uploaded as a file (never inside a message) and the run uses it', async ({
  page,
  served,
  comfy,
}) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  // Every WebSocket message the page sends, by size: a file must never travel as one.
  const sentFrames: number[] = [];
  page.on('websocket', (socket) => socket.on('framesent', (frame) => sentFrames.push(frame.payload.length)));
  const uploads: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/upload') uploads.push(request.method());
  });

  await test.step('the card shows the name, description and category from _meta', async () => {
    await app.open(served.url);
    const card = page.getByRole('region', { name: 'Workflows' }).getByRole('listitem', { name: WORKFLOW, exact: true });
    await expect(card).toContainText('Your photo, tinted');
    await expect(card).not.toContainText('Cannot read');
  });

  await test.step('choose the workflow and a photo from disk: it is staged and ready', async () => {
    await generate.choose(WORKFLOW);
    await generate.panel
      .getByLabel('Photo file')
      .setInputFiles({ name: 'my photo.png', mimeType: 'image/png', buffer: PNG });
    await expect(generate.panel.getByRole('group', { name: 'Photo' })).toContainText('ready');
    expect(uploads).toEqual(['POST']);
  });

  await test.step('Generate: the run uploads the photo to ComfyUI and finishes', async () => {
    await expect(generate.generateButton).toBeEnabled();
    await generate.generateButton.click();
    await expect(generate.result(WORKFLOW)).toBeVisible({ timeout: 20_000 });
    const inputs = readdirSync(join(comfy!.dataDir, 'input'));
    expect(inputs).toContain('my photo.png');
    expect(readFileSync(join(comfy!.dataDir, 'input', 'my photo.png')).equals(PNG)).toBe(true);
  });

  expect(Math.max(0, ...sentFrames)).toBeLessThan(16 * 1024);
});
