import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { textToImageApi } from '../support/workflows';
import { expect, test as base } from './fixtures';
import { AppPage } from './pages/app-page';
import { GeneratePage } from './pages/generate-page';
import { posterWorkflow } from './support/workflows';

const POSTER = 'Lighthouse poster';
const PORTRAIT = 'Quick portrait';

/** Two servers used for generation: A has the PeerSlowSteps pack the poster needs, B does not. */
const test = base.extend<{ servers: { a: ComfyTestServer; b: ComfyTestServer } }>({
  // Playwright reads a fixture's dependencies from its first parameter: this one has none.
  // eslint-disable-next-line no-empty-pattern
  servers: async ({}, use) => {
    const models = { checkpoints: ['sd15.safetensors'] };
    const a = await startComfyServer({ models, stepMs: 250 });
    const b = await startComfyServer({ models, withoutNodes: ['PeerSlowSteps'] });
    await use({ a, b });
    await Promise.all([a.stop(), b.stop()]);
  },
  seedFiles: async ({ servers }, use) => {
    const connections = {
      profiles: [
        { id: 'a', kind: 'url', name: 'Server A', url: servers.a.url },
        { id: 'b', kind: 'url', name: 'Server B', url: servers.b.url },
      ],
      activeId: 'a',
      alsoOnline: [],
      generation: ['b'],
    };
    await use({
      'settings.json': JSON.stringify({ connections }),
      [`workflows/${POSTER}.json`]: JSON.stringify(posterWorkflow({ steps: 20, isChained: true })),
      [`workflows/${PORTRAIT}.json`]: JSON.stringify(textToImageApi()),
    });
  },
});

test.use({ viewport: { width: 1280, height: 800 } });

test('two servers as one: the sidebar lists both, cards say where they run, runs go only where they can, and a pin to the wrong server waits with the reason', async ({
  page,
  served,
  servers,
}) => {
  const app = new AppPage(page);
  const generate = new GeneratePage(page);
  const list = app.navigation.getByRole('list', { name: 'Servers' });
  const workflows = page.getByRole('region', { name: 'Workflows' });
  const rows = generate.outputs.getByRole('list', { name: 'Queued jobs' }).getByRole('listitem');

  await test.step('the sidebar lists every server with its state and load', async () => {
    await app.open(served.url);
    await expect(list.getByRole('listitem')).toHaveCount(2);
    await expect(list.getByRole('listitem').nth(0)).toContainText('Server A');
    await expect(list.getByRole('listitem').nth(0)).toContainText('idle');
    await expect(list.getByRole('listitem').nth(1)).toContainText('Server B');
    await expect(list.getByRole('listitem').nth(1)).toContainText('idle');
  });

  await test.step('cards say on how many servers each workflow runs', async () => {
    await expect(workflows.getByRole('listitem', { name: POSTER, exact: true })).toContainText(
      'runs on 1 of 2 servers',
    );
    await expect(workflows.getByRole('listitem', { name: PORTRAIT, exact: true })).toContainText(
      'runs on 2 of 2 servers',
    );
  });

  await test.step('pinned to the server without its node, the run waits and says why', async () => {
    await generate.choose(POSTER);
    // Once a workflow is chosen the browser is a list, and its rows say the same.
    await expect(workflows.getByRole('listitem', { name: POSTER, exact: true })).toContainText('1 of 2 servers');
    await expect(workflows.getByRole('listitem', { name: PORTRAIT, exact: true })).toContainText('2 of 2 servers');
    await page.getByLabel('Run on').selectOption({ label: 'Server B' });
    await generate.generateButton.click();
    await generate.tab('Queue').click();
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText('No connected server has the node type PeerSlowSteps.');
    await expect(rows.first()).toContainText('for Server B');
    await page.screenshot({ path: 'test-results/screenshots/farm-held-reason.png' });
    await rows
      .first()
      .getByRole('button', { name: /^Cancel / })
      .click();
    await expect(rows).toHaveCount(0);
  });

  await test.step('spread over any server, both runs go to the one that has the node, and the queue says so', async () => {
    await page.getByLabel('Run on').selectOption({ label: 'Any server' });
    await page.getByRole('spinbutton', { name: 'Runs' }).fill('2');
    await generate.generateButton.click();
    await expect(list.getByRole('listitem').nth(0)).toContainText('1 running');
    await generate.tab('Queue').click();
    await expect(rows.first()).toContainText('on Server A');
    await page.screenshot({ path: 'test-results/screenshots/farm-queue.png' });
    await expect(rows).toHaveCount(0, { timeout: 30_000 });
    expect(servers.b.requests.filter((request) => request.path === '/prompt')).toEqual([]);
    expect(Object.keys(servers.a.history())).toHaveLength(2);
  });

  await test.step('Settings › Connections: the default always takes jobs; B can leave the farm', async () => {
    await app.goTo('Settings');
    const useA = page.getByRole('checkbox', { name: 'Use Server A for generation' });
    const useB = page.getByRole('checkbox', { name: 'Use Server B for generation' });
    await expect(useA).toBeChecked();
    await expect(useA).toBeDisabled();
    await expect(useB).toBeChecked();
    await useB.uncheck();
    await expect(useB).not.toBeChecked();
    await expect(list).toBeHidden();
    await expect(app.navigation.getByRole('status', { name: 'Connection status' })).toContainText('Server A: online');
    await page.screenshot({ path: 'test-results/screenshots/farm-settings.png' });
  });
});
