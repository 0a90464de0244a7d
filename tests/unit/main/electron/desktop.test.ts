import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { IPC_COMMAND_CHANNEL } from '@shared/bridge';
import { sealDataDir } from '../../../support/sealed';

const userData = mkdtempSync(join(tmpdir(), 'comfydesk-desktop-'));
process.env.STAND_IN_USER_DATA = userData;
sealDataDir(userData);

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { startDesktop } = await import('../../../../src/main/electron/desktop');

afterAll(async () => {
  // Quitting stops the core the shell started.
  standIn.module.app.emit('will-quit', { preventDefault: () => undefined });
  await new Promise((resolve) => setTimeout(resolve, 50));
  rmSync(userData, { recursive: true, force: true });
});

describe('the desktop shell', () => {
  test('a second instance quits at once and opens no window', async () => {
    standIn.recorded.setSingleInstanceLock(false);
    await startDesktop({ outDir: '/app/out' });
    expect(standIn.recorded.calls.quit).toBe(1);
    expect(standIn.recorded.windows).toHaveLength(0);
    standIn.recorded.setSingleInstanceLock(true);
  });

  test('the first instance opens one secured window on the built renderer and binds IPC', async () => {
    await startDesktop({ outDir: '/app/out' });
    expect(standIn.module.app.name).toBe('ComfyDesk');
    expect(standIn.recorded.windows).toHaveLength(1);
    const window = standIn.recorded.windows[0]!;
    expect(window.loaded.file).toBe('/app/out/renderer/index.html');
    expect(window.options).toMatchObject({
      webPreferences: {
        sandbox: true,
        contextIsolation: true,
        nodeIntegration: false,
        preload: '/app/out/preload/index.cjs',
      },
    });
    expect(standIn.recorded.ipcHandlers.has(IPC_COMMAND_CHANNEL)).toBe(true);

    standIn.recorded.speakAs(window.webContents);
    const response = await standIn.module.ipcRenderer.invoke(IPC_COMMAND_CHANNEL, {
      kind: 'request',
      id: '1',
      command: 'app.info',
      input: {},
    });
    expect(response).toMatchObject({ ok: true, output: { mode: 'desktop', name: 'ComfyDesk' } });
  });

  test('starting a second copy brings the existing window forward instead', () => {
    const before = standIn.recorded.calls.focus;
    standIn.module.app.emit('second-instance');
    expect(standIn.recorded.calls.focus).toBe(before + 1);
    expect(standIn.recorded.windows).toHaveLength(1);
  });
});

describe('tray and window behaviour', () => {
  test('a tray icon is shown; closing the window keeps ComfyDesk in the tray, and a second start shows it again', async () => {
    const { StandInTray } = await import('../../../support/electron-stand-in');
    const tray = StandInTray.created.at(-1)!;
    expect(tray.tooltip).toBe('ComfyDesk — idle');
    const window = standIn.recorded.windows[0]!;
    window.close();
    expect(window.isDestroyed()).toBe(false);
    expect(window.isVisible()).toBe(false);
    standIn.module.app.emit('second-instance');
    expect(window.isVisible()).toBe(true);
  });

  test("pausing from the tray pauses the core's queue; the paused state reaches the tray menu", async () => {
    const { StandInTray } = await import('../../../support/electron-stand-in');
    const tray = StandInTray.created.at(-1)!;
    tray.clickMenuItem('Pause queue');
    await vi.waitFor(() => expect(tray.menu!.items.some((item) => item.label === 'Resume queue')).toBe(true));
    standIn.recorded.speakAs(standIn.recorded.windows[0]!.webContents);
    const list = (await standIn.module.ipcRenderer.invoke(IPC_COMMAND_CHANNEL, {
      kind: 'request',
      id: '2',
      command: 'jobs.list',
      input: {},
    })) as { output: { paused: boolean } };
    expect(list.output.paused).toBe(true);
    tray.clickMenuItem('Resume queue');
  });
});

describe('outputs in the desktop window', () => {
  test('the media scheme is privileged before ready and serves only files inside the outputs folder', async () => {
    const protocol = standIn.module.protocol;
    expect(protocol.registered).toEqual([expect.objectContaining({ scheme: 'comfydesk-media' })]);
    mkdirSync(join(userData, 'outputs', 'day'), { recursive: true });
    writeFileSync(join(userData, 'outputs', 'day', 'a.png'), 'png');
    writeFileSync(join(userData, 'secret.txt'), 'not an output');
    symlinkSync(join(userData, 'secret.txt'), join(userData, 'outputs', 'day', 'settings.png'));
    const handler = protocol.handlers.get('comfydesk-media')!;
    const ok = (await handler({ url: 'comfydesk-media://outputs/day/a.png' })) as Response;
    expect(await ok.text()).toBe(`fetched file://${userData}/outputs/day/a.png`);
    const outside = (await handler({ url: 'comfydesk-media://outputs/..%2F..%2Fsettings.json' })) as Response;
    expect(outside.status).toBe(404);
    const linked = (await handler({ url: 'comfydesk-media://outputs/day/settings.png' })) as Response;
    expect(linked.status).toBe(404);
  });
});
