import { join } from 'node:path';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  net,
  protocol,
  safeStorage,
  screen,
  session,
  shell,
  utilityProcess,
} from 'electron';
import ElectronStore from 'electron-store';
import { createCore, type Core } from '../core/create-core';
import type { DesktopPort } from '../core/app/desktop-port';
import { AppError, isAppError } from '../core/lib/errors';
import { RotatingFileLog, teeSinks } from '../core/lib/file-log';
import { createLogger, streamSink } from '../core/lib/logger';
import { APP_NAME, resolvePaths } from '../core/paths';
import { confSettingsStore } from '../core/settings/settings-store';
import { APP_VERSION } from '../core/version';
import { installCrashHandler } from './crash';
import { handleMediaProtocol, registerMediaScheme } from './media-protocol';
import { headSizeFetcher } from '../core/workflows/ports';
import { createComfyWindowOpener } from './comfy-window';
import { LocalEndpoint } from '../serve/local-endpoint';
import { bindIpcTransport } from './ipc-transport';
import { feedJobs } from './job-feed';
import { feedTransfers } from './transfer-feed';
import { TrayController } from './tray-controller';
import { trayElectron } from './tray-electron';
import { createDesktopSecretStore } from './safe-storage-secrets';
import { utilityEngineProcess } from './utility-engine';
import { applySecurityPolicy } from './security';
import { createMainWindow, isAppUrl, type RendererLocation } from './window';
import type { WindowState } from './window-state';

/** The system's open-file dialog, starting in ~/.ssh where keys usually are. */
async function pickFile(
  fileDialog: Pick<typeof dialog, 'showOpenDialog'>,
  options: { title: string },
): Promise<string | null> {
  const result = await fileDialog.showOpenDialog({
    title: options.title,
    defaultPath: join(app.getPath('home'), '.ssh'),
    properties: ['openFile', 'showHiddenFiles'],
  });
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

/** Exit code when the desktop app cannot start (documented in the README). */
export const STARTUP_FAILURE_EXIT_CODE = 3;
/** Exit code when another ComfyDesk process (serve mode, a CLI command) owns the data folder. */
export const ALREADY_RUNNING_EXIT_CODE = 1;

/**
 * The Electron shell: one instance, one secured window, the core behind IPC. It wires; the core
 * thinks.
 */
export async function startDesktop(options: { outDir: string; devUrl?: string }): Promise<void> {
  app.setName(APP_NAME);
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const paths = resolvePaths(app.getPath('userData'));
  const logFile = new RotatingFileLog({ dir: paths.logsDir });
  const log = createLogger(teeSinks(logFile.sink, streamSink(process.stderr)), { level: 'info', scope: 'desktop' });
  let core: Core | undefined;
  installCrashHandler({
    logsDir: paths.logsDir,
    log,
    showError: (message) => dialog.showErrorBox('ComfyDesk stopped unexpectedly', message),
    // The data folder is free for the next start even though the app ends abruptly.
    exit: (code) => {
      core?.owner.release();
      app.exit(code);
    },
  });
  const renderer: RendererLocation = { file: join(options.outDir, 'renderer', 'index.html'), devUrl: options.devUrl };
  const preloadPath = join(options.outDir, 'preload', 'index.cjs');

  registerMediaScheme(protocol);
  await app.whenReady();
  applySecurityPolicy({
    app,
    defaultSession: session.defaultSession,
    shell,
    isAppUrl: (url) => isAppUrl(url, renderer),
    log: log.child('security'),
  });

  try {
    const settingsStore = confSettingsStore(
      () => new ElectronStore({ name: 'settings', clearInvalidConfig: false }),
      join(paths.dataDir, 'settings.json'),
    );
    const desktop: DesktopPort = {
      openPath: async (path) => {
        const failure = await shell.openPath(path);
        if (failure) throw new AppError('io_error', `The system could not open ${path}: ${failure}`);
      },
      showItemInFolder: (path) => shell.showItemInFolder(path),
      openExternal: (url) => shell.openExternal(url),
    };
    const library = {
      fetchModelSize: headSizeFetcher(),
      revealFile: async (file: string) => (shell.showItemInFolder(file), true),
    };
    // Secrets live in their own encrypted file, never in settings.json.
    const secretFile = new ElectronStore<Record<string, string>>({ name: 'secrets', clearInvalidConfig: false });
    const secretStore = await createDesktopSecretStore({
      safeStorage,
      file: { read: () => secretFile.store, write: (values) => (secretFile.store = values) },
      platform: process.platform,
      log: log.child('secrets'),
    });
    core = await createCore({
      mode: 'desktop',
      version: APP_VERSION,
      paths,
      settingsStore,
      log,
      desktop,
      library,
      secretStore,
      openWindow: createComfyWindowOpener({ BrowserWindow }),
      pickFile: (options) => pickFile(dialog, options),
      // Prompt enhancement's llama.cpp runs in a utility process of its own: a crash there is not ours.
      llm: { spawnEngine: utilityEngineProcess(utilityProcess, join(options.outDir, 'main', 'llm-worker.js')) },
    });
  } catch (error) {
    if (isAppError(error) && error.code === 'already_running') {
      // Serve mode or a comfydesk command owns the data folder (another desktop instance would
      // have been caught by the single-instance lock and focused instead).
      log.warn('another ComfyDesk process owns the data folder', { details: error.details });
      process.stderr.write(`${error.userMessage}\n`);
      dialog.showErrorBox('ComfyDesk is already running', error.userMessage);
      app.exit(ALREADY_RUNNING_EXIT_CODE);
      return;
    }
    log.error('startup failed', { error });
    const message = isAppError(error) ? error.userMessage : 'ComfyDesk could not start. The log has details.';
    dialog.showErrorBox('ComfyDesk could not start', message);
    app.exit(STARTUP_FAILURE_EXIT_CODE);
    return;
  }
  const owned: Core = core;

  // Other ComfyDesk processes on this machine (the comfydesk CLI) reach this core through a
  // token-guarded local endpoint named in the data folder's lock file.
  const endpoint = new LocalEndpoint({ core: owned, log: log.child('endpoint') });
  try {
    await endpoint.start();
    owned.owner.publish(endpoint.published);
  } catch (error) {
    // The window works without it; only the CLI cannot attach (it will say the app does not answer).
    log.error('local endpoint could not start', { error });
  }

  handleMediaProtocol({ protocol, net, outputsDir: () => core.outputsDir() });

  const windowStore = new ElectronStore<WindowState>({ name: 'window-state' });
  const stateStore = {
    get: (): WindowState => windowStore.store,
    set: (state: WindowState) => (windowStore.store = state),
  };
  let mainWindow: BrowserWindow | undefined;
  let isQuitting = false;
  const desktopSettings = () => core.settings.get().desktop;
  const openWindow = (show = true) => {
    const window = createMainWindow({
      BrowserWindow,
      preloadPath,
      renderer,
      stateStore,
      displays: screen.getAllDisplays().map((display) => display.workArea),
      show,
    });
    mainWindow = window;
    window.on('closed', () => (mainWindow = undefined));
    // Close to tray: queued jobs keep running and finish with a notification.
    window.on('close', (event) => {
      if (isQuitting || !desktopSettings().closeToTray) return;
      event.preventDefault();
      window.hide();
    });
    window.on('focus', () => tray.windowFocused());
  };
  const showWindow = () => {
    if (!mainWindow) return openWindow();
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.show();
    mainWindow.focus();
  };

  const tray = new TrayController({
    electron: trayElectron,
    actions: {
      showWindow,
      showJob: (jobId) => {
        showWindow();
        core.events.emit('app.showJob', { jobId });
      },
      setPaused: (paused) => core.jobs.setPaused(paused),
      // The same command as Settings' button: the folder chosen in settings, created if nothing was saved yet.
      openOutputs: () =>
        void core.router
          .call('app.openFolder', { folder: 'outputs' })
          .catch((error: unknown) => log.warn('outputs folder did not open', { error })), // fire-and-forget: a menu click
      quit: () => {
        isQuitting = true;
        app.quit();
      },
    },
    trayIconsDir: app.isPackaged
      ? join(process.resourcesPath, 'tray')
      : join(options.outDir, '..', 'resources', 'tray'),
    outputsDir: () => core.outputsDir(),
    window: () => mainWindow,
    notificationsEnabled: () => desktopSettings().notifications,
    log: log.child('tray'),
  });
  tray.start();
  const stopFeed = feedJobs(core, (jobs, paused) => tray.update(jobs, paused));
  const stopPodAlerts = core.events.on('pods.alert', (alert) => tray.notifyPod(alert));
  // Downloads onto servers: progress in the tray and taskbar, a notification when a workflow is Ready.
  const stopTransferFeed = feedTransfers(core, (items) => tray.updateDownloads(items));
  const offReady = core.transfers.on('ready', (ready) => tray.notifyReady(ready));

  const unbindIpc = bindIpcTransport({
    ipcMain,
    router: core.router,
    events: core.events,
    // Only our own page hears events: ComfyUI's own window (Open ComfyUI) is a remote page.
    targets: () =>
      BrowserWindow.getAllWindows()
        .map((window) => window.webContents)
        .filter((contents) => isAppUrl(contents.getURL(), renderer)),
    isTrustedSender: (event) =>
      event.senderFrame !== null &&
      event.senderFrame === event.sender.mainFrame &&
      isAppUrl(event.senderFrame.url, renderer),
    log: log.child('ipc'),
  });

  openWindow(!desktopSettings().startMinimized);

  app.on('second-instance', showWindow);
  app.on('activate', showWindow);
  app.on('before-quit', () => (isQuitting = true));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  let stopping = false;
  app.on('will-quit', (event) => {
    if (stopping) return;
    stopping = true;
    event.preventDefault();
    unbindIpc();
    stopFeed();
    stopPodAlerts();
    stopTransferFeed();
    offReady();
    tray.stop();
    // Quit once the core released its sockets and files (and with them the data folder's lock).
    void endpoint
      .stop()
      .then(() => owned.stop())
      .finally(() => app.quit());
  });
}
