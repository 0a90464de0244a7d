import { describe, expect, test, vi } from 'vitest';
import { MemorySecretStore } from '../../../../src/main/core/connections/secret-store';
import { silentLogger } from '../../../../src/main/core/lib/logger';

const standIn = await vi.hoisted(async () => (await import('../../../support/electron-stand-in')).createElectronStandIn());
vi.mock('electron', () => standIn.module);

const { createDesktopSecretStore } = await import('../../../../src/main/electron/safe-storage-secrets');
const { createComfyWindowOpener } = await import('../../../../src/main/electron/comfy-window');

function memoryFile(initial: Record<string, string> = {}) {
  const file = { values: initial, read: () => file.values, write: (values: Record<string, string>) => (file.values = values) };
  return file;
}

describe('desktop secrets', () => {
  test('secrets are stored encrypted, never as plain text, and read back after a restart', async () => {
    const file = memoryFile();
    const store = await createDesktopSecretStore({ safeStorage: standIn.module.safeStorage, file, platform: 'linux', log: silentLogger });
    expect(store.kind).toBe('os-keychain');
    store.set('connection:pod:passphrase', 'correct horse');
    await (store as unknown as { flushed(): Promise<void> }).flushed();
    expect(JSON.stringify(file.values)).not.toContain('correct horse');
    const reopened = await createDesktopSecretStore({ safeStorage: standIn.module.safeStorage, file, platform: 'linux', log: silentLogger });
    expect(reopened.get('connection:pod:passphrase')).toBe('correct horse');
    reopened.delete('connection:pod:passphrase');
    await (reopened as unknown as { flushed(): Promise<void> }).flushed();
    expect(file.values).toEqual({});
  });

  test('a value that no longer decrypts is dropped, the rest still load', async () => {
    const good = (await standIn.module.safeStorage.encryptStringAsync('token')).toString('base64');
    const file = memoryFile({ 'connection:a:headerValue': good, 'connection:b:headerValue': Buffer.from('garbage').toString('base64') });
    const store = await createDesktopSecretStore({ safeStorage: standIn.module.safeStorage, file, platform: 'darwin', log: silentLogger });
    expect(store.get('connection:a:headerValue')).toBe('token');
    expect(store.get('connection:b:headerValue')).toBeUndefined();
  });

  test('without a real keychain (no encryption, or Linux basic_text) secrets stay in memory for the session', async () => {
    standIn.recorded.encryption.backend = 'basic_text';
    expect((await createDesktopSecretStore({ safeStorage: standIn.module.safeStorage, file: memoryFile(), platform: 'linux', log: silentLogger })).kind).toBe('session-memory');
    standIn.recorded.encryption.backend = 'gnome_libsecret';
    standIn.recorded.encryption.available = false;
    const store = await createDesktopSecretStore({ safeStorage: standIn.module.safeStorage, file: memoryFile(), platform: 'win32', log: silentLogger });
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
    expect(window.options).toMatchObject({ title: 'ComfyUI', webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false } });
    expect((window.options.webPreferences as Record<string, unknown>).preload).toBeUndefined();
  });
});
