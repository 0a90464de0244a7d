import type {
  RestoreFinished,
  RestoreProgressEvent,
  SnapshotFinished,
  SnapshotProgressEvent,
} from '@shared/contract/snapshots';
import type { Pod, PodAlert, PodsSnapshot, PodStatus } from '@shared/domain/pod';
import type { RestoreItem, RestoreReport, SnapshotSummary } from '@shared/domain/snapshot';
import type { ApiClient } from '../api';
import { ApiError, errorMessage } from '../api';
import type { Toasts } from './toasts.svelte';

/** A snapshot being saved or just saved, per connection. */
export type SnapshotState =
  | { state: 'running'; snapshotId: string; path: string; progress?: SnapshotProgressEvent }
  | { state: 'saved'; snapshotId: string; path: string; summary: SnapshotSummary }
  | { state: 'failed'; snapshotId: string; message: string };

/** A snapshot being restored onto a connection, or just restored. */
export type RestoreState =
  | { state: 'running'; restoreId: string; items: RestoreItem[] }
  | { state: 'finished'; restoreId: string; report: RestoreReport }
  | { state: 'failed'; restoreId: string; message: string };

/** Shows a browser notification for a pod alert while the page is in the background (serve mode). */
export type PodAlertNotifier = (alert: PodAlert) => void;

/**
 * Rented pods as the window sees them: each RunPod connection's pod (status, $/h, cost this
 * session, idle time, auto-stop countdown), the account's pods for picking one, start and stop,
 * and server snapshots being saved. Kept in step through `pods.changed`, `pods.alert` and the
 * snapshot events, re-fetched when the link to the core comes back.
 */
export class PodsState {
  #snapshot = $state.raw<PodsSnapshot>({ pods: [] });
  #snapshots = $state.raw<Record<string, SnapshotState>>({});
  #restores = $state.raw<Record<string, RestoreState>>({});
  #now = $state(Date.now());
  #busy = $state.raw<Record<string, 'starting' | 'stopping' | undefined>>({});
  readonly #api: ApiClient;
  readonly #toasts: Toasts;
  readonly #notify: PodAlertNotifier | undefined;
  readonly #clock: () => number;

  constructor(api: ApiClient, toasts: Toasts, options: { notify?: PodAlertNotifier; now?: () => number } = {}) {
    this.#api = api;
    this.#toasts = toasts;
    this.#notify = options.notify;
    this.#clock = options.now ?? Date.now;
    this.#now = this.#clock();
  }

  get pods(): PodStatus[] {
    return this.#snapshot.pods;
  }

  /** The current time, ticking every second while a countdown runs (for "stops in 42 s"). */
  get now(): number {
    return this.#now;
  }

  status(serverId: string): PodStatus | undefined {
    return this.#snapshot.pods.find((pod) => pod.serverId === serverId);
  }

  snapshotOf(serverId: string): SnapshotState | undefined {
    return this.#snapshots[serverId];
  }

  restoreOf(serverId: string): RestoreState | undefined {
    return this.#restores[serverId];
  }

  /** Whether a start or stop asked from this window is being sent. */
  isSending(serverId: string): boolean {
    return this.#busy[serverId] !== undefined;
  }

  connect(): () => void {
    const offs = [
      this.#api.on('pods.changed', (snapshot) => (this.#snapshot = snapshot)),
      this.#api.on('pods.alert', (alert) => this.#alert(alert)),
      this.#api.on('snapshots.progress', (progress) => this.#progress(progress)),
      this.#api.on('snapshots.finished', (finished) => this.#finished(finished)),
      this.#api.on('snapshots.restoreProgress', (progress) => this.#restoreProgress(progress)),
      this.#api.on('snapshots.restoreFinished', (finished) => this.#restoreFinished(finished)),
      this.#api.onLink((state) => {
        if (state === 'open') void this.refresh(); // errors become a toast inside refresh
      }),
    ];
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    const timer = setInterval(() => {
      if (this.#snapshot.pods.some((pod) => pod.autoStopAt !== null || pod.idleSince !== null))
        this.#now = this.#clock();
    }, 1000);
    return () => {
      clearInterval(timer);
      for (const off of offs) off();
    };
  }

  async refresh(): Promise<void> {
    try {
      this.#snapshot = await this.#api.call('pods.status', {});
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** The account's pods: with a key being typed, or the key saved with a connection. */
  async list(input: { apiKey?: string; serverId?: string }): Promise<{ pods: Pod[] } | { error: string }> {
    try {
      return await this.#api.call('pods.list', input, { timeoutMs: 60_000 });
    } catch (error) {
      return { error: errorMessage(error) };
    }
  }

  async start(serverId: string): Promise<boolean> {
    return this.#send(serverId, 'starting', () => this.#api.call('pods.start', { serverId }));
  }

  /**
   * Stops a pod. While a job is on it the core refuses; the answer says so, and `force` (after the
   * user confirmed) stops it anyway.
   */
  async stop(serverId: string, options: { force?: boolean } = {}): Promise<'stopped' | 'busy' | 'failed'> {
    this.#busy = { ...this.#busy, [serverId]: 'stopping' };
    try {
      this.#snapshot = await this.#api.call('pods.stop', { serverId, force: options.force ?? false });
      return 'stopped';
    } catch (error) {
      if (error instanceof ApiError && error.details?.busy === true) return 'busy';
      this.#toasts.error(error);
      return 'failed';
    } finally {
      this.#busy = { ...this.#busy, [serverId]: undefined };
    }
  }

  async cancelAutoStop(serverId: string): Promise<boolean> {
    return this.#toasts.attempt(async () => {
      this.#snapshot = await this.#api.call('pods.cancelAutoStop', { serverId });
    });
  }

  /** Starts saving a snapshot of a connected server into ComfyDesk's snapshots folder. */
  async saveSnapshot(serverId: string): Promise<boolean> {
    return this.#toasts.attempt(async () => {
      const { snapshotId, path } = await this.#api.call('snapshots.save', { serverId });
      this.#snapshots = { ...this.#snapshots, [serverId]: { state: 'running', snapshotId, path } };
    });
  }

  async cancelSnapshot(serverId: string): Promise<void> {
    const current = this.#snapshots[serverId];
    if (current?.state !== 'running') return;
    await this.#toasts.attempt(() => this.#api.call('snapshots.cancel', { snapshotId: current.snapshotId }));
  }

  /** Starts rebuilding a snapshot file (a full path on the machine running ComfyDesk) on a connected server. */
  async restoreSnapshot(serverId: string, path: string): Promise<boolean> {
    return this.#toasts.attempt(async () => {
      const { restoreId } = await this.#api.call('snapshots.restore', { serverId, path });
      this.#restores = { ...this.#restores, [serverId]: { state: 'running', restoreId, items: [] } };
    });
  }

  async cancelRestore(serverId: string): Promise<void> {
    const current = this.#restores[serverId];
    if (current?.state !== 'running') return;
    await this.#toasts.attempt(() => this.#api.call('snapshots.cancel', { snapshotId: current.restoreId }));
  }

  #restoreProgress(progress: RestoreProgressEvent): void {
    const current = this.#restores[progress.serverId];
    if (current?.restoreId !== progress.restoreId || current.state !== 'running') return;
    this.#restores = { ...this.#restores, [progress.serverId]: { ...current, items: progress.items } };
  }

  #restoreFinished(finished: RestoreFinished): void {
    const current = this.#restores[finished.serverId];
    if (current?.restoreId !== finished.restoreId) return;
    this.#restores = {
      ...this.#restores,
      [finished.serverId]: finished.ok
        ? { state: 'finished', restoreId: finished.restoreId, report: finished.report }
        : { state: 'failed', restoreId: finished.restoreId, message: finished.error.userMessage },
    };
  }

  async #send(serverId: string, what: 'starting' | 'stopping', action: () => Promise<PodsSnapshot>): Promise<boolean> {
    this.#busy = { ...this.#busy, [serverId]: what };
    try {
      this.#snapshot = await action();
      return true;
    } catch (error) {
      this.#toasts.error(error);
      return false;
    } finally {
      this.#busy = { ...this.#busy, [serverId]: undefined };
    }
  }

  #alert(alert: PodAlert): void {
    this.#toasts.push({
      id: `pod-${alert.serverId}-${alert.kind}-${alert.message}`,
      level: alert.kind === 'stopped' ? 'info' : 'warning',
      message: alert.message,
      ...(alert.kind === 'auto-stop'
        ? { action: { label: 'Keep running', run: () => void this.cancelAutoStop(alert.serverId) } }
        : {}),
    });
    this.#notify?.(alert);
  }

  #progress(progress: SnapshotProgressEvent): void {
    const current = this.#snapshots[progress.serverId];
    if (current?.snapshotId !== progress.snapshotId || current.state !== 'running') return;
    this.#snapshots = { ...this.#snapshots, [progress.serverId]: { ...current, progress } };
  }

  #finished(finished: SnapshotFinished): void {
    const current = this.#snapshots[finished.serverId];
    if (current?.snapshotId !== finished.snapshotId) return;
    this.#snapshots = {
      ...this.#snapshots,
      [finished.serverId]: finished.ok
        ? { state: 'saved', snapshotId: finished.snapshotId, path: finished.path, summary: finished.summary }
        : { state: 'failed', snapshotId: finished.snapshotId, message: finished.error.userMessage },
    };
  }
}
