import { describe, expect, test, vi } from 'vitest';

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { applySecurityPolicy, isExternalWebUrl } = await import('../../../../src/main/electron/security');
const { createMainWindow, isAppUrl, mainWindowOptions } = await import('../../../../src/main/electron/window');
const { restoreBounds, DEFAULT_WINDOW_SIZE } = await import('../../../../src/main/electron/window-state');
const { silentLogger } = await import('../../../../src/main/core/lib/logger');

const renderer = { file: '/app/out/renderer/index.html' };

describe('window security defaults', () => {
  test('every window is isolated, sandboxed and without Node', () => {
    const { webPreferences } = mainWindowOptions('/app/out/preload/index.cjs', {});
    expect(webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webviewTag: false,
      preload: '/app/out/preload/index.cjs',
    });
  });

  test('only our own file counts as the app', () => {
    expect(isAppUrl('file:///app/out/renderer/index.html', renderer)).toBe(true);
    expect(isAppUrl('file:///app/out/renderer/index.html#/settings', renderer)).toBe(true);
    expect(isAppUrl('file:///etc/passwd', renderer)).toBe(false);
    expect(isAppUrl('https://example.com', renderer)).toBe(false);
    expect(isAppUrl('http://localhost:5173/x', { ...renderer, devUrl: 'http://localhost:5173' })).toBe(true);
  });

  test('new windows are denied; web links open in the browser, other schemes nowhere', async () => {
    applySecurityPolicy({
      app: standIn.module.app as never,
      defaultSession: standIn.module.session.defaultSession as never,
      shell: standIn.module.shell,
      isAppUrl: (url) => isAppUrl(url, renderer),
      log: silentLogger,
    });
    const window = new standIn.module.BrowserWindow({});
    const handler = window.webContents.windowOpenHandler!;
    expect(handler({ url: 'https://comfy.org/' })).toEqual({ action: 'deny' });
    expect(handler({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    await Promise.resolve();
    expect(standIn.recorded.openedExternal).toEqual(['https://comfy.org/']);
    expect(isExternalWebUrl('javascript:alert(1)')).toBe(false);
  });

  test('navigation away from our page is prevented; our own page may reload', () => {
    const window = new standIn.module.BrowserWindow({});
    expect(window.webContents.tryNavigate('https://evil.example/')).toBe(true);
    expect(window.webContents.tryNavigate('file:///app/out/renderer/index.html')).toBe(false);
  });

  test('every permission request is denied', () => {
    let granted: boolean | undefined;
    standIn.recorded.permission.request?.({}, 'media', (value: boolean) => (granted = value));
    expect(granted).toBe(false);
    expect(standIn.recorded.permission.check?.({}, 'notifications')).toBe(false);
  });
});

describe('window state', () => {
  test('remembered bounds come back when they are on a connected display', () => {
    const displays = [{ x: 0, y: 0, width: 1920, height: 1080 }];
    expect(restoreBounds({ bounds: { x: 100, y: 80, width: 1000, height: 700 } }, displays)).toEqual({
      x: 100,
      y: 80,
      width: 1000,
      height: 700,
    });
    expect(restoreBounds({ bounds: { x: 4000, y: 80, width: 1000, height: 700 } }, displays)).toEqual({
      width: 1000,
      height: 700,
    });
    expect(restoreBounds({}, displays)).toEqual({ ...DEFAULT_WINDOW_SIZE });
  });

  test('the main window saves its size and position when closed and restores maximised state', async () => {
    let saved: unknown = { bounds: { x: 10, y: 20, width: 1100, height: 750 }, isMaximized: true };
    const store = { get: () => saved as never, set: (state: unknown) => (saved = state) };
    const window = createMainWindow({
      BrowserWindow: standIn.module.BrowserWindow as never,
      preloadPath: '/p.cjs',
      renderer,
      stateStore: store,
      displays: [{ x: 0, y: 0, width: 1920, height: 1080 }],
    }) as unknown as InstanceType<typeof standIn.module.BrowserWindow>;
    expect(window.options).toMatchObject({ x: 10, y: 20, width: 1100, height: 750 });
    expect(window.isMaximized()).toBe(true);
    expect(window.loaded.file).toBe(renderer.file);
    expect(window.isVisible()).toBe(true);
    window.close();
    expect(saved).toMatchObject({ isMaximized: true, bounds: { width: 1100, height: 750 } });
  });
});
