import type { ConnectionHealth, ConnectionProfile, ConnectionsSnapshot } from '@shared/domain/connection';
import type { JobsSnapshot } from '@shared/domain/job';
import type { Pod, PodPhase } from '@shared/domain/pod';
import type { ComfyClient } from '../comfy/comfy-client';
import type { Unsubscribe } from '../lib/emitter';
import type { Logger } from '../lib/logger';
import type { PodDirectory } from './pod-directory';

// What the pod monitor (pod-service.ts) depends on and keeps per pod, and its small helpers.

/** Runs a task every so often; tests pass one they fire by hand. */
export interface Ticker {
  every(intervalMs: number, task: () => Promise<void>): Unsubscribe;
}

/** setInterval, skipping a beat while the previous run is still busy. */
export const intervalTicker: Ticker = {
  every(intervalMs, task) {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void task().finally(() => (running = false)); // the task handles its own errors
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** The part of the job service the pod monitor reads: which jobs are held, queued or running where. */
export interface JobsView {
  snapshot(): JobsSnapshot;
  on(name: 'updated', listener: (job: JobsSnapshot['jobs'][number]) => void): Unsubscribe;
}

/** What the pod monitor uses of the connections (the ConnectionManager). */
export interface PodConnections {
  snapshot(): ConnectionsSnapshot;
  profile(serverId: string): ConnectionProfile | undefined;
  secret(serverId: string, name: 'apiKey'): string | undefined;
  /** The server's client while online: its queue says whether anything waits or runs there. */
  client(serverId: string): Pick<ComfyClient, 'getQueue'> | undefined;
  health(serverId: string): Pick<ConnectionHealth, 'state'>;
  reconnect(serverId: string): Promise<void>;
  setOnline(serverId: string, online: boolean): unknown;
  readonly activeId: string | null;
  on(name: 'changed', listener: (snapshot: ConnectionsSnapshot) => void): Unsubscribe;
}

export interface PodServiceDeps {
  connections: PodConnections;
  directory: PodDirectory;
  jobs: JobsView;
  log: Logger;
  /** @default Date.now */
  now?: () => number;
  /** @default setInterval */
  ticker?: Ticker;
  /** How often idle time, cost and the queue are checked. @default 5000 */
  tickMs?: number;
  /** How often RunPod is asked about a pod that is running or stopped. @default 60000 */
  pollMs?: number;
  /** How often RunPod is asked while a pod starts or stops. @default 5000 */
  transitionPollMs?: number;
  /** The auto-stop countdown. @default 60000 */
  countdownMs?: number;
  /** How long a start may take until ComfyUI answers. @default 900000 (pods pull large images) */
  startTimeoutMs?: number;
}

/** What the monitor keeps about one RunPod connection. */
export interface PodState {
  serverId: string;
  pod: Pod | undefined;
  phase: PodPhase;
  step: string | undefined;
  error: string | undefined;
  checkedAt: number | null;
  /** When the last RunPod read was asked (even if it failed), for the poll period. */
  askedAt: number;
  sessionCostUsd: number;
  sessionRunningMs: number;
  /** The last time cost was counted up to. */
  countedAt: number | undefined;
  isBusy: boolean;
  /** Whether the server's own queue could be read at the last check. */
  isQueueKnown: boolean;
  idleSince: number | null;
  /** The idle period already notified about, and the one auto-stop acted on or was cancelled for. */
  alertedFor: number | null;
  autoStopHandledFor: number | null;
  isAutoStopCancelled: boolean;
  autoStopAt: number | null;
  startDeadline: number | null;
  hasReconnected: boolean;
  routeKey: string | null;
  route: string | null;
  routeNote: string | undefined;
  /** A stop ComfyDesk asked for (by the user or auto-stop), until RunPod reports the pod stopped. */
  stopReason: 'user' | 'auto' | undefined;
}

/** "2 h 05 min", "14 min", "40 s". */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  if (minutes >= 1) return `${minutes} min`;
  return `${Math.round(ms / 1000)} s`;
}
