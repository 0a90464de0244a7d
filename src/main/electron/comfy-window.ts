import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions } from 'electron';

/**
 * "Open ComfyUI" in the desktop app: ComfyUI's own page in a window of its own, with no preload
 * (it cannot reach ComfyDesk's bridge) and the same sandboxing as the app's window. Loading it
 * from its own origin keeps ComfyUI's Origin check satisfied.
 */
export function createComfyWindowOpener(deps: {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindowType;
}): (url: string) => Promise<void> {
  return async (url) => {
    const window = new deps.BrowserWindow({
      width: 1400,
      height: 900,
      title: 'ComfyUI',
      autoHideMenuBar: true,
      backgroundColor: '#14161b',
      webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false },
    });
    await window.loadURL(url);
  };
}
