import { join } from 'node:path';
import type { BrowserWindow, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { Job } from '@shared/domain/job';
import { resolveInside } from '../core/lib/inside-folder';
import type { Logger } from '../core/lib/logger';
import { describeProgress, formatEta } from '@shared/format';
import {
  DesktopStatusTracker,
  overallPercent,
  ringStep,
  tooltipFor,
  type DesktopStatus,
  type FinishedJob,
} from './desktop-status';

/** The parts of Electron the controller drives; the shell passes the real ones, tests the stand-in. */
export interface TrayElectron {
  createTray(icon: NativeImage | string): Tray;
  buildMenu(template: MenuItemConstructorOptions[]): Electron.Menu;
  image(path: string): NativeImage | string;
  notificationsSupported(): boolean;
  notify(options: { title: string; body: string; icon?: NativeImage | string; onClick: () => void }): void;
  setDockBadge?(text: string): void;
}

export interface TrayActions {
  showWindow(): void;
  /** Brings the window forward on one job's result. */
  showJob(jobId: string): void;
  setPaused(paused: boolean): void;
  openOutputs(): void;
  quit(): void;
}

export interface TrayControllerOptions {
  electron: TrayElectron;
  actions: TrayActions;
  /** Folder of the tray PNGs (idle, error, running-0…8, each with @2x). */
  trayIconsDir: string;
  /** The outputs folder now (settings may move it), to find a finished job's thumbnail. */
  outputsDir: () => string;
  window: () => BrowserWindow | undefined;
  notificationsEnabled: () => boolean;
  log: Logger;
}

/**
 * The tray icon, its tooltip and menu, the window's taskbar progress, the macOS dock badge and
 * native notifications — all from one job snapshot at a time. It holds no job logic of its own.
 */
export class TrayController {
  readonly #options: TrayControllerOptions;
  readonly #tracker = new DesktopStatusTracker();
  #tray: Tray | undefined;
  #status: DesktopStatus = { state: 'idle', current: undefined, queueCount: 0, paused: false, lastFailure: undefined };
  #iconKey = '';

  constructor(options: TrayControllerOptions) {
    this.#options = options;
  }

  get status(): DesktopStatus {
    return this.#status;
  }

  start(): void {
    if (this.#tray) return;
    this.#tray = this.#options.electron.createTray(this.#icon('idle'));
    this.#tray.on('click', () => this.#options.actions.showWindow());
    this.#render();
  }

  stop(): void {
    this.#tray?.destroy();
    this.#tray = undefined;
    this.#options.window()?.setProgressBar(-1);
  }

  /** Feed a new snapshot of every job (ours and foreign) and the queue's paused state. */
  update(jobs: Job[], paused: boolean): void {
    const { status, finished } = this.#tracker.update(jobs, paused);
    this.#status = status;
    this.#render();
    for (const item of finished) this.#notify(item);
  }

  /** The window came to the front: a shown failure has been seen. */
  windowFocused(): void {
    if (this.#status.state !== 'error') return;
    this.#tracker.acknowledgeFailure();
    this.#status = { ...this.#status, state: 'idle', lastFailure: undefined };
    this.#render();
  }

  #icon(name: string): NativeImage | string {
    return this.#options.electron.image(join(this.#options.trayIconsDir, `${name}.png`));
  }

  #render(): void {
    const status = this.#status;
    const iconKey = status.state === 'running' ? `running-${ringStep(overallPercent(status))}` : status.state;
    if (this.#tray) {
      if (iconKey !== this.#iconKey) this.#tray.setImage(this.#icon(iconKey));
      this.#tray.setToolTip(tooltipFor(status));
      this.#tray.setContextMenu(this.#options.electron.buildMenu(this.#menu(status)));
    }
    this.#iconKey = iconKey;
    const window = this.#options.window();
    if (window && !window.isDestroyed()) {
      if (status.state === 'running') window.setProgressBar(overallPercent(status) / 100, { mode: 'normal' });
      else if (status.state === 'error') window.setProgressBar(1, { mode: 'error' });
      else window.setProgressBar(-1);
    }
    this.#options.electron.setDockBadge?.(status.queueCount > 0 ? String(status.queueCount) : '');
  }

  #menu(status: DesktopStatus): MenuItemConstructorOptions[] {
    const { actions } = this.#options;
    const items: MenuItemConstructorOptions[] = [];
    if (status.current) {
      const job = status.current;
      const eta = formatEta(job.progress?.etaSeconds);
      items.push({ label: `${job.workflowName} — ${Math.floor(job.progress?.percent ?? 0)}%`, enabled: false });
      items.push({ label: `${describeProgress(job.progress)}${eta ? ` · ${eta}` : ''}`, enabled: false });
    } else {
      items.push({ label: status.state === 'error' ? 'Last job failed' : 'Nothing running', enabled: false });
    }
    items.push({
      label: status.queueCount === 1 ? '1 job waiting' : `${status.queueCount} jobs waiting`,
      enabled: false,
    });
    items.push({ type: 'separator' });
    items.push(
      status.paused
        ? { label: 'Resume queue', click: () => actions.setPaused(false) }
        : { label: 'Pause queue', click: () => actions.setPaused(true) },
    );
    items.push({ label: 'Show ComfyDesk', click: () => actions.showWindow() });
    items.push({ label: 'Open outputs folder', click: () => actions.openOutputs() });
    items.push({ type: 'separator' });
    items.push({ label: 'Quit ComfyDesk', click: () => actions.quit() });
    return items;
  }

  #notify({ job, outcome }: FinishedJob): void {
    const { electron, actions, log } = this.#options;
    if (!this.#options.notificationsEnabled() || !electron.notificationsSupported()) return;
    // The window in front already shows the result; a native popup would only repeat it.
    if (this.#options.window()?.isFocused()) return;
    const found = job.outputs.find((output) => output.kind === 'image' && output.localPath);
    const icon = found?.localPath ? resolveInside(this.#options.outputsDir(), found.localPath) : undefined;
    try {
      electron.notify({
        title: outcome === 'succeeded' ? 'Generation finished' : 'Generation failed',
        body:
          outcome === 'succeeded'
            ? `${job.workflowName}${job.promptText ? ` — ${truncate(job.promptText, 80)}` : ''}`
            : `${job.workflowName}: ${job.error?.message ?? 'the server reported an error'}`,
        ...(icon ? { icon: electron.image(icon) } : {}),
        onClick: () => actions.showJob(job.id),
      });
    } catch (error) {
      log.warn('notification failed', { error });
    }
  }
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
