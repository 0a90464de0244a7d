import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { SSHD_PATH, startSshd } from '../support/sshd';
import { expect, test } from './fixtures';
import { AppPage } from './pages/app-page';
import { ConnectionsPage } from './pages/connections-page';

let comfy: ComfyTestServer;

test.beforeAll(async () => {
  comfy = await startComfyServer({
    models: { checkpoints: ['sd15.safetensors', 'sdxl/base_1.0.safetensors'], loras: ['film-grain.safetensors'] },
  });
});

test.afterAll(async () => {
  await comfy.stop();
});

test('a user adds a ComfyUI server, tests it, makes it the default and sees its models', async ({ page, served }) => {
  const app = new AppPage(page);
  const connections = new ConnectionsPage(page);

  await test.step('the sidebar says the default (local) server is not reachable', async () => {
    await app.open(served.url);
    await expect(app.navigation.getByText('This computer: offline')).toBeVisible();
  });

  await test.step('a malformed address is explained beside the field', async () => {
    await app.goTo('Settings');
    await connections.startAdding();
    await connections.fillWebAddress('Broken', 'ftp://nowhere');
    await connections.dialog.getByRole('button', { name: 'Save' }).click();
    await expect(connections.dialog.getByText('Enter an address that starts with http:// or https://')).toBeVisible();
    await expect(connections.dialog.getByRole('textbox', { name: 'Address', exact: true })).toHaveAttribute(
      'aria-invalid',
      'true',
    );
  });

  await test.step('test the real address: online, with the ComfyUI version', async () => {
    await connections.fillWebAddress('Test server', comfy.url);
    await connections.dialog.getByRole('button', { name: 'Test connection' }).click();
    await expect(connections.dialog.getByRole('status')).toContainText('Online');
    await expect(connections.dialog.getByRole('status')).toContainText('ComfyUI 0.3.64');
    await page.screenshot({ path: 'test-results/screenshots/connection-dialog-tested.png' });
    await connections.dialog.getByRole('button', { name: 'Save' }).click();
    await expect(connections.dialog).toBeHidden();
    await expect(connections.connection('Test server')).toBeVisible();
  });

  await test.step('make it the default: it comes online and the sidebar shows it', async () => {
    await connections.section.getByRole('button', { name: 'Make Test server the default' }).click();
    await expect(connections.status('Test server')).toContainText('Online');
    await expect(connections.connection('Test server')).toContainText('ComfyUI 0.3.64');
    await expect(app.navigation.getByText('Test server: online')).toBeVisible();
    await page.screenshot({ path: 'test-results/screenshots/settings-connections.png', fullPage: true });
  });

  await test.step('Open ComfyUI opens the server in a new tab', async () => {
    const popup = page.waitForEvent('popup');
    await connections.section.getByRole('button', { name: 'Open ComfyUI of Test server' }).click();
    const tab = await popup;
    await expect.poll(() => tab.url()).toContain(`127.0.0.1:${comfy.port}`);
    await tab.close();
  });

  await test.step('the Models page lists the installed models by folder', async () => {
    await app.goTo('Models');
    const models = page.getByRole('region', { name: 'Installed models' });
    await expect(models.getByRole('status').filter({ hasText: 'model files' })).toHaveText(
      '3 model files in 2 folders',
    );
    await expect(models.getByRole('button', { name: /checkpoints/ })).toHaveAttribute('aria-expanded', 'true');
    await expect(models.getByText('sdxl/base_1.0.safetensors')).toBeVisible();
    await models.getByLabel('Filter models').fill('grain');
    await expect(models.getByText('film-grain.safetensors')).toBeVisible();
    await expect(models.getByText('sd15.safetensors')).toBeHidden();
    await page.screenshot({ path: 'test-results/screenshots/models-page.png', fullPage: true });
  });

  await test.step('deleting asks once more, then the connection is gone', async () => {
    await app.goTo('Settings');
    await connections.section.getByRole('button', { name: 'Delete This computer' }).click();
    await connections.section.getByRole('button', { name: 'Confirm deleting This computer' }).click();
    await expect(connections.connection('This computer')).toBeHidden();
  });
});

test('an SSH tunnel: the unknown host key is reviewed and trusted, then the pod is online', async ({
  page,
  served,
}) => {
  test.skip(!SSHD_PATH, 'needs openssh-server');
  const sshd = await startSshd();
  try {
    const app = new AppPage(page);
    const connections = new ConnectionsPage(page);
    await app.open(served.url);
    await app.goTo('Settings');

    await test.step('add the SSH connection with its key file', async () => {
      await connections.startAdding();
      await connections.dialog.getByRole('radio', { name: 'SSH tunnel' }).check();
      await connections.dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('Pod');
      await connections.dialog.getByRole('textbox', { name: 'SSH host' }).fill('127.0.0.1');
      await connections.dialog.getByRole('textbox', { name: 'Port', exact: true }).fill(String(sshd.port));
      await connections.dialog.getByRole('textbox', { name: 'User', exact: true }).fill(sshd.user);
      await connections.dialog.getByRole('textbox', { name: 'Private key file' }).fill(sshd.clientKeyPath);
      await connections.dialog
        .getByRole('textbox', { name: 'ComfyUI on the server (host:port)' })
        .fill(`127.0.0.1:${comfy.port}`);
      await expect(connections.dialog.getByRole('button', { name: 'Browse…' })).toHaveCount(0); // a browser cannot pick a file on the server
      await page.screenshot({ path: 'test-results/screenshots/connection-dialog-ssh.png' });
      await connections.dialog.getByRole('button', { name: 'Save' }).click();
      await connections.section.getByRole('button', { name: 'Make Pod the default' }).click();
    });

    await test.step('the unknown host key stops it; the review shows the fingerprint', async () => {
      await expect(connections.status('Pod')).toContainText('Needs attention');
      await connections.connection('Pod').getByRole('button', { name: 'Review host key…' }).click();
      const dialog = page.getByRole('alertdialog', { name: 'Trust 127.0.0.1:' + sshd.port + '?' });
      await expect(dialog.getByLabel('Fingerprint')).toHaveText(sshd.hostKeyFingerprint());
      await page.screenshot({ path: 'test-results/screenshots/host-key-review.png' });
      await dialog.getByRole('button', { name: 'Trust and connect' }).click();
    });

    await test.step('trusted: the tunnel opens and the pod is online', async () => {
      await expect(connections.status('Pod')).toContainText('Online');
      await expect(app.navigation.getByText('Pod: online')).toBeVisible();
      await page.screenshot({ path: 'test-results/screenshots/settings-ssh-online.png', fullPage: true });
    });
  } finally {
    await sshd.stop();
  }
});
