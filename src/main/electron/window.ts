import { pathToFileURL } from 'node:url';
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions, Rectangle } from 'electron';
import { MIN_WINDOW_SIZE, restoreBounds, trackWindowState, type WindowStateStore } from './window-state';

/** The renderer's address: the built file, or electron-vite's dev server while developing. */
export interface RendererLocation {
  file: string;
  devUrl?: string;
}

/** True for our own page only (same file, or the dev server's origin). */
export function isAppUrl(url: string, location: RendererLocation): boolean {
  try {
    const parsed = new URL(url);
    if (location.devUrl) return parsed.origin === new URL(location.devUrl).origin;
    return (
      parsed.protocol === 'file:' &&
      decodeURIComponent(parsed.pathname) === decodeURIComponent(pathToFileURL(location.file).pathname)
    );
  } catch {
    return false;
  }
}

/** The secure defaults every ComfyDesk window uses. */
export function mainWindowOptions(preloadPath: string, bounds: Partial<Rectangle>): BrowserWindowConstructorOptions {
  return {
    ...bounds,
    minWidth: MIN_WINDOW_SIZE.width,
    minHeight: MIN_WINDOW_SIZE.height,
    show: false,
    title: 'ComfyDesk',
    backgroundColor: '#14161b',
    autoHideMenuBar: true,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: true,
    },
  };
}

export function createMainWindow(deps: {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindowType;
  preloadPath: string;
  renderer: RendererLocation;
  stateStore: WindowStateStore;
  displays: Rectangle[];
  /** Show the window once it has rendered (false: start in the tray). @default true */
  show?: boolean;
}): BrowserWindowType {
  const state = deps.stateStore.get();
  const window = new deps.BrowserWindow(mainWindowOptions(deps.preloadPath, restoreBounds(state, deps.displays)));
  if (state.isMaximized) window.maximize();
  trackWindowState(window, deps.stateStore);
  if (deps.show !== false) window.once('ready-to-show', () => window.show());
  if (deps.renderer.devUrl)
    void window.loadURL(deps.renderer.devUrl); // load failures surface as did-fail-load
  else void window.loadFile(deps.renderer.file); // same
  return window;
}
