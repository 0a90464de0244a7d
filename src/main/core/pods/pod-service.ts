import type { RunPodProfile } from '@shared/domain/connection';
import {
  formatUsd,
  type Pod,
  type PodAlert,
  type PodPhase,
  type PodsSnapshot,
  type PodStatus,
} from '@shared/domain/pod';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, isAppError } from '../lib/errors';
import { describeRoute } from './pod-directory';
import { formatDuration, intervalTicker, type PodServiceDeps, type PodState } from './pod-ports';

export { formatDuration, intervalTicker } from './pod-ports';
export type { JobsView, PodConnections, PodServiceDeps, Ticker } from './pod-ports';

export interface PodServiceEvents {
  changed: PodsSnapshot;
  alert: PodAlert;
}

const BUSY = new Set(['held', 'queued', 'running']);

/**
 * Watches the pods behind RunPod connections: their status and price from RunPod's API, what they
 * cost this session, how long their queue has been empty, a notification when an idle pod still
 * bills, auto-stop after a countdown the user can cancel (never while a job is held, queued or
 * running on it), and starting a stopped pod until its ComfyUI answers.
 */
export class PodService {
  readonly #deps: PodServiceDeps;
  readonly #emitter: Emitter<PodServiceEvents>;
  readonly #states = new Map<string, PodState>();
  readonly #offs: Unsubscribe[] = [];
  #lastSnapshot = '';
  #started = false;
  #evaluating: Promise<void> | undefined;

  constructor(deps: PodServiceDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  on<K extends keyof PodServiceEvents>(name: K, listener: (payload: PodServiceEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const ticker = this.#deps.ticker ?? intervalTicker;
    this.#offs.push(ticker.every(this.#deps.tickMs ?? 5000, () => this.evaluate()));
    // A job appearing ends an idle period at once (an auto-stop countdown stops with it).
    this.#offs.push(this.#deps.jobs.on('updated', (job) => this.#jobChanged(job.serverId)));
    this.#offs.push(this.#deps.connections.on('changed', () => this.#emitChanged()));
    void this.evaluate(); // the first look; errors are kept per pod
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const off of this.#offs.splice(0)) off();
    await this.#evaluating?.catch(() => undefined);
  }

  snapshot(): PodsSnapshot {
    return { pods: this.#profiles().map((profile) => this.#status(profile, this.#state(profile.id))) };
  }

  /** The account's pods, for picking one: with a key being typed, or the key saved with a connection. */
  async list(input: { apiKey?: string; serverId?: string }): Promise<Pod[]> {
    const apiKey =
      input.apiKey || (input.serverId ? this.#deps.connections.secret(input.serverId, 'apiKey') : undefined);
    return this.#deps.directory.list(apiKey);
  }

  /**
   * Asks RunPod to start a stopped pod, brings its connection online, and follows it until ComfyUI
   * answers (the snapshot's `step` says where it is).
   */
  async startPod(serverId: string): Promise<PodsSnapshot> {
    const profile = this.#runpod(serverId);
    const state = this.#state(serverId);
    if (state.phase === 'starting') return this.snapshot();
    if (state.phase === 'running' && this.#deps.connections.health(serverId).state === 'online') return this.snapshot();
    const api = this.#deps.directory.api(this.#deps.connections.secret(serverId, 'apiKey'));
    state.phase = 'starting';
    state.step = 'Asking RunPod to start the pod…';
    state.error = undefined;
    this.#emitChanged();
    try {
      await api.startPod(profile.podId);
    } catch (error) {
      state.phase = state.pod ? this.#phaseOf(state.pod) : 'unknown';
      state.step = undefined;
      state.error = isAppError(error) ? error.userMessage : 'RunPod could not start the pod.';
      this.#emitChanged();
      throw error;
    }
    this.#deps.directory.forget(profile.podId);
    const now = this.#now();
    state.startDeadline = now + (this.#deps.startTimeoutMs ?? 900_000);
    state.hasReconnected = false;
    state.stopReason = undefined;
    state.askedAt = 0; // ask RunPod at the next check
    state.step = 'Waiting for the pod to start…';
    // A pod started from ComfyDesk is meant to be used: keep its connection online.
    if (this.#deps.connections.activeId !== serverId && !this.#deps.connections.snapshot().online.includes(serverId))
      this.#deps.connections.setOnline(serverId, true);
    this.#emitChanged();
    return this.snapshot();
  }

  /**
   * Asks RunPod to stop a pod. While a job is held, queued or running on it, only with `force` (the
   * user confirmed); auto-stop never forces.
   */
  async stopPod(serverId: string, options: { force?: boolean } = {}): Promise<PodsSnapshot> {
    const profile = this.#runpod(serverId);
    const state = this.#state(serverId);
    if (state.phase === 'stopping' || state.phase === 'stopped') return this.snapshot();
    this.#refreshBusyFromJobs(state);
    if (state.isBusy && !options.force)
      throw new AppError(
        'invalid_input',
        `A job is still held, queued or running on ${profile.name}. Cancel it first, or stop the pod anyway.`,
        { details: { serverId, busy: true } },
      );
    await this.#requestStop(profile, state, 'user');
    return this.snapshot();
  }

  /** Keeps the pod running through this idle period: the countdown stops and auto-stop waits for the next one. */
  cancelAutoStop(serverId: string): PodsSnapshot {
    this.#runpod(serverId);
    const state = this.#state(serverId);
    state.autoStopAt = null;
    state.isAutoStopCancelled = true;
    state.autoStopHandledFor = state.idleSince;
    this.#emitChanged();
    return this.snapshot();
  }

  /** One look at every pod: RunPod status when due, cost, the queue, idle alerts and auto-stop. Safe to call at any time. */
  evaluate(): Promise<void> {
    const previous = this.#evaluating ?? Promise.resolve();
    const next = previous
      .then(() => this.#evaluateAll())
      .catch((error: unknown) => this.#deps.log.error('pod check failed', { error }));
    this.#evaluating = next;
    return next;
  }

  // ---- internals ----

  async #evaluateAll(): Promise<void> {
    if (!this.#started) return;
    const profiles = this.#profiles();
    const ids = new Set(profiles.map((profile) => profile.id));
    for (const id of this.#states.keys()) if (!ids.has(id)) this.#states.delete(id);
    for (const profile of profiles) {
      try {
        await this.#evaluateOne(profile, this.#state(profile.id));
      } catch (error) {
        this.#deps.log.warn('pod check failed', { serverId: profile.id, error });
      }
    }
    this.#emitChanged();
  }

  async #evaluateOne(profile: RunPodProfile, state: PodState): Promise<void> {
    const now = this.#now();
    this.#countCost(state, now);
    const isTransition = state.phase === 'starting' || state.phase === 'stopping';
    const period = isTransition ? (this.#deps.transitionPollMs ?? 5000) : (this.#deps.pollMs ?? 60_000);
    if (now - state.askedAt >= period) await this.#readPod(profile, state, now);
    this.#countCost(state, now); // a pod just seen running is counted from now on
    if (state.phase === 'starting') this.#followStart(profile, state, now);
    if (state.phase !== 'running') {
      state.idleSince = null;
      state.autoStopAt = null;
      return;
    }
    await this.#readBusy(state);
    if (state.isBusy) {
      state.idleSince = null;
      state.autoStopAt = null;
      state.isAutoStopCancelled = false;
      return;
    }
    if (!state.isQueueKnown && state.idleSince === null) return; // cannot tell it is idle yet
    state.idleSince ??= now;
    const idleMs = now - state.idleSince;
    if (
      profile.idleAlertMinutes > 0 &&
      idleMs >= profile.idleAlertMinutes * 60_000 &&
      state.alertedFor !== state.idleSince
    ) {
      state.alertedFor = state.idleSince;
      const minutes = Math.floor(idleMs / 60_000);
      this.#emitter.emit('alert', {
        serverId: profile.id,
        kind: 'idle',
        title: `${profile.name} is idle`,
        message: `${profile.name}: queue done ${minutes} min ago — pod still running${state.pod?.costPerHr != null ? ` at ${formatUsd(state.pod.costPerHr)}/h` : ''}.`,
      });
    }
    if (profile.autoStopMinutes <= 0 || state.autoStopHandledFor === state.idleSince) return;
    if (state.autoStopAt === null) {
      if (idleMs < profile.autoStopMinutes * 60_000) return;
      state.autoStopAt = now + (this.#deps.countdownMs ?? 60_000);
      this.#emitter.emit('alert', {
        serverId: profile.id,
        kind: 'auto-stop',
        title: `Stopping ${profile.name}`,
        message: `${profile.name} has been idle for ${Math.floor(idleMs / 60_000)} min: ComfyDesk stops the pod in ${Math.round((state.autoStopAt - now) / 1000)} s. Cancel in ComfyDesk to keep it running.`,
      });
      return;
    }
    if (now < state.autoStopAt) return;
    // The moment to stop: look once more, and only stop a pod whose queue was just seen empty.
    this.#refreshBusyFromJobs(state);
    if (!state.isBusy) await this.#readBusy(state);
    if (state.isBusy || !state.isQueueKnown) {
      state.autoStopAt = null;
      if (state.isBusy) state.idleSince = null;
      return;
    }
    state.autoStopHandledFor = state.idleSince;
    state.autoStopAt = null;
    try {
      await this.#requestStop(profile, state, 'auto');
    } catch (error) {
      this.#emitter.emit('alert', {
        serverId: profile.id,
        kind: 'auto-stop',
        title: `${profile.name} could not be stopped`,
        message: `${profile.name} is idle but RunPod did not stop it: ${isAppError(error) ? error.userMessage : 'unknown error'} It is still billing.`,
      });
    }
  }

  async #readPod(profile: RunPodProfile, state: PodState, now: number): Promise<void> {
    state.askedAt = now;
    try {
      const pod = await this.#deps.directory.pod(this.#deps.connections.secret(profile.id, 'apiKey'), profile.podId, {
        maxAgeMs: 1000,
      });
      state.pod = pod;
      state.error = undefined;
      state.checkedAt = now;
      const reach = this.#deps.directory.reach(profile, pod);
      state.route = describeRoute(reach);
      state.routeNote = reach.ok ? reach.note : undefined;
      const routeKey = reach.ok ? JSON.stringify(reach.route) : null;
      // A running pod that moved (restarted on another IP or port): reconnect to where it is now.
      if (routeKey && state.routeKey && routeKey !== state.routeKey && state.phase === 'running')
        await this.#deps.connections.reconnect(profile.id);
      if (routeKey) state.routeKey = routeKey;
      const observed = this.#phaseOf(pod);
      if (state.phase === 'stopping') {
        if (observed === 'stopped' || observed === 'terminated') this.#stopped(profile, state, observed);
      } else if (state.phase === 'starting') {
        if (observed === 'terminated') {
          state.phase = 'terminated';
          state.step = undefined;
        }
      } else {
        if (state.phase !== 'running' && observed === 'running') state.idleSince = null;
        state.phase = observed;
      }
    } catch (error) {
      state.error = isAppError(error) ? error.userMessage : 'RunPod could not be asked about the pod.';
      if (isAppError(error) && error.code === 'pod_not_found') state.phase = 'terminated';
    }
  }

  #followStart(profile: RunPodProfile, state: PodState, now: number): void {
    const pod = state.pod;
    const reach = pod ? this.#deps.directory.reach(profile, pod) : undefined;
    if (pod?.desiredStatus === 'RUNNING' && reach?.ok) {
      if (!state.hasReconnected) {
        state.hasReconnected = true;
        void this.#deps.connections.reconnect(profile.id); // resolves the new address; health shows the rest
      }
      if (this.#deps.connections.health(profile.id).state === 'online') {
        state.phase = 'running';
        state.step = undefined;
        state.startDeadline = null;
        state.idleSince = null;
        return;
      }
      state.step = 'Waiting for ComfyUI to answer…';
    } else {
      state.step = 'Waiting for the pod to start…';
    }
    if (state.startDeadline !== null && now > state.startDeadline) {
      state.phase = pod ? this.#phaseOf(pod) : 'unknown';
      state.step = undefined;
      state.startDeadline = null;
      state.error = `${profile.name} started, but ComfyUI did not answer within ${Math.round((this.#deps.startTimeoutMs ?? 900_000) / 60_000)} min. Check the pod's logs in RunPod; it is still billing.`;
    }
  }

  async #requestStop(profile: RunPodProfile, state: PodState, reason: 'user' | 'auto'): Promise<void> {
    const api = this.#deps.directory.api(this.#deps.connections.secret(profile.id, 'apiKey'));
    const before = state.phase;
    state.phase = 'stopping';
    state.step = 'Asking RunPod to stop the pod…';
    this.#emitChanged();
    try {
      await api.stopPod(profile.podId);
    } catch (error) {
      state.phase = before;
      state.step = undefined;
      state.error = isAppError(error) ? error.userMessage : 'RunPod could not stop the pod.';
      this.#emitChanged();
      throw error;
    }
    this.#deps.directory.forget(profile.podId);
    state.stopReason = reason;
    state.askedAt = 0;
    state.autoStopAt = null;
    state.step = 'Waiting for RunPod to stop the pod…';
    this.#emitChanged();
  }

  #stopped(profile: RunPodProfile, state: PodState, phase: 'stopped' | 'terminated'): void {
    const reason = state.stopReason;
    state.phase = phase;
    state.step = undefined;
    state.idleSince = null;
    state.stopReason = undefined;
    if (reason === 'auto')
      this.#emitter.emit('alert', {
        serverId: profile.id,
        kind: 'stopped',
        title: `${profile.name} stopped`,
        message: `ComfyDesk stopped ${profile.name} after ${profile.autoStopMinutes} idle min. This session it ran ${formatDuration(state.sessionRunningMs)} for ${formatUsd(state.sessionCostUsd)}.`,
      });
  }

  /** Adds what the pod cost since the last count, while it was running (or still stopping). */
  #countCost(state: PodState, now: number): void {
    const billing = state.phase === 'running' || state.phase === 'stopping';
    if (billing && state.countedAt !== undefined && state.pod?.costPerHr != null) {
      const elapsed = Math.max(0, now - state.countedAt);
      state.sessionRunningMs += elapsed;
      state.sessionCostUsd += (state.pod.costPerHr * elapsed) / 3_600_000;
    }
    state.countedAt = billing ? now : undefined;
  }

  /** Busy from ComfyDesk's own jobs (held ones only exist there) and from the server's queue (every client's). */
  async #readBusy(state: PodState): Promise<void> {
    this.#refreshBusyFromJobs(state);
    const client = this.#deps.connections.client(state.serverId);
    if (!client || this.#deps.connections.health(state.serverId).state !== 'online') {
      state.isQueueKnown = false;
      return;
    }
    try {
      const queue = await client.getQueue({ timeoutMs: 10_000 });
      state.isQueueKnown = true;
      if (queue.running.length + queue.pending.length > 0) state.isBusy = true;
    } catch (error) {
      state.isQueueKnown = false;
      this.#deps.log.debug('pod queue unreadable', { serverId: state.serverId, error });
    }
  }

  #refreshBusyFromJobs(state: PodState): void {
    state.isBusy = this.#deps.jobs
      .snapshot()
      .jobs.some((job) => job.serverId === state.serverId && BUSY.has(job.status));
  }

  #jobChanged(serverId: string): void {
    const state = this.#states.get(serverId);
    if (!state || state.phase !== 'running') return;
    const wasBusy = state.isBusy;
    this.#refreshBusyFromJobs(state);
    if (state.isBusy && !wasBusy) {
      state.idleSince = null;
      state.autoStopAt = null;
      state.isAutoStopCancelled = false;
      this.#emitChanged();
    }
  }

  #phaseOf(pod: Pod): PodPhase {
    return pod.desiredStatus === 'RUNNING' ? 'running' : pod.desiredStatus === 'EXITED' ? 'stopped' : 'terminated';
  }

  #profiles(): RunPodProfile[] {
    return this.#deps.connections
      .snapshot()
      .profiles.filter((profile): profile is RunPodProfile => profile.kind === 'runpod');
  }

  #runpod(serverId: string): RunPodProfile {
    const profile = this.#deps.connections.profile(serverId);
    if (!profile)
      throw new AppError('connection_not_found', 'That connection no longer exists.', { details: { serverId } });
    if (profile.kind !== 'runpod') throw new AppError('invalid_input', `${profile.name} is not a RunPod connection.`);
    return profile;
  }

  #state(serverId: string): PodState {
    let state = this.#states.get(serverId);
    if (!state) {
      state = {
        serverId,
        pod: undefined,
        phase: 'unknown',
        step: undefined,
        error: undefined,
        checkedAt: null,
        askedAt: 0,
        sessionCostUsd: 0,
        sessionRunningMs: 0,
        countedAt: undefined,
        isBusy: false,
        isQueueKnown: false,
        idleSince: null,
        alertedFor: null,
        autoStopHandledFor: null,
        isAutoStopCancelled: false,
        autoStopAt: null,
        startDeadline: null,
        hasReconnected: false,
        routeKey: null,
        route: null,
        routeNote: undefined,
        stopReason: undefined,
      };
      this.#states.set(serverId, state);
    }
    return state;
  }

  #status(profile: RunPodProfile, state: PodState): PodStatus {
    return {
      serverId: profile.id,
      name: profile.name,
      podId: profile.podId,
      podName: state.pod?.name ?? null,
      phase: state.phase,
      ...(state.step ? { step: state.step } : {}),
      costPerHr: state.pod?.costPerHr ?? null,
      gpuName: state.pod?.gpuName ?? null,
      gpuCount: state.pod?.gpuCount ?? null,
      sessionCostUsd: Math.round(state.sessionCostUsd * 10_000) / 10_000,
      sessionRunningMs: state.sessionRunningMs,
      isBusy: state.isBusy,
      idleSince: state.idleSince,
      idleAlertMinutes: profile.idleAlertMinutes,
      autoStopMinutes: profile.autoStopMinutes,
      autoStopAt: state.autoStopAt,
      isAutoStopCancelled: state.isAutoStopCancelled,
      route: state.route,
      ...(state.routeNote ? { routeNote: state.routeNote } : {}),
      ...(state.error ? { error: state.error } : {}),
      checkedAt: state.checkedAt,
    };
  }

  #emitChanged(): void {
    const snapshot = this.snapshot();
    const key = JSON.stringify(snapshot);
    if (key === this.#lastSnapshot) return;
    this.#lastSnapshot = key;
    this.#emitter.emit('changed', snapshot);
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}
