import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const { sealSettings } = await import('../../../support/sealed');
const { ApiClient } = await import('../../../../src/renderer/src/api/client');
const { createIpcTransport } = await import('../../../../src/renderer/src/api/ipc-transport');
const { pathStager } = await import('../../../../src/renderer/src/api/stage-file');

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
    settingsStore: new MemorySettingsStore(sealSettings({})),
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
  test('the preload exposes one frozen object with invoke, subscribe and pathForFile, and nothing else', async () => {
    const { bridge } = await setup();
    expect(Object.keys(standIn.recorded.exposed)).toEqual(['comfydesk']);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'pathForFile', 'subscribe']);
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  test('a dropped file is staged by its path through the preload; its bytes never travel in a message', async () => {
    const { bridge, core } = await setup();
    const sent: unknown[] = [];
    const recordingBridge: ComfydeskBridge = {
      ...bridge,
      invoke: (envelope) => (sent.push(envelope), bridge.invoke(envelope)),
    };
    const api = new ApiClient(createIpcTransport(recordingBridge), {
      timeoutMs: 2000,
      stageFile: pathStager(recordingBridge),
    });
    cleanups.push(() => api.close());
    const folder = tempDir();
    cleanups.push(() => folder.remove());
    const path = join(folder.path, 'fox.png');
    writeFileSync(path, 'PNGDATA');
    const file = new File(['PNGDATA'], 'fox.png', { type: 'image/png' });
    standIn.recorded.dropFromDisk(file, path);

    const staged = await api.stageFile(file);
    expect(staged).toMatchObject({ name: 'fox.png', mime: 'image/png', sizeBytes: 7 });
    expect(readFileSync(core.staged.get(staged.id)!.file, 'utf8')).toBe('PNGDATA');
    expect(sent).toEqual([expect.objectContaining({ command: 'generation.stageFile', input: { path } })]);

    const pasted = new File(['PNGDATA'], 'pasted.png', { type: 'image/png' });
    await expect(api.stageFile(pasted)).rejects.toMatchObject({ code: 'invalid_input' });
    expect(sent).toHaveLength(1);
  });

  test('staging by path takes only media files of a size it accepts', async () => {
    const { api, core } = await setup();
    const folder = tempDir();
    cleanups.push(() => folder.remove());
    writeFileSync(join(folder.path, 'id_ed25519'), 'PRIVATE KEY');
    await expect(api.call('generation.stageFile', { path: join(folder.path, 'id_ed25519') })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(api.call('generation.stageFile', { path: 'relative/fox.png' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(api.call('generation.stageFile', { path: join(folder.path, 'missing.png') })).rejects.toMatchObject({
      code: 'not_found',
    });
    const big = join(folder.path, 'big.png');
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024 + 1);
    await expect(api.call('generation.stageFile', { path: big })).rejects.toMatchObject({ code: 'input_too_large' });
    expect(existsSync(core.staged.dir) ? readdirSync(core.staged.dir) : []).toEqual([]);
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

  test('a burst of events reaches the window whole and in order, before an answer sent after it', async () => {
    const { core, api } = await setup();
    const seen: number[] = [];
    api.on('jobs.queue', ({ pending }) => seen.push(pending));
    const burst = Array.from({ length: 300 }, (_, index) => index);
    for (const pending of burst) core.events.emit('jobs.queue', { running: 0, pending, paused: false });
    await api.call('app.info', {});
    expect(seen).toEqual(burst);
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
