import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * A stand-in for the `electron` module: enough of Electron's main-process and preload API for the
 * shell's code to run in plain Node, recording what it did (windows, IPC handlers, permissions,
 * opened links, quit calls) so tests assert outcomes. `app.quit()` records instead of exiting.
 *
 * Use: `const electron = vi.hoisted(() => createElectronStandIn())` is not possible across files,
 * so tests do `vi.mock('electron', async () => (await import('../support/electron-stand-in')).standIn())`.
 */

type Listener = (...args: unknown[]) => unknown;

export interface Frame {
  url: string;
}

export class StandInWebContents extends EventEmitter {
  static #nextId = 1;
  readonly id = StandInWebContents.#nextId++;
  readonly mainFrame: Frame = { url: '' };
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  windowOpenHandler: ((details: { url: string }) => { action: 'allow' | 'deny' }) | undefined;
  #destroyed = false;

  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
    this.emit(`ipc:${channel}`, ...args);
  }

  getURL(): string {
    return this.mainFrame.url;
  }

  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'allow' | 'deny' }): void {
    this.windowOpenHandler = handler;
  }

  isDestroyed(): boolean {
    return this.#destroyed;
  }

  destroy(): void {
    this.#destroyed = true;
  }

  /** Simulates a navigation attempt; returns true when the app prevented it. */
  tryNavigate(url: string): boolean {
    let prevented = false;
    this.emit('will-navigate', { preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

interface WindowRegistry {
  windows: StandInBrowserWindow[];
  onCreated: (contents: StandInWebContents) => void;
  calls: { focus: number };
}

export class StandInBrowserWindow extends EventEmitter {
  /** Set by createElectronStandIn: each test module has one stand-in. */
  static registry: WindowRegistry = { windows: [], onCreated: () => undefined, calls: { focus: 0 } };
  static getAllWindows(): StandInBrowserWindow[] {
    return StandInBrowserWindow.registry.windows.filter((window) => !window.isDestroyed());
  }
  readonly options: Record<string, unknown>;
  readonly webContents = new StandInWebContents();
  loaded: { file?: string; url?: string } = {};
  readonly flags = { maximized: false, minimized: false, destroyed: false, visible: false, focused: false };
  progressBar: { value: number; mode?: string } = { value: -1 };
  bounds: { x: number; y: number; width: number; height: number };

  constructor(options: Record<string, unknown> = {}) {
    super();
    this.options = options;
    this.bounds = {
      x: Number(options.x ?? 0),
      y: Number(options.y ?? 0),
      width: Number(options.width ?? 800),
      height: Number(options.height ?? 600),
    };
    StandInBrowserWindow.registry.windows.push(this);
    StandInBrowserWindow.registry.onCreated(this.webContents);
  }
  async loadFile(file: string): Promise<void> {
    this.loaded = { file };
    this.webContents.mainFrame.url = new URL(`file://${file}`).href;
    this.emit('ready-to-show');
  }
  async loadURL(url: string): Promise<void> {
    this.loaded = { url };
    this.webContents.mainFrame.url = url;
    this.emit('ready-to-show');
  }
  show(): void {
    this.flags.visible = true;
  }
  hide(): void {
    this.flags.visible = false;
  }
  isVisible(): boolean {
    return this.flags.visible;
  }
  focus(): void {
    StandInBrowserWindow.registry.calls.focus += 1;
    this.flags.focused = true;
  }
  blur(): void {
    this.flags.focused = false;
  }
  isFocused(): boolean {
    return this.flags.focused;
  }
  setProgressBar(value: number, options?: { mode?: string }): void {
    this.progressBar = { value, ...(options?.mode ? { mode: options.mode } : {}) };
  }
  maximize(): void {
    this.flags.maximized = true;
    this.emit('maximize');
  }
  isMaximized(): boolean {
    return this.flags.maximized;
  }
  isMinimized(): boolean {
    return this.flags.minimized;
  }
  restore(): void {
    this.flags.minimized = false;
  }
  getNormalBounds(): { x: number; y: number; width: number; height: number } {
    return { ...this.bounds };
  }
  setBounds(bounds: Partial<{ x: number; y: number; width: number; height: number }>): void {
    this.bounds = { ...this.bounds, ...bounds };
    this.emit('resize');
  }
  isDestroyed(): boolean {
    return this.flags.destroyed;
  }
  /** Like a user closing the window: listeners may prevent it (close to tray). */
  close(): void {
    let prevented = false;
    this.emit('close', { preventDefault: () => (prevented = true) });
    if (prevented) return;
    this.flags.destroyed = true;
    this.webContents.destroy();
    this.emit('closed');
  }
}

/** A tray icon that records what the app set on it. */
export class StandInTray extends EventEmitter {
  static created: StandInTray[] = [];
  image: unknown;
  tooltip = '';
  menu: { items: Array<Record<string, unknown>> } | undefined;
  destroyed = false;
  constructor(image: unknown) {
    super();
    this.image = image;
    StandInTray.created.push(this);
  }
  setImage(image: unknown): void {
    this.image = image;
  }
  setToolTip(text: string): void {
    this.tooltip = text;
  }
  setContextMenu(menu: { items: Array<Record<string, unknown>> }): void {
    this.menu = menu;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Clicks the menu item with this label, as a user would. */
  clickMenuItem(label: string): void {
    const item = this.menu?.items.find((candidate) => candidate.label === label);
    if (!item)
      throw new Error(
        `no menu item "${label}" in ${JSON.stringify(this.menu?.items.map((candidate) => candidate.label))}`,
      );
    (item.click as () => void)();
  }
}

/** A native notification that records itself when shown. */
export class StandInNotification extends EventEmitter {
  static shown: StandInNotification[] = [];
  static supported = true;
  static isSupported(): boolean {
    return StandInNotification.supported;
  }
  readonly options: { title: string; body: string; icon?: unknown };
  constructor(options: { title: string; body: string; icon?: unknown }) {
    super();
    this.options = options;
  }
  show(): void {
    StandInNotification.shown.push(this);
  }
}

/**
 * `utilityProcess.fork` for real: a plain Node child process running the module, with the
 * `process.parentPort` Electron gives utility processes (tests/support/utility-process-shim.mjs).
 * Like Electron's, it emits 'spawn', 'message' and 'exit' (a code only: 128 + the signal's number
 * when a signal ended it), and `kill()` sends SIGTERM. `crash()` ends it as an OS would (SIGKILL).
 */
export class StandInUtilityProcess extends EventEmitter {
  static forked: StandInUtilityProcess[] = [];
  readonly modulePath: string;
  readonly options: Record<string, unknown>;
  readonly #child: ChildProcess;
  readonly sent: unknown[] = [];

  constructor(modulePath: string, args: string[] = [], options: Record<string, unknown> = {}) {
    super();
    this.modulePath = modulePath;
    this.options = options;
    const shim = pathToFileURL(join(import.meta.dirname, 'utility-process-shim.mjs')).href;
    this.#child = fork(modulePath, args, {
      execArgv: ['--import', shim],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('spawn', () => this.emit('spawn'));
    this.#child.on('message', (message) => this.emit('message', message));
    this.#child.on('exit', (code, signal) => this.emit('exit', code ?? 128 + (signal ? constants.signals[signal] : 0)));
    StandInUtilityProcess.forked.push(this);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  postMessage(message: unknown): void {
    this.sent.push(message);
    this.#child.send(message as never);
  }

  kill(): boolean {
    return this.#child.kill();
  }

  /** Ends the process from outside, as the OS does to a process that ran the machine out of memory. */
  crash(): void {
    this.#child.kill('SIGKILL');
  }
}

export function createElectronStandIn() {
  const windows: StandInBrowserWindow[] = [];
  const ipcHandlers = new Map<string, Listener>();
  const rendererListeners = new Map<string, Set<Listener>>();
  const exposed: Record<string, unknown> = {};
  const openedExternal: string[] = [];
  const errorBoxes: Array<{ title: string; content: string }> = [];
  const calls = { quit: 0, exit: [] as number[], focus: 0 };
  const permission: { request?: Listener; check?: Listener } = {};
  let hasSingleInstanceLock = true;
  const openDialogs: Array<Record<string, unknown>> = [];
  const nextOpenDialog: string[] = [];
  /** Files the stand-in renderer "dropped" from disk, with their paths (others have none, like pasted ones). */
  const filesOnDisk = new WeakMap<object, string>();
  const encryption: { available: boolean; backend: 'basic_text' | 'gnome_libsecret' } = {
    available: true,
    backend: 'gnome_libsecret',
  };

  StandInBrowserWindow.registry = {
    windows,
    onCreated: (contents) => app.emit('web-contents-created', {}, contents),
    calls,
  };

  const app = Object.assign(new EventEmitter(), {
    name: 'electron',
    setName(name: string) {
      app.name = name;
    },
    getName: () => app.name,
    getVersion: () => '0.0.0-stand-in',
    isPackaged: false,
    getPath: (_name: string) => process.env.STAND_IN_USER_DATA ?? '/tmp/comfydesk-stand-in',
    requestSingleInstanceLock: () => hasSingleInstanceLock,
    whenReady: () => Promise.resolve(),
    isReady: () => true,
    quit() {
      calls.quit += 1;
    },
    exit(code = 0) {
      calls.exit.push(code);
    },
  });

  const ipcMain = {
    handle(channel: string, listener: Listener) {
      if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      ipcHandlers.set(channel, listener);
    },
    removeHandler(channel: string) {
      ipcHandlers.delete(channel);
    },
    on() {
      return ipcMain;
    },
  };

  /** The renderer side: `invoke` goes to the handler as Electron would, with a sender event. */
  let rendererContents: StandInWebContents | undefined;
  let rendererFrame: Frame | undefined;
  const ipcRenderer = {
    async invoke(channel: string, ...args: unknown[]) {
      const handler = ipcHandlers.get(channel);
      if (!handler) throw new Error(`No handler registered for '${channel}'`);
      const sender = rendererContents ?? new StandInWebContents();
      const event = { sender, senderFrame: rendererFrame ?? sender.mainFrame };
      return structuredClone(await handler(event, ...args.map((arg) => structuredClone(arg))));
    },
    on(channel: string, listener: Listener) {
      let set = rendererListeners.get(channel);
      if (!set) {
        set = new Set();
        rendererListeners.set(channel, set);
      }
      set.add(listener);
      const forward = (...args: unknown[]) => listener({}, ...args);
      (listener as Listener & { forward?: Listener }).forward = forward;
      rendererContents?.on(`ipc:${channel}`, forward);
      return ipcRenderer;
    },
    removeListener(channel: string, listener: Listener) {
      rendererListeners.get(channel)?.delete(listener);
      const forward = (listener as Listener & { forward?: Listener }).forward;
      if (forward) rendererContents?.off(`ipc:${channel}`, forward);
      return ipcRenderer;
    },
  };

  const module = {
    app,
    BrowserWindow: StandInBrowserWindow,
    ipcMain,
    ipcRenderer,
    contextBridge: {
      exposeInMainWorld(key: string, value: unknown) {
        exposed[key] = value;
      },
    },
    shell: {
      async openExternal(url: string) {
        openedExternal.push(url);
      },
      async openPath(path: string) {
        openedExternal.push(path);
        return '';
      },
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler(handler: Listener) {
          permission.request = handler;
        },
        setPermissionCheckHandler(handler: Listener) {
          permission.check = handler;
        },
      },
    },
    screen: {
      getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }],
    },
    dialog: {
      showErrorBox(title: string, content: string) {
        errorBoxes.push({ title, content });
      },
      /** Answers with the paths a test queued in `recorded.nextOpenDialog` (cancelled when none). */
      async showOpenDialog(options: Record<string, unknown>) {
        openDialogs.push(options);
        const paths = nextOpenDialog.splice(0);
        return { canceled: paths.length === 0, filePaths: paths };
      },
    },
    /** A reversible stand-in cipher: tests check that stored values are not the plain text. */
    safeStorage: {
      isAsyncEncryptionAvailable: async () => encryption.available,
      getSelectedStorageBackend: () => encryption.backend,
      encryptStringAsync: async (plain: string) =>
        Buffer.from(`enc:${Buffer.from(plain, 'utf8').toString('hex')}`, 'utf8'),
      decryptStringAsync: async (encrypted: Buffer) => {
        const text = encrypted.toString('utf8');
        if (!text.startsWith('enc:'))
          throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
        return { shouldReEncrypt: false, result: Buffer.from(text.slice(4), 'hex').toString('utf8') };
      },
    },
    protocol: {
      registered: [] as unknown[],
      handlers: new Map<string, (request: { url: string }) => unknown>(),
      registerSchemesAsPrivileged(schemes: unknown[]) {
        module.protocol.registered.push(...schemes);
      },
      handle(scheme: string, handler: (request: { url: string }) => unknown) {
        module.protocol.handlers.set(scheme, handler);
      },
    },
    net: {
      fetch: async (url: string) => new Response(`fetched ${url}`),
    },
    Tray: StandInTray,
    Notification: StandInNotification,
    utilityProcess: {
      fork: (modulePath: string, args?: string[], options?: Record<string, unknown>) =>
        new StandInUtilityProcess(modulePath, args, options),
    },
    Menu: {
      buildFromTemplate: (items: Array<Record<string, unknown>>) => ({ items }),
    },
    nativeImage: {
      createFromPath: (path: string) => ({ path }),
    },
    /** As in Electron: the path of a File that came from disk, '' for any other File. */
    webUtils: {
      getPathForFile: (file: object) => filesOnDisk.get(file) ?? '',
    },
  };

  const recorded = {
    windows,
    ipcHandlers,
    exposed,
    openedExternal,
    errorBoxes,
    calls,
    permission,
    /** Makes the next `requestSingleInstanceLock()` fail, as when another instance runs. */
    setSingleInstanceLock(value: boolean) {
      hasSingleInstanceLock = value;
    },
    openDialogs,
    /** Paths the next open-file dialog returns. */
    nextOpenDialog,
    /** Marks a File as dropped from `path` on disk (what `webUtils.getPathForFile` then answers). */
    dropFromDisk(file: object, path: string) {
      filesOnDisk.set(file, path);
    },
    /** What safeStorage reports: whether encryption is available and which Linux backend it uses. */
    encryption,
    /** Which web contents and frame the stand-in renderer speaks as. */
    speakAs(contents: StandInWebContents, frame?: Frame) {
      rendererContents = contents;
      rendererFrame = frame;
    },
  };

  return { module: { ...module, default: module }, recorded };
}

export type ElectronStandIn = ReturnType<typeof createElectronStandIn>;
