import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { ConnectionsSnapshot } from '@shared/domain/connection';
import type { Pod, PodStatus } from '@shared/domain/pod';
import ConnectionsHarness from './ConnectionsHarness.svelte';
import { fakeApi } from './fake-api';

const NOW = Date.parse('2026-12-01T10:00:00Z');

afterEach(() => cleanup());

const appInfo = {
  name: 'ComfyDesk',
  version: '0.0.0',
  mode: 'serve' as const,
  platform: 'linux',
  canOpenFolders: false,
  folders: { data: '/d', logs: '/d/logs', outputs: '/d/outputs', workflows: '/d/workflows' },
  notices: [],
};

function connections(): ConnectionsSnapshot {
  return {
    profiles: [
      {
        id: 'rp',
        name: 'RunPod 4090',
        kind: 'runpod',
        podId: 'pod4090abc',
        access: 'auto',
        auth: 'key',
        comfyPort: 8188,
        localPort: 0,
        idleAlertMinutes: 10,
        autoStopMinutes: 15,
      },
    ],
    activeId: 'rp',
    online: ['rp'],
    health: [
      {
        serverId: 'rp',
        state: 'online',
        latencyMs: 80,
        facts: {
          comfyuiVersion: '0.3.64',
          gpuName: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
          vramFreeBytes: null,
          vramTotalBytes: null,
          os: 'posix',
        },
        isSocketOpen: true,
        checkedAt: 1,
      },
    ],
    withSecrets: ['rp'],
    secretStorage: 'session-memory',
  };
}

function pod(overrides: Partial<PodStatus> = {}): PodStatus {
  return {
    serverId: 'rp',
    name: 'RunPod 4090',
    podId: 'pod4090abc',
    podName: 'comfy-4090',
    phase: 'running',
    costPerHr: 0.79,
    gpuName: 'RTX 4090',
    gpuCount: 1,
    sessionCostUsd: 0.2238,
    sessionRunningMs: 17 * 60_000,
    isBusy: false,
    idleSince: NOW - 12 * 60_000,
    idleAlertMinutes: 10,
    autoStopMinutes: 15,
    autoStopAt: null,
    isAutoStopCancelled: false,
    route: 'root@203.0.113.9 -p 10341 (full SSH)',
    checkedAt: NOW,
    ...overrides,
  };
}

const accountPods: Pod[] = [
  {
    id: 'pod4090abc',
    name: 'comfy-4090',
    desiredStatus: 'RUNNING',
    costPerHr: 0.79,
    gpuName: 'RTX 4090',
    gpuCount: 1,
    publicIp: '203.0.113.9',
    portMappings: { '22': 10341 },
    ports: ['8188/http', '22/tcp'],
    image: 'runpod/comfyui:latest',
    lastStatusChange: null,
  },
  {
    id: 'podproxyonly',
    name: 'proxy-only',
    desiredStatus: 'RUNNING',
    costPerHr: 0.44,
    gpuName: 'A40',
    gpuCount: 2,
    publicIp: null,
    portMappings: {},
    ports: ['8188/http'],
    image: 'runpod/comfyui:latest',
    lastStatusChange: null,
  },
];

describe('RunPod connections in Settings', () => {
  test("the form lists the account's pods; picking one fills in the connection and says how it will be reached", async () => {
    const saved: unknown[] = [];
    const listed: unknown[] = [];
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': () => ({ ...connections(), profiles: [], health: [], withSecrets: [], activeId: null }),
      'pods.status': () => ({ pods: [] }),
      'pods.list': (input) => {
        listed.push(input);
        return { pods: accountPods };
      },
      'connections.save': (input) => {
        saved.push(input);
        return connections();
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings', withPods: true, now: () => NOW });
    await fireEvent.click(await screen.findByRole('button', { name: 'Add connection' }));
    const dialog = screen.getByRole('dialog', { name: 'Add a connection' });
    await fireEvent.click(within(dialog).getByRole('radio', { name: 'RunPod pod' }));
    const find = within(dialog).getByRole('button', { name: 'Find my pods' });
    expect((find as HTMLButtonElement).disabled).toBe(true); // no key yet
    await fireEvent.input(within(dialog).getByLabelText('RunPod API key'), { target: { value: 'rpa_SECRET' } });
    await fireEvent.click(find);
    const choices = await within(dialog).findByRole('group', { name: 'Pick a pod' });
    expect(listed).toEqual([{ apiKey: 'rpa_SECRET' }]);
    expect(choices.textContent).toContain('Running · RTX 4090 · $0.79/h');
    expect(choices.textContent).toContain('full SSH: root@203.0.113.9 -p 10341');
    expect(choices.textContent).toContain('HTTPS proxy: https://podproxyonly-8188.proxy.runpod.net');
    await fireEvent.click(within(choices).getByRole('radio', { name: /proxy-only/ }));
    expect((within(dialog).getByRole('textbox', { name: 'Pod id' }) as HTMLInputElement).value).toBe('podproxyonly');
    expect((within(dialog).getByRole('textbox', { name: 'Name' }) as HTMLInputElement).value).toBe('RunPod A40');
    expect(dialog.textContent).toMatch(/RunPod's basic SSH \(…@ssh\.runpod\.io\) is proxied and cannot forward ports/);
    await fireEvent.input(within(dialog).getByLabelText('Stop the pod after it has been idle for (minutes)'), {
      target: { value: '20' },
    });
    await fireEvent.change(within(dialog).getByLabelText('Reach ComfyUI through'), { target: { value: 'proxy' } });
    expect(within(dialog).queryByLabelText('Private key file')).toBeNull(); // the proxy needs no SSH key
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]).toEqual({
      profile: {
        kind: 'runpod',
        name: 'RunPod A40',
        podId: 'podproxyonly',
        access: 'proxy',
        auth: 'key',
        comfyPort: 8188,
        localPort: 0,
        idleAlertMinutes: 10,
        autoStopMinutes: 20,
      },
      secrets: { apiKey: 'rpa_SECRET' },
    });
  });

  test("a RunPod connection shows its pod's status, price and cost this session; Stop asks again while a job is on it", async () => {
    const stops: unknown[] = [];
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': connections,
      'pods.status': () => ({ pods: [pod()] }),
      'pods.stop': (input) => {
        stops.push(input);
        if (!(input as { force: boolean }).force)
          throw { code: 'invalid_input', userMessage: 'A job is still held…', details: { serverId: 'rp', busy: true } };
        return { pods: [pod({ phase: 'stopping', step: 'Waiting for RunPod to stop the pod…' })] };
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings', withPods: true, now: () => NOW });
    const status = await screen.findByRole('status', { name: 'RunPod 4090 pod status' });
    await waitFor(() => expect(status.textContent).toContain('Pod running'));
    expect(status.textContent).toContain('RTX 4090 · $0.79/h');
    expect(status.textContent).toContain('$0.22 this session (17 min)');
    const panel = screen.getByRole('group', { name: 'Pod of RunPod 4090' });
    expect(panel.textContent).toContain('via root@203.0.113.9 -p 10341 (full SSH)');
    expect(panel.textContent).toContain('Queue empty for 12 min · stops after 15 idle min');
    await fireEvent.click(screen.getByRole('button', { name: 'Stop the pod of RunPod 4090' }));
    const confirm = await within(panel).findByRole('alert');
    expect(confirm.textContent).toContain('A job is still waiting or running on this pod.');
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Stop anyway' }));
    await waitFor(() => expect(panel.textContent).toContain('Waiting for RunPod to stop the pod…'));
    expect(stops).toEqual([
      { serverId: 'rp', force: false },
      { serverId: 'rp', force: true },
    ]);
  });

  test('a stopped pod offers Start', async () => {
    const starts: unknown[] = [];
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': connections,
      'pods.status': () => ({ pods: [pod({ phase: 'stopped', idleSince: null, route: null })] }),
      'pods.start': (input) => {
        starts.push(input);
        return { pods: [pod({ phase: 'starting', step: 'Waiting for the pod to start…', idleSince: null })] };
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings', withPods: true, now: () => NOW });
    await fireEvent.click(await screen.findByRole('button', { name: 'Start the pod of RunPod 4090' }));
    await waitFor(() =>
      expect(screen.getByRole('group', { name: 'Pod of RunPod 4090' }).textContent).toContain(
        'Waiting for the pod to start…',
      ),
    );
    expect(starts).toEqual([{ serverId: 'rp' }]);
  });

  test('Save snapshot shows its progress and, at the end, where the file is and what it holds', async () => {
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': connections,
      'pods.status': () => ({ pods: [pod()] }),
      'snapshots.save': () => ({ snapshotId: 's1', path: '/d/snapshots/RunPod 4090-2026-12-01-10-00.json' }),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings', withPods: true, now: () => NOW });
    await fireEvent.click(await screen.findByRole('button', { name: 'Save snapshot of RunPod 4090' }));
    const progress = await screen.findByRole('status', { name: 'Snapshot of RunPod 4090' });
    fake.emit('snapshots.progress', {
      snapshotId: 's1',
      serverId: 'rp',
      phase: 'hashing',
      done: 1,
      total: 3,
      item: 'checkpoints/sdxl.safetensors',
    });
    await waitFor(() => expect(progress.textContent).toContain('Hashing model 2 of 3: checkpoints/sdxl.safetensors'));
    expect(screen.getByRole('progressbar', { name: 'Snapshot of RunPod 4090' }).getAttribute('aria-valuenow')).toBe(
      '33',
    );
    fake.emit('snapshots.finished', {
      snapshotId: 's1',
      serverId: 'rp',
      ok: true,
      path: '/d/snapshots/RunPod 4090-2026-12-01-10-00.json',
      summary: {
        packs: 2,
        models: 3,
        hashed: 3,
        modelsWithoutSource: ['loras/mine.safetensors'],
        packsWithoutRepository: [],
      },
    });
    const done = (await screen.findByText(/^Saved to/)).textContent.replace(/\s+/g, ' ');
    expect(done).toContain('/d/snapshots/RunPod 4090-2026-12-01-10-00.json');
    expect(done).toContain('2 custom node packs, 3 models (3 with SHA-256)');
    expect(done).toContain('No download address known for 1: loras/mine.safetensors');
  });

  test('Restore snapshot asks for the file, shows each pack and model on its way, then what the check found', async () => {
    const restores: unknown[] = [];
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': connections,
      'pods.status': () => ({ pods: [pod()] }),
      'snapshots.restore': (input) => {
        restores.push(input);
        return { restoreId: 'r1' };
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings', withPods: true, now: () => NOW });
    await fireEvent.click(await screen.findByRole('button', { name: 'Restore snapshot… onto RunPod 4090' }));
    await fireEvent.input(screen.getByLabelText(/Snapshot file/), { target: { value: '/d/snapshots/pod.json' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Restore' }));
    await waitFor(() => expect(restores).toEqual([{ serverId: 'rp', path: '/d/snapshots/pod.json' }]));
    const model = (state: 'running' | 'done', receivedBytes: number) => ({
      kind: 'model' as const,
      name: 'checkpoints/sdxl.safetensors',
      state,
      receivedBytes,
      totalBytes: 4_000_000,
      note: null,
    });
    const pack = {
      kind: 'pack' as const,
      name: 'ComfyUI-KJNodes',
      state: 'restart' as const,
      receivedBytes: 0,
      totalBytes: null,
      note: null,
    };
    fake.emit('snapshots.restoreProgress', {
      restoreId: 'r1',
      serverId: 'rp',
      items: [pack, model('running', 1_000_000)],
    });
    const progress = await screen.findByRole('status', { name: 'Restore onto RunPod 4090' });
    await waitFor(() => expect(progress.textContent).toContain('checkpoints/sdxl.safetensors'));
    expect(progress.textContent).toContain('loads after ComfyUI restarts');
    expect(
      screen.getByRole('progressbar', { name: 'checkpoints/sdxl.safetensors' }).getAttribute('aria-valuenow'),
    ).toBe('25');
    fake.emit('snapshots.restoreFinished', {
      restoreId: 'r1',
      serverId: 'rp',
      ok: true,
      report: {
        items: [pack, model('done', 4_000_000)],
        missingNodeTypes: ['ImageResizeKJ'],
        missingModels: [],
        withoutSource: ['loras/mine.safetensors'],
        needsRestart: true,
        complete: false,
      },
    });
    const result = (await screen.findByText(/still lacks/)).textContent.replace(/\s+/g, ' ');
    expect(result).toContain('RunPod 4090 still lacks 1 node type and 0 models.');
    expect(result).toContain('No source in the snapshot for loras/mine.safetensors');
    expect(result).toContain('Restart ComfyUI on the server');
  });
});

describe('pod alerts and the auto-stop countdown', () => {
  test('the sidebar shows the countdown and Keep running cancels it; alerts become toasts', async () => {
    const cancels: unknown[] = [];
    const fake = fakeApi({
      'app.info': () => appInfo,
      'connections.list': connections,
      'pods.status': () => ({ pods: [pod({ autoStopAt: NOW + 42_000 })] }),
      'pods.cancelAutoStop': (input) => {
        cancels.push(input);
        return { pods: [pod({ isAutoStopCancelled: true })] };
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'sidebar', withPods: true, now: () => NOW });
    const status = await screen.findByRole('status', { name: 'Connection status' });
    await waitFor(() => expect(status.textContent).toContain('Idle: stops in 42 s'));
    expect(status.textContent).toContain('Pod running · RTX 4090 · $0.79/h · $0.22 so far');
    await fireEvent.click(within(status).getByRole('button', { name: 'Keep running' }));
    await waitFor(() => expect(status.textContent).not.toContain('stops in'));
    expect(cancels).toEqual([{ serverId: 'rp' }]);

    fake.emit('pods.alert', {
      serverId: 'rp',
      kind: 'idle',
      title: 'RunPod 4090 is idle',
      message: 'RunPod 4090: queue done 10 min ago — pod still running at $0.79/h.',
    });
    const toasts = screen.getByRole('region', { name: 'Notifications' });
    await waitFor(() => expect(toasts.textContent).toContain('queue done 10 min ago — pod still running at $0.79/h'));
    fake.emit('pods.alert', {
      serverId: 'rp',
      kind: 'auto-stop',
      title: 'Stopping RunPod 4090',
      message: 'stops in 60 s',
    });
    const keep = await within(toasts).findByRole('button', { name: 'Keep running' });
    await fireEvent.click(keep);
    await waitFor(() => expect(cancels).toHaveLength(2));
  });
});
