import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { IPC_COMMAND_CHANNEL } from '@shared/bridge';
import { MemorySecretStore } from '../../../../src/main/core/connections/secret-store';
import { silentLogger } from '../../../../src/main/core/lib/logger';
import { SEALED_LOCAL_URL, sealDataDir } from '../../../support/sealed';

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { createDesktopSecretStore } = await import('../../../../src/main/electron/safe-storage-secrets');
const { createComfyWindowOpener } = await import('../../../../src/main/electron/comfy-window');
const { startDesktop } = await import('../../../../src/main/electron/desktop');

const userData = mkdtempSync(join(tmpdir(), 'comfydesk-desktop-connections-'));
afterAll(async () => {
  standIn.module.app.emit('will-quit', { preventDefault: () => undefined });
  await vi.waitFor(() => expect(standIn.recorded.calls.quit).toBeGreaterThan(0));
  rmSync(userData, { recursive: true, force: true });
});

function memoryFile(initial: Record<string, string> = {}) {
  const file = {
    values: initial,
    read: () => file.values,
    write: (values: Record<string, string>) => (file.values = values),
  };
  return file;
}

describe('desktop secrets', () => {
  test('secrets are stored encrypted, never as plain text, and read back after a restart', async () => {
    const file = memoryFile();
    const store = await createDesktopSecretStore({
      safeStorage: standIn.module.safeStorage,
      file,
      platform: 'linux',
      log: silentLogger,
    });
    expect(store.kind).toBe('os-keychain');
    store.set('connection:pod:passphrase', 'correct horse');
    await (store as unknown as { flushed(): Promise<void> }).flushed();
    expect(JSON.stringify(file.values)).not.toContain('correct horse');
    const reopened = await createDesktopSecretStore({
      safeStorage: standIn.module.safeStorage,
      file,
      platform: 'linux',
      log: silentLogger,
    });
    expect(reopened.get('connection:pod:passphrase')).toBe('correct horse');
    reopened.delete('connection:pod:passphrase');
    await (reopened as unknown as { flushed(): Promise<void> }).flushed();
    expect(file.values).toEqual({});
  });

  test('a value that no longer decrypts is dropped, the rest still load', async () => {
    const good = (await standIn.module.safeStorage.encryptStringAsync('token')).toString('base64');
    const file = memoryFile({
      'connection:a:headerValue': good,
      'connection:b:headerValue': Buffer.from('garbage').toString('base64'),
    });
    const store = await createDesktopSecretStore({
      safeStorage: standIn.module.safeStorage,
      file,
      platform: 'darwin',
      log: silentLogger,
    });
    expect(store.get('connection:a:headerValue')).toBe('token');
    expect(store.get('connection:b:headerValue')).toBeUndefined();
  });

  test('without a real keychain (no encryption, or Linux basic_text) secrets stay in memory for the session', async () => {
    standIn.recorded.encryption.backend = 'basic_text';
    expect(
      (
        await createDesktopSecretStore({
          safeStorage: standIn.module.safeStorage,
          file: memoryFile(),
          platform: 'linux',
          log: silentLogger,
        })
      ).kind,
    ).toBe('session-memory');
    standIn.recorded.encryption.backend = 'gnome_libsecret';
    standIn.recorded.encryption.available = false;
    const store = await createDesktopSecretStore({
      safeStorage: standIn.module.safeStorage,
      file: memoryFile(),
      platform: 'win32',
      log: silentLogger,
    });
    expect(store).toBeInstanceOf(MemorySecretStore);
    standIn.recorded.encryption.available = true;
  });
});

describe('Open ComfyUI in the desktop app', () => {
  test('opens ComfyUI in its own sandboxed window without the app preload', async () => {
    const open = createComfyWindowOpener({ BrowserWindow: standIn.module.BrowserWindow as never });
    await open('http://127.0.0.1:8188');
    const window = standIn.recorded.windows.at(-1)!;
    expect(window.loaded.url).toBe('http://127.0.0.1:8188');
    expect(window.options).toMatchObject({
      title: 'ComfyUI',
      webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false },
    });
    expect((window.options.webPreferences as Record<string, unknown>).preload).toBeUndefined();
  });
});

describe('connections in the desktop shell', () => {
  test('over IPC, the key file picker is the system dialog and Open ComfyUI opens a window', async () => {
    process.env.STAND_IN_USER_DATA = userData;
    sealDataDir(userData);
    await startDesktop({ outDir: '/app/out' });
    const appWindow = standIn.recorded.windows.find((window) => window.loaded.file === '/app/out/renderer/index.html')!;
    standIn.recorded.speakAs(appWindow.webContents);
    const invoke = (command: string, input: unknown) =>
      standIn.module.ipcRenderer.invoke(IPC_COMMAND_CHANNEL, { kind: 'request', id: command, command, input });

    standIn.recorded.nextOpenDialog.push('/home/me/.ssh/id_ed25519');
    expect(await invoke('connections.pickKeyFile', {})).toMatchObject({
      ok: true,
      output: { path: '/home/me/.ssh/id_ed25519' },
    });
    expect(standIn.recorded.openDialogs.at(-1)).toMatchObject({
      title: 'Choose your SSH private key',
      properties: ['openFile', 'showHiddenFiles'],
    });
    expect(await invoke('connections.pickKeyFile', {})).toMatchObject({ ok: true, output: { path: null } });

    const windows = standIn.recorded.windows.length;
    expect(await invoke('connections.open', { id: 'local' })).toMatchObject({
      ok: true,
      output: { url: SEALED_LOCAL_URL, openedBy: 'window' },
    });
    expect(standIn.recorded.windows).toHaveLength(windows + 1);
    expect(standIn.recorded.windows.at(-1)!.loaded.url).toBe(SEALED_LOCAL_URL);
    expect(await invoke('connections.list', {})).toMatchObject({ ok: true, output: { secretStorage: 'os-keychain' } });
  });
});
