import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ComfydeskBridge } from '@shared/bridge';
import { IPC_COMMAND_CHANNEL } from '@shared/bridge';

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { bindIpcTransport } = await import('../../../../src/main/electron/ipc-transport');
const { createCore } = await import('../../../../src/main/core/create-core');
const { MemorySettingsStore } = await import('../../../../src/main/core/settings/settings-store');
const { silentLogger } = await import('../../../../src/main/core/lib/logger');
const { resolvePaths } = await import('../../../../src/main/core/paths');
const { tempDir } = await import('../../../support/core');
const { ApiClient } = await import('../../../../src/renderer/src/api/client');
const { createIpcTransport } = await import('../../../../src/renderer/src/api/ipc-transport');

const APP_FILE = '/app/out/renderer/index.html';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const dataDir = tempDir();
  const core = await createCore({
    mode: 'desktop',
    version: '9.9.9',
    paths: resolvePaths(dataDir.path),
    settingsStore: new MemorySettingsStore(),
    log: silentLogger,
  });
  const window = new standIn.module.BrowserWindow({});
  await window.loadFile(APP_FILE);
  const unbind = bindIpcTransport({
    ipcMain: standIn.module.ipcMain as never,
    router: core.router,
    events: core.events,
    targets: () => standIn.module.BrowserWindow.getAllWindows().map((w) => w.webContents) as never,
    isTrustedSender: (event) =>
      event.senderFrame?.url === `file://${APP_FILE}` && event.senderFrame === event.sender.mainFrame,
    log: silentLogger,
  });
  standIn.recorded.speakAs(window.webContents);
  // The real preload, run against the stand-in: it exposes window.comfydesk.
  await import('../../../../src/preload/index');
  const bridge = standIn.recorded.exposed.comfydesk as ComfydeskBridge;
  const api = new ApiClient(createIpcTransport(bridge), { timeoutMs: 2000 });
  cleanups.push(
    () => dataDir.remove(),
    () => core.stop(),
    unbind,
    () => api.close(),
    () => window.close(),
  );
  return { core, window, bridge, api };
}

describe('IPC transport (Electron stand-in)', () => {
  test('the preload exposes one frozen object with invoke and subscribe, and nothing else', async () => {
    const { bridge } = await setup();
    expect(Object.keys(standIn.recorded.exposed)).toEqual(['comfydesk']);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'subscribe']);
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  test('a command makes the round trip through the preload and the router', async () => {
    const { api } = await setup();
    const info = await api.call('app.info', {});
    expect(info).toMatchObject({ name: 'ComfyDesk', version: '9.9.9', mode: 'desktop' });
  });

  test('events reach the window and are validated by the client', async () => {
    const { api } = await setup();
    const received = new Promise((resolve) => api.on('settings.changed', resolve));
    await api.call('settings.update', { general: { theme: 'light' } });
    await expect(received).resolves.toMatchObject({ general: { theme: 'light' } });
  });

  test('an invalid message gets a typed error, not a crash', async () => {
    const { bridge } = await setup();
    const response = await bridge.invoke({
      kind: 'request',
      id: 'x',
      command: 'settings.update',
      input: { general: { theme: 42 } },
    });
    expect(response).toMatchObject({ kind: 'response', id: 'x', ok: false, error: { code: 'invalid_input' } });
    const garbage = await standIn.module.ipcRenderer.invoke(IPC_COMMAND_CHANNEL, 'not an envelope');
    expect(garbage).toMatchObject({ ok: false, error: { code: 'invalid_message' } });
  });

  test('a message from a frame that is not our page is refused', async () => {
    const { window } = await setup();
    standIn.recorded.speakAs(window.webContents, { url: 'https://evil.example/' });
    const response = await standIn.module.ipcRenderer.invoke(IPC_COMMAND_CHANNEL, {
      kind: 'request',
      id: '1',
      command: 'app.info',
      input: {},
    });
    expect(response).toMatchObject({ ok: false, error: { code: 'invalid_message' } });
  });

  test('unbinding removes the handler', async () => {
    const { core } = await setup();
    expect(standIn.recorded.ipcHandlers.has(IPC_COMMAND_CHANNEL)).toBe(true);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    expect(standIn.recorded.ipcHandlers.has(IPC_COMMAND_CHANNEL)).toBe(false);
    await core.stop();
  });
});
