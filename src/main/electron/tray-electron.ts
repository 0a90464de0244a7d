import { Menu, Notification, Tray, app, nativeImage } from 'electron';
import type { TrayElectron } from './tray-controller';

// Keep a reference to shown notifications: Electron drops click handlers of collected ones.
const shown = new Set<Notification>();

/** The real Electron behind the tray controller. */
export const trayElectron: TrayElectron = {
  createTray: (icon) => new Tray(icon),
  buildMenu: (template) => Menu.buildFromTemplate(template),
  image: (path) => nativeImage.createFromPath(path),
  notificationsSupported: () => Notification.isSupported(),
  notify: ({ title, body, icon, onClick }) => {
    const notification = new Notification({ title, body, ...(icon ? { icon } : {}) });
    shown.add(notification);
    notification.on('click', () => {
      shown.delete(notification);
      onClick();
    });
    notification.on('close', () => shown.delete(notification));
    notification.show();
  },
  ...(process.platform === 'darwin' ? { setDockBadge: (text: string) => app.dock?.setBadge(text) } : {}),
};
