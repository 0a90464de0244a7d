import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startRunPodStandIn, type RunPodStandIn } from '../support/runpod-stand-in';
import { expect, test as base } from './fixtures';
import { AppPage } from './pages/app-page';
import { ConnectionsPage } from './pages/connections-page';

const KEY = 'rpa_E2ETEST';

/** A stand-in RunPod account with one pod whose HTTPS proxy address leads to the test's ComfyUI. */
const test = base.extend<{ pod: { standIn: RunPodStandIn; comfy: ComfyTestServer } }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern; this one has none
  pod: async ({}, use) => {
    const comfy = await startComfyServer();
    const standIn = await startRunPodStandIn({
      apiKey: KEY,
      pods: [
        {
          id: 'e2epod4090',
          name: 'comfy-4090',
          desiredStatus: 'RUNNING',
          costPerHr: 0.79,
          gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, displayName: 'RTX 4090' },
          publicIp: '203.0.113.40',
          portMappings: {},
          ports: ['8188/http'],
          image: 'runpod/comfyui:latest',
        },
      ],
      onStopped: () => comfy.crash(),
      onStarted: () => comfy.start(),
    });
    await use({ standIn, comfy });
    await standIn.stop();
    await comfy.stop();
  },
  serveEnv: async ({ pod }, use) => {
    await use({ RUNPOD_API_URL: pod.standIn.url, COMFYDESK_RUNPOD_PROXY_URL: pod.comfy.url });
  },
});

test('a user adds a RunPod pod from the account, sees its status and price, stops it and starts it again', async ({
  page,
  served,
  pod,
}) => {
  // Any page error, console error or failed request fails the test.
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  const app = new AppPage(page);
  const connections = new ConnectionsPage(page);
  const name = 'RunPod RTX 4090';

  await test.step('add a RunPod connection: the API key lists the pods, picking one fills it in', async () => {
    // Straight to Settings: the Generate page raises an effect_update_depth_exceeded page error on
    // open in this build (not RunPod's doing, reported to the lead), which would fail this check.
    await app.open(`${served.url}#/settings`);
    await connections.startAdding();
    await connections.dialog.getByRole('radio', { name: 'RunPod pod' }).check();
    await connections.dialog.getByLabel('RunPod API key').fill(KEY);
    await connections.dialog.getByRole('button', { name: 'Find my pods' }).click();
    const choices = connections.dialog.getByRole('group', { name: 'Pick a pod' });
    await expect(choices).toContainText('Running · RTX 4090 · $0.79/h');
    await choices.getByRole('radio', { name: /comfy-4090/ }).check();
    await expect(connections.dialog.getByRole('textbox', { name: 'Pod id' })).toHaveValue('e2epod4090');
    await expect(connections.dialog).toContainText('cannot forward ports');
    await page.screenshot({ path: 'test-results/screenshots/runpod-connection-form.png' });
    await connections.dialog.getByRole('button', { name: 'Save' }).click();
    await expect(connections.dialog).toBeHidden();
  });

  await test.step('make it the default: it connects through the pod’s HTTPS proxy and shows the pod', async () => {
    await connections.section.getByRole('button', { name: `Make ${name} the default` }).click();
    await expect(connections.status(name)).toContainText('Online', { timeout: 20_000 });
    const panel = connections.section.getByRole('group', { name: `Pod of ${name}` });
    await expect(panel).toContainText('Pod running');
    await expect(panel).toContainText('RTX 4090 · $0.79/h');
    await expect(panel).toContainText(`via ${pod.comfy.url} (HTTPS proxy)`);
    await expect(app.navigation.getByText(`${name}: online`)).toBeVisible();
    await expect(app.navigation.getByText('Pod running · RTX 4090 · $0.79/h')).toBeVisible();
    await page.screenshot({ path: 'test-results/screenshots/runpod-connection.png', fullPage: true });
  });

  await test.step('stop the pod: RunPod stops it and the connection says the pod is stopped', async () => {
    await connections.section.getByRole('button', { name: `Stop the pod of ${name}` }).click();
    const panel = connections.section.getByRole('group', { name: `Pod of ${name}` });
    await expect(panel).toContainText('Pod stopped', { timeout: 20_000 });
    await expect(connections.connection(name)).toContainText('The pod comfy-4090 is stopped.', { timeout: 30_000 });
    expect(pod.standIn.pod('e2epod4090').desiredStatus).toBe('EXITED');
  });

  await test.step('start it again from the app: it runs and ComfyUI answers', async () => {
    await connections.section.getByRole('button', { name: `Start the pod of ${name}` }).click();
    await expect(connections.status(name)).toContainText('Online', { timeout: 40_000 });
    await expect(connections.section.getByRole('group', { name: `Pod of ${name}` })).toContainText('Pod running', {
      timeout: 20_000,
    });
  });

  expect(problems).toEqual([]);
});
