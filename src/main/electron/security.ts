import type { App, Session, Shell, WebContents } from 'electron';
import type { Logger } from '../core/lib/logger';

/** Only web links leave the app, and only to the user's browser. */
export function isExternalWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Locks down every web contents the app creates: no navigation away from our page, no new
 * windows (web links open in the browser instead), no webviews, and every permission request
 * (camera, notifications, geolocation…) denied.
 */
export function applySecurityPolicy(deps: {
  app: Pick<App, 'on'>;
  defaultSession: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>;
  shell: Pick<Shell, 'openExternal'>;
  isAppUrl: (url: string) => boolean;
  log: Logger;
}): void {
  const { app, defaultSession, shell, isAppUrl, log } = deps;

  defaultSession.setPermissionRequestHandler((_contents, permission, callback) => {
    log.info('permission request denied', { permission });
    callback(false);
  });
  defaultSession.setPermissionCheckHandler(() => false);

  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.setWindowOpenHandler(({ url }) => {
      if (isExternalWebUrl(url)) {
        void shell.openExternal(url).catch((error: unknown) => log.warn('could not open link', { url, error })); // fire-and-forget: the window stays ours either way
      }
      return { action: 'deny' };
    });
    contents.on('will-navigate', (event, url) => {
      if (isAppUrl(url)) return;
      event.preventDefault();
      if (isExternalWebUrl(url)) {
        void shell.openExternal(url).catch((error: unknown) => log.warn('could not open link', { url, error })); // fire-and-forget, as above
      }
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}
