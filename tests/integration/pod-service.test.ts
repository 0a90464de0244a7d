import { afterEach, describe, expect, test } from 'vitest';
import { ConnectionProfile, type ConnectionsSnapshot, type HealthState } from '@shared/domain/connection';
import type { Job } from '@shared/domain/job';
import type { PodAlert, PodStatus } from '@shared/domain/pod';
import type { QueueItem, QueueSnapshot } from '../../src/main/core/comfy/comfy-client';
import type { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { PodDirectory } from '../../src/main/core/pods/pod-directory';
import { PodService, type PodConnections, type Ticker } from '../../src/main/core/pods/pod-service';
import { job } from '../support/jobs';
import { startRunPodStandIn, type RunPodStandIn, type StandInPod } from '../support/runpod-stand-in';

const KEY = 'rpa_TESTKEY';
const MINUTE = 60_000;

const POD: StandInPod = {
  id: 'pod4090abc',
  name: 'comfy-4090',
  desiredStatus: 'RUNNING',
  costPerHr: 0.79,
  gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, displayName: 'RTX 4090' },
  publicIp: '203.0.113.9',
  portMappings: {},
  ports: ['8188/http'],
  image: 'runpod/comfyui:latest',
  stopDelayMs: MINUTE, // takes a minute to stop
};

/** The connections as the pod monitor sees them: one RunPod profile, a server whose queue the test sets. */
class FakeConnections implements PodConnections {
  activeId: string | null = 'rp';
  online: string[] = ['rp'];
  state: HealthState = 'online';
  queue: QueueSnapshot | Error = { running: [], pending: [] };
  readonly reconnects: string[] = [];
  readonly profiles: ConnectionProfile[];

  constructor(overrides: Record<string, unknown> = {}) {
    this.profiles = [
      ConnectionProfile.parse({
        id: 'rp',
        name: 'RunPod 4090',
        kind: 'runpod',
        podId: POD.id,
        access: 'proxy',
        idleAlertMinutes: 10,
        autoStopMinutes: 15,
        ...overrides,
      }),
    ];
  }

  snapshot(): ConnectionsSnapshot {
    return {
      profiles: this.profiles,
      activeId: this.activeId,
      online: this.online,
      health: [],
      withSecrets: ['rp'],
      secretStorage: 'session-memory',
    };
  }
  profile(id: string) {
    return this.profiles.find((profile) => profile.id === id);
  }
  secret() {
    return KEY;
  }
  client() {
    if (this.state !== 'online') return undefined;
    return {
      getQueue: async () => {
        if (this.queue instanceof Error) throw this.queue;
        return this.queue;
      },
    };
  }
  health() {
    return { state: this.state };
  }
  async reconnect(id: string) {
    this.reconnects.push(id);
  }
  setOnline(id: string) {
    this.online.push(id);
  }
  on() {
    return () => undefined;
  }
}

class FakeJobs {
  jobs: Job[] = [];
  readonly #listeners = new Set<(job: Job) => void>();
  snapshot() {
    return { jobs: this.jobs, paused: false };
  }
  on(_name: 'updated', listener: (job: Job) => void) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(next: Job) {
    this.jobs = [...this.jobs.filter((item) => item.id !== next.id), next];
    for (const listener of this.#listeners) listener(next);
  }
}

const item = (promptId: string): QueueItem => ({ number: 1, promptId, prompt: {}, extraData: {} });

interface Harness {
  service: PodService;
  connections: FakeConnections;
  jobs: FakeJobs;
  standIn: RunPodStandIn;
  alerts: PodAlert[];
  /** Moves the clock on and lets the monitor look. */
  after(ms: number): Promise<PodStatus>;
  status(): PodStatus;
  stops(): number;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(options: { pod?: Partial<StandInPod>; profile?: Record<string, unknown> } = {}): Promise<Harness> {
  let clock = Date.parse('2026-12-01T09:00:00Z');
  const now = () => clock;
  const standIn = await startRunPodStandIn({ apiKey: KEY, pods: [{ ...POD, ...options.pod }], now });
  cleanup.push(() => standIn.stop());
  const connections = new FakeConnections(options.profile);
  const jobs = new FakeJobs();
  const ticker: Ticker = { every: () => () => undefined }; // the test decides when the monitor looks
  const service = new PodService({
    connections,
    directory: new PodDirectory({ log: silentLogger, apiUrl: standIn.url, now, wait: async () => undefined }),
    jobs,
    log: silentLogger,
    now,
    ticker,
    pollMs: MINUTE,
    transitionPollMs: 5000,
    countdownMs: MINUTE,
  });
  const alerts: PodAlert[] = [];
  service.on('alert', (alert) => alerts.push(alert));
  await service.start();
  cleanup.push(() => service.stop());
  await service.evaluate();
  const status = () => service.snapshot().pods[0]!;
  return {
    service,
    connections,
    jobs,
    standIn,
    alerts,
    status,
    async after(ms) {
      // Look every 5 s of the way, as the monitor's own timer would.
      for (let elapsed = 0; elapsed < ms;) {
        const step = Math.min(5000, ms - elapsed);
        clock += step;
        elapsed += step;
        await service.evaluate();
      }
      return status();
    },
    stops: () =>
      standIn.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/stop')).length,
  };
}

describe('a rented pod’s cost controls', () => {
  test('an idle pod gets one notification after 10 minutes, with what it costs per hour', async () => {
    const pods = await setup({ profile: { autoStopMinutes: 0 } });
    expect(pods.status()).toMatchObject({ phase: 'running', costPerHr: 0.79, gpuName: 'RTX 4090', isBusy: false });
    await pods.after(9 * MINUTE);
    expect(pods.alerts).toEqual([]);
    await pods.after(MINUTE);
    expect(pods.alerts).toEqual([
      {
        serverId: 'rp',
        kind: 'idle',
        title: 'RunPod 4090 is idle',
        message: 'RunPod 4090: queue done 10 min ago — pod still running at $0.79/h.',
      },
    ]);
    await pods.after(30 * MINUTE);
    expect(pods.alerts).toHaveLength(1);
    expect(pods.stops()).toBe(0);
  });

  test('auto-stop fires once after the idle time and a countdown, even though the pod takes a minute to stop', async () => {
    const pods = await setup();
    await pods.after(15 * MINUTE);
    const counting = pods.status();
    expect(counting.autoStopAt).toBe(counting.idleSince! + 15 * MINUTE + MINUTE);
    expect(pods.alerts.map((alert) => alert.kind)).toEqual(['idle', 'auto-stop']);
    expect(pods.stops()).toBe(0);
    const stopping = await pods.after(MINUTE);
    expect(pods.stops()).toBe(1);
    expect(stopping).toMatchObject({ phase: 'stopping', step: 'Waiting for RunPod to stop the pod…' });
    expect(await pods.after(30_000)).toMatchObject({ phase: 'stopping' });
    const stopped = await pods.after(35_000);
    expect(stopped).toMatchObject({ phase: 'stopped', autoStopAt: null, idleSince: null });
    expect(pods.stops()).toBe(1);
    expect(pods.alerts.at(-1)).toMatchObject({
      kind: 'stopped',
      message: expect.stringMatching(
        /^ComfyDesk stopped RunPod 4090 after 15 idle min\. This session it ran 17 min for \$0\.22\.$/,
      ),
    });
    // It billed until RunPod reported it stopped, a minute after the stop: 17 min at $0.79/h.
    expect(stopped.sessionRunningMs).toBe(17 * MINUTE);
    expect(stopped.sessionCostUsd).toBeCloseTo((0.79 * 17) / 60, 4);
    await pods.after(60 * MINUTE);
    expect(pods.stops()).toBe(1);
  });

  test('auto-stop never fires while a job is held for the pod', async () => {
    const pods = await setup();
    pods.jobs.set(job('held-1', { serverId: 'rp', status: 'held' }));
    const status = await pods.after(40 * MINUTE);
    expect(status).toMatchObject({ isBusy: true, idleSince: null, autoStopAt: null, phase: 'running' });
    expect(pods.stops()).toBe(0);
    expect(pods.alerts).toEqual([]);
  });

  test('auto-stop never fires while a job is queued on the pod', async () => {
    const pods = await setup();
    pods.jobs.set(job('queued-1', { serverId: 'rp', status: 'queued', promptId: 'p-queued' }));
    pods.connections.queue = { running: [], pending: [item('p-queued')] };
    const status = await pods.after(40 * MINUTE);
    expect(status).toMatchObject({ isBusy: true, autoStopAt: null });
    expect(pods.stops()).toBe(0);
  });

  test("auto-stop never fires while a job is running on the pod, even another client's", async () => {
    const pods = await setup();
    pods.connections.queue = { running: [item('someone-elses')], pending: [] };
    const status = await pods.after(40 * MINUTE);
    expect(status).toMatchObject({ isBusy: true, autoStopAt: null });
    expect(pods.stops()).toBe(0);
  });

  test('a job arriving during the countdown ends it, and the idle time starts again after the job', async () => {
    const pods = await setup();
    await pods.after(15 * MINUTE);
    expect(pods.status().autoStopAt).not.toBeNull();
    pods.jobs.set(job('late', { serverId: 'rp', status: 'held' }));
    expect(pods.status()).toMatchObject({ autoStopAt: null, idleSince: null, isBusy: true });
    await pods.after(MINUTE * 2);
    expect(pods.stops()).toBe(0);
    pods.jobs.set(job('late', { serverId: 'rp', status: 'succeeded' }));
    await pods.after(5000); // the first look after the job sees the pod idle again
    await pods.after(15 * MINUTE - 5000);
    expect(pods.status().autoStopAt).toBeNull();
    await pods.after(5000);
    expect(pods.status().autoStopAt).not.toBeNull();
  });

  test('a job that appears on the server right before the countdown ends keeps the pod running', async () => {
    const pods = await setup();
    await pods.after(15 * MINUTE + 55_000);
    pods.connections.queue = { running: [item('just-queued')], pending: [] };
    await pods.after(5000);
    expect(pods.stops()).toBe(0);
    expect(pods.status()).toMatchObject({ isBusy: true, autoStopAt: null });
  });

  test('cancelling the countdown keeps the pod running for this idle period; the next one may stop it', async () => {
    const pods = await setup();
    await pods.after(15 * MINUTE);
    expect(pods.service.cancelAutoStop('rp').pods[0]).toMatchObject({ autoStopAt: null, isAutoStopCancelled: true });
    await pods.after(60 * MINUTE);
    expect(pods.stops()).toBe(0);
    pods.connections.queue = { running: [item('next-job')], pending: [] };
    await pods.after(5000);
    pods.connections.queue = { running: [], pending: [] };
    await pods.after(16 * MINUTE + 5000);
    expect(pods.stops()).toBe(1);
  });

  test('a pod whose queue cannot be read is never auto-stopped (ComfyDesk cannot know it is idle)', async () => {
    const pods = await setup();
    pods.connections.queue = new Error('socket hang up');
    await pods.after(40 * MINUTE);
    expect(pods.stops()).toBe(0);
    pods.connections.state = 'offline';
    await pods.after(40 * MINUTE);
    expect(pods.stops()).toBe(0);
  });

  test('stopping by hand is refused while a job runs on the pod, unless the user confirms', async () => {
    const pods = await setup();
    pods.jobs.set(job('running', { serverId: 'rp', status: 'running' }));
    const error = (await pods.service.stopPod('rp').catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('invalid_input');
    expect(pods.stops()).toBe(0);
    expect((await pods.service.stopPod('rp', { force: true })).pods[0]!.phase).toBe('stopping');
    expect(pods.stops()).toBe(1);
  });

  test('starting a stopped pod follows it until ComfyUI answers, reconnecting once to its new address', async () => {
    const pods = await setup({ pod: { desiredStatus: 'EXITED', publicIp: null, startDelayMs: 2 * MINUTE } });
    pods.connections.state = 'offline';
    pods.connections.activeId = 'other';
    pods.connections.online = [];
    expect(pods.status().phase).toBe('stopped');
    const started = await pods.service.startPod('rp');
    expect(started.pods[0]).toMatchObject({ phase: 'starting', step: 'Waiting for the pod to start…' });
    expect(pods.connections.online).toEqual(['rp']);
    expect(pods.standIn.pod(POD.id).desiredStatus).toBe('RUNNING');
    // RunPod says RUNNING at once, but the proxy only works once the pod has started.
    expect(await pods.after(MINUTE)).toMatchObject({ phase: 'starting' });
    expect(await pods.after(MINUTE + 5000)).toMatchObject({
      phase: 'starting',
      step: 'Waiting for ComfyUI to answer…',
    });
    expect(pods.connections.reconnects).toEqual(['rp']);
    pods.connections.state = 'online';
    const running = await pods.after(5000);
    expect(running.phase).toBe('running');
    expect(running.step).toBeUndefined();
    expect(pods.connections.reconnects).toEqual(['rp']);
  });

  test('a wrong API key shows as the pod’s error instead of a status', async () => {
    const pods = await setup();
    pods.standIn.update(POD.id, { costPerHr: 0.79 });
    const service = new PodService({
      connections: Object.assign(new FakeConnections(), { secret: () => 'rpa_WRONG' }),
      directory: new PodDirectory({ log: silentLogger, apiUrl: pods.standIn.url }),
      jobs: new FakeJobs(),
      log: silentLogger,
      ticker: { every: () => () => undefined },
    });
    await service.start();
    cleanup.push(() => service.stop());
    await service.evaluate();
    expect(service.snapshot().pods[0]).toMatchObject({
      phase: 'unknown',
      error: expect.stringMatching(/RunPod refused the API key \(HTTP 401\)/),
    });
  });
});
