import { join } from 'node:path';
import type { BrowserWindow, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { Job } from '@shared/domain/job';
import { resolveInside } from '../core/lib/inside-folder';
import type { PodAlert } from '@shared/domain/pod';
import { FINISHED_TRANSFER_STATES, type TransferItem } from '@shared/domain/transfer';
import type { Logger } from '../core/lib/logger';
import { describeProgress, formatBytes, formatEta } from '@shared/format';
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

/** Downloads under way, summed for the tray and the taskbar. */
export interface DownloadSummary {
  count: number;
  receivedBytes: number;
  /** Null while the size of one of them is unknown. */
  totalBytes: number | null;
  bytesPerSecond: number;
}

/** Sums the transfers that are not finished; undefined when none are. */
export function summarizeDownloads(items: readonly TransferItem[]): DownloadSummary | undefined {
  const active = items.filter((item) => !FINISHED_TRANSFER_STATES.has(item.state));
  if (active.length === 0) return undefined;
  const isTotalKnown = active.every((item) => item.totalBytes !== null);
  return {
    count: active.length,
    receivedBytes: active.reduce((sum, item) => sum + item.receivedBytes, 0),
    totalBytes: isTotalKnown ? active.reduce((sum, item) => sum + (item.totalBytes ?? 0), 0) : null,
    bytesPerSecond: active.reduce((sum, item) => sum + item.bytesPerSecond, 0),
  };
}

/** "downloading 2 files 45% · 35 MB/s · ~40 s left". */
function describeDownloads(summary: DownloadSummary): string {
  const parts = [`downloading ${summary.count === 1 ? '1 file' : `${summary.count} files`}`];
  const fraction = downloadFraction(summary);
  if (fraction !== null) parts[0] += ` ${Math.floor(fraction * 100)}%`;
  if (summary.bytesPerSecond > 0) parts.push(`${formatBytes(summary.bytesPerSecond)}/s`);
  const eta =
    summary.totalBytes !== null && summary.bytesPerSecond > 0
      ? formatEta((summary.totalBytes - summary.receivedBytes) / summary.bytesPerSecond)
      : undefined;
  if (eta) parts.push(eta);
  return parts.join(' · ');
}

function downloadFraction(summary: DownloadSummary): number | null {
  return summary.totalBytes ? Math.min(1, summary.receivedBytes / summary.totalBytes) : null;
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
  #downloads: DownloadSummary | undefined;
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

  /**
   * A rented pod's cost alert as a native notification: idle but still billing, an auto-stop
   * countdown, a pod auto-stop stopped. Clicking it shows the window (where the countdown can be
   * cancelled). None while the window is in front: it shows the same alert itself.
   */
  notifyPod(alert: PodAlert): void {
    this.#notifyWindow(alert.title, alert.message);
  }

  /** Feed the transfers (downloads onto servers): their progress shows when no job runs, and in the tooltip. */
  updateDownloads(items: readonly TransferItem[]): void {
    this.#downloads = summarizeDownloads(items);
    this.#render();
  }

  /** A workflow's files all landed: one notification (not while the window is in front). */
  notifyReady(ready: { workflowName: string; serverName: string }): void {
    this.#notifyWindow(
      'Ready to run',
      `${ready.workflowName} is Ready on ${ready.serverName}: its models are on the server.`,
    );
  }

  /** A native notification that brings the window forward when clicked; none while the window is in front. */
  #notifyWindow(title: string, body: string): void {
    const { electron, actions, log } = this.#options;
    if (!this.#options.notificationsEnabled() || !electron.notificationsSupported()) return;
    if (this.#options.window()?.isFocused()) return;
    try {
      electron.notify({ title, body, onClick: () => actions.showWindow() });
    } catch (error) {
      log.warn('notification failed', { error });
    }
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
    const downloads = this.#downloads;
    // A job's progress comes first; downloads show when nothing runs.
    const showsDownloads = status.state === 'idle' && downloads !== undefined;
    const downloadPercent = downloads ? (downloadFraction(downloads) ?? 0) * 100 : 0;
    const iconKey =
      status.state === 'running'
        ? `running-${ringStep(overallPercent(status))}`
        : showsDownloads
          ? `running-${ringStep(downloadPercent)}`
          : status.state;
    if (this.#tray) {
      if (iconKey !== this.#iconKey) this.#tray.setImage(this.#icon(iconKey));
      const tooltip = tooltipFor(status);
      this.#tray.setToolTip(
        downloads
          ? showsDownloads
            ? `ComfyDesk — ${describeDownloads(downloads)}`
            : `${tooltip} · ${describeDownloads(downloads)}`
          : tooltip,
      );
      this.#tray.setContextMenu(this.#options.electron.buildMenu(this.#menu(status)));
    }
    this.#iconKey = iconKey;
    const window = this.#options.window();
    if (window && !window.isDestroyed()) {
      if (status.state === 'running') window.setProgressBar(overallPercent(status) / 100, { mode: 'normal' });
      else if (status.state === 'error') window.setProgressBar(1, { mode: 'error' });
      else if (showsDownloads)
        window.setProgressBar(downloadFraction(downloads) ?? 2, {
          mode: downloadFraction(downloads) === null ? 'indeterminate' : 'normal',
        });
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
    if (this.#downloads) {
      const text = describeDownloads(this.#downloads);
      items.push({ label: text.charAt(0).toUpperCase() + text.slice(1), enabled: false });
    }
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
