import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { PodAlert } from '@shared/domain/pod';
import { MemorySecretStore, secretKey } from '../../src/main/core/connections/secret-store';
import type { Core } from '../../src/main/core/create-core';
import type { Ticker } from '../../src/main/core/pods/pod-service';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { TestFileServer } from '../support/file-server';
import { startRunPodStandIn, type RunPodStandIn, type StandInPod } from '../support/runpod-stand-in';
import { SSHD_PATH, startSshd } from '../support/sshd';
import { loaderNode, transferIn, workflowOf } from '../support/transfers';

const KEY = 'rpa_CORETEST';
const MINUTE = 60_000;

const slowPrompt = (steps: number) => ({
  1: { class_type: 'EmptyImage', inputs: { width: 32, height: 24, batch_size: 1, color: 0x336699 } },
  2: { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps, step_ms: 30, preview: false } },
  3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'pod_test' } },
});

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Harness {
  core: Core;
  comfy: ComfyTestServer;
  standIn: RunPodStandIn;
  alerts: PodAlert[];
  /** Moves the pod monitor's clock on, looking every 5 s. */
  after(ms: number): Promise<void>;
  stops(): number;
}

async function setup(
  options: {
    pod?: (comfy: ComfyTestServer) => Partial<StandInPod>;
    profile?: (comfy: ComfyTestServer) => Record<string, unknown>;
    /** More workflow files: name → contents. */
    workflows?: Record<string, unknown>;
  } = {},
): Promise<Harness> {
  const comfy = await startComfyServer();
  cleanup.push(() => comfy.stop());
  let clock = Date.now();
  const now = () => clock;
  const standIn = await startRunPodStandIn({
    apiKey: KEY,
    now,
    pods: [
      {
        id: 'podcore1',
        name: 'comfy-l40s',
        desiredStatus: 'RUNNING',
        costPerHr: 0.99,
        gpu: { id: 'NVIDIA L40S', count: 1, displayName: 'L40S' },
        publicIp: '203.0.113.20',
        portMappings: {},
        ports: ['8188/http'],
        image: 'runpod/comfyui:latest',
        ...options.pod?.(comfy),
      },
    ],
    // A stopped pod's ComfyUI is gone; a started one comes back.
    onStopped: () => comfy.crash(),
    onStarted: () => comfy.start(),
  });
  cleanup.push(() => standIn.stop());
  const data = tempDir('comfydesk-pods-');
  cleanup.push(() => data.remove());
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(join(data.path, 'workflows', 'slow.json'), JSON.stringify(slowPrompt(30)));
  for (const [name, workflow] of Object.entries(options.workflows ?? {}))
    writeFileSync(join(data.path, 'workflows', name), JSON.stringify(workflow));
  const secrets = new MemorySecretStore();
  secrets.set(secretKey('rp', 'apiKey'), KEY);
  const ticker: Ticker = { every: () => () => undefined };
  const started = await startTestCore({
    dataDir: data.path,
    settings: {
      connections: {
        profiles: [
          {
            id: 'rp',
            kind: 'runpod',
            name: 'RunPod L40S',
            podId: 'podcore1',
            idleAlertMinutes: 10,
            autoStopMinutes: 15,
            ...options.profile?.(comfy),
          },
        ],
        activeId: 'rp',
        alsoOnline: [],
      },
    },
    core: {
      secretStore: secrets,
      connections: { healthIntervalMs: 300, checkTimeoutMs: 1500, backoff: { initialDelayMs: 50, maxDelayMs: 300 } },
      jobs: { busyPollMs: 100, idlePollMs: 300, historyWaitMs: 2000 },
      pods: {
        apiUrl: standIn.url,
        proxyUrl: () => comfy.url,
        now,
        ticker,
        pollMs: MINUTE,
        transitionPollMs: 5000,
        countdownMs: MINUTE,
        wait: async () => undefined,
      },
    },
  });
  cleanup.push(() => started.stop());
  const { core } = started;
  const alerts: PodAlert[] = [];
  core.events.on('pods.alert', (alert) => alerts.push(alert));
  return {
    core,
    comfy,
    standIn,
    alerts,
    async after(ms) {
      for (let elapsed = 0; elapsed < ms;) {
        const step = Math.min(5000, ms - elapsed);
        clock += step;
        elapsed += step;
        await core.pods.evaluate();
      }
    },
    stops: () =>
      standIn.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/stop')).length,
  };
}

describe('RunPod connections in the core', () => {
  test("a pod without SSH is reached through RunPod's HTTPS proxy, and its status and $/h are in the pods snapshot", async () => {
    const pods = await setup();
    await waitFor(() => pods.core.connections.health('rp').state === 'online', { timeoutMs: 8000 });
    expect(pods.core.connections.target('rp')).toEqual({
      id: 'rp',
      name: 'RunPod L40S',
      kind: 'url',
      url: pods.comfy.url,
    });
    await pods.core.pods.evaluate();
    const { pods: statuses } = await pods.core.router.call('pods.status', {});
    expect(statuses).toEqual([
      expect.objectContaining({
        serverId: 'rp',
        podId: 'podcore1',
        podName: 'comfy-l40s',
        phase: 'running',
        costPerHr: 0.99,
        gpuName: 'L40S',
        route: `${pods.comfy.url} (HTTPS proxy)`,
        routeNote: expect.stringMatching(/SSH is not exposed on this pod\. RunPod's basic SSH .* cannot forward ports/),
      }),
    ]);
    const listed = await pods.core.router.call('pods.list', { serverId: 'rp' });
    expect(listed.pods.map((pod) => pod.id)).toEqual(['podcore1']);
  });

  test('Get missing on a pod goes by the route RunPod gave: through the proxy to a ComfyUI on this machine, the file lands in its folder', async () => {
    const content = randomBytes(64 * 1024 + 5);
    const files = new TestFileServer().serve('/m/pod.safetensors', content);
    await files.start();
    cleanup.push(() => files.stop());
    const url = files.url('/m/pod.safetensors');
    const pods = await setup({
      workflows: {
        'pod-portrait.json': workflowOf('Pod portrait', [
          loaderNode(1, 'CheckpointLoaderSimple', 'pod.safetensors', { url, directory: 'checkpoints' }),
        ]),
      },
    });
    await waitFor(() => pods.core.connections.health('rp').state === 'online', { timeoutMs: 8000 });
    const record = await waitFor(() => pods.core.library.records().find((item) => item.name === 'Pod portrait'));
    const report = await pods.core.router.call('transfers.missing', { workflowId: record.id, serverId: 'rp' });
    expect(report).toMatchObject({ serverId: 'rp', connectionKind: 'runpod', method: 'local' });
    expect(report.models).toEqual([expect.objectContaining({ name: 'pod.safetensors', url })]);
    const { ids } = await pods.core.router.call('transfers.start', {
      serverId: 'rp',
      workflowId: record.id,
      models: [{ name: 'pod.safetensors', folder: 'checkpoints', url }],
    });
    expect(await transferIn(pods.core, ids[0]!, ['done', 'failed'])).toMatchObject({ state: 'done', error: null });
    const landed = join(pods.comfy.folderPaths().checkpoints![0]!, 'pod.safetensors');
    expect(readFileSync(landed).equals(content)).toBe(true);
  });

  test('auto-stop waits for a job running on the pod and stops the pod once it has been idle long enough', async () => {
    const pods = await setup();
    await waitFor(() => pods.core.connections.client('rp')?.isSocketOpen, { timeoutMs: 8000 });
    await waitFor(() => pods.core.library.records().length === 1);
    pods.comfy.setTiming({ stepMs: 100 });
    const { jobIds } = await pods.core.router.call('jobs.enqueue', {
      workflowId: pods.core.library.records()[0]!.id,
    });
    await waitFor(() => pods.core.jobs.get(jobIds[0]!)?.status === 'running');
    await pods.after(20 * MINUTE);
    expect(pods.stops()).toBe(0);
    expect(pods.core.pods.snapshot().pods[0]).toMatchObject({ isBusy: true, autoStopAt: null });
    await waitFor(() => pods.core.jobs.get(jobIds[0]!)?.status === 'succeeded', { timeoutMs: 10_000 });
    await pods.after(15 * MINUTE + 5000);
    expect(pods.alerts.map((alert) => alert.kind)).toEqual(['idle', 'auto-stop']);
    expect(pods.stops()).toBe(0);
    await pods.after(MINUTE);
    expect(pods.stops()).toBe(1);
    await pods.after(10_000);
    expect(pods.core.pods.snapshot().pods[0]!.phase).toBe('stopped');
    expect(pods.alerts.at(-1)).toMatchObject({ kind: 'stopped' });
  });

  test('a stopped pod says so on its connection, and starting it from the app waits until ComfyUI answers', async () => {
    const pods = await setup();
    await waitFor(() => pods.core.connections.health('rp').state === 'online', { timeoutMs: 8000 });
    await pods.core.pods.evaluate();
    const stopping = await pods.core.router.call('pods.stop', { serverId: 'rp' });
    expect(stopping.pods[0]!.phase).toBe('stopping');
    await pods.after(5000);
    expect(pods.core.pods.snapshot().pods[0]!.phase).toBe('stopped');
    const health = await waitFor(() => {
      const current = pods.core.connections.health('rp');
      return current.code === 'pod_stopped' ? current : undefined;
    });
    expect(health).toMatchObject({ state: 'offline', reason: 'The pod comfy-l40s is stopped. Start it to connect.' });

    const starting = await pods.core.router.call('pods.start', { serverId: 'rp' });
    expect(starting.pods[0]).toMatchObject({ phase: 'starting' });
    await waitFor(
      async () => {
        await pods.after(5000);
        return pods.core.pods.snapshot().pods[0]!.phase === 'running';
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(pods.core.connections.health('rp').state).toBe('online');
    expect(pods.standIn.requests.filter((request) => request.path.endsWith('/start'))).toHaveLength(1);
  });
});

describe.skipIf(!SSHD_PATH)('a RunPod connection over full SSH', () => {
  test('a pod exposing TCP port 22 is reached as root@IP -p MAPPED, forwarding to ComfyUI inside the pod', async () => {
    const sshd = await startSshd();
    cleanup.push(() => sshd.stop());
    const pods = await setup({
      pod: () => ({ publicIp: '127.0.0.1', portMappings: { '22': sshd.port }, ports: ['22/tcp'] }),
      profile: (comfy) => ({
        auth: 'key',
        keyPath: sshd.clientKeyPath,
        pinnedHostKey: sshd.hostKeyFingerprint(),
        comfyPort: Number(new URL(comfy.url).port),
      }),
    });
    await waitFor(() => pods.core.connections.target('rp')?.kind === 'ssh', { timeoutMs: 8000 });
    expect(pods.core.connections.target('rp')).toMatchObject({
      kind: 'ssh',
      host: '127.0.0.1',
      port: sshd.port,
      username: 'root',
      remoteHost: '127.0.0.1',
      remotePort: Number(new URL(pods.comfy.url).port),
    });
    // RunPod's user is root; the test sshd signs in only the user running the tests.
    if (sshd.user !== 'root') return;
    await waitFor(() => pods.core.connections.health('rp').state === 'online', { timeoutMs: 8000 });
    const health = pods.core.connections.health('rp');
    expect(health.localUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(health.localUrl).not.toBe(pods.comfy.url);
    await pods.core.pods.evaluate();
    expect(pods.core.pods.snapshot().pods[0]!.route).toBe(`root@127.0.0.1 -p ${sshd.port} (full SSH)`);
  });
});
