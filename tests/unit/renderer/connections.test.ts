import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { ConnectionHealth, ConnectionsSnapshot } from '../../../src/shared/domain/connection';
import ConnectionsHarness from './ConnectionsHarness.svelte';
import { fakeApi } from './fake-api';

/** What app.info answers in serve mode or in the desktop app. */
function appInfo(mode: 'serve' | 'desktop') {
  return {
    name: 'ComfyDesk',
    version: '1',
    mode,
    platform: 'linux',
    canOpenFolders: mode === 'desktop',
    folders: { data: '/d', logs: '/d/logs', outputs: '/d/outputs', workflows: '/d/workflows' },
    notices: [],
  };
}

afterEach(() => cleanup());

const FINGERPRINT = `SHA256:${'Q'.repeat(43)}`;

function snapshot(health: ConnectionHealth[] = []): ConnectionsSnapshot {
  return {
    profiles: [
      { id: 'local', name: 'This computer', kind: 'local', url: 'http://127.0.0.1:8188' },
      {
        id: 'pod',
        name: 'RunPod A100',
        kind: 'ssh',
        host: 'pod.example',
        port: 22,
        username: 'root',
        auth: 'key',
        keyPath: '/home/me/.ssh/id_ed25519',
        remoteHost: '127.0.0.1',
        remotePort: 8188,
        localPort: 0,
      },
    ],
    activeId: 'pod',
    online: ['pod'],
    health,
    withSecrets: [],
    secretStorage: 'session-memory',
  };
}

const online: ConnectionHealth = {
  serverId: 'pod',
  state: 'online',
  latencyMs: 42,
  facts: {
    comfyuiVersion: '0.3.64',
    gpuName: 'cuda:0 NVIDIA A100-SXM4-80GB : cudaMallocAsync',
    vramFreeBytes: 79e9,
    vramTotalBytes: 85e9,
    os: 'posix',
  },
  isSocketOpen: true,
  checkedAt: 1,
};
const unknownKey: ConnectionHealth = {
  serverId: 'pod',
  state: 'error',
  code: 'ssh_host_key_unknown',
  reason: 'pod.example:22 is not a known host.',
  hostKey: { kind: 'unknown', host: 'pod.example', port: 22, fingerprint: FINGERPRINT, keyType: 'ssh-ed25519' },
  isSocketOpen: false,
  checkedAt: 1,
};

describe('the connection status in the sidebar', () => {
  test("shows the default server's name, state, version and latency, and follows health events", async () => {
    const fake = fakeApi({
      'connections.list': () =>
        snapshot([
          {
            serverId: 'pod',
            state: 'connecting',
            step: 'Opening the SSH tunnel to root@pod.example:22…',
            isSocketOpen: false,
            checkedAt: 1,
          },
        ]),
      'app.info': () => appInfo('serve'),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'sidebar' });
    const status = await screen.findByRole('status', { name: 'Connection status' });
    await waitFor(() => expect(status.textContent).toContain('RunPod A100: connecting'));
    expect(status.textContent).toContain('Opening the SSH tunnel to root@pod.example:22…');
    fake.emit('connections.health', online);
    await waitFor(() => expect(status.textContent).toContain('RunPod A100: online'));
    expect(status.textContent).toContain('ComfyUI 0.3.64 · 42 ms');
    fake.emit('connections.health', {
      serverId: 'pod',
      state: 'offline',
      reason: 'The SSH tunnel to pod.example dropped. Trying again in 2 s…',
      isSocketOpen: false,
      checkedAt: 2,
    });
    await waitFor(() => expect(status.textContent).toContain('The SSH tunnel to pod.example dropped.'));
  });
});

describe('Settings › Connections', () => {
  test('lists each connection with its state and facts, in words', async () => {
    const fake = fakeApi({ 'connections.list': () => snapshot([online]), 'app.info': () => appInfo('serve') });
    render(ConnectionsHarness, { api: fake.api, show: 'settings' });
    const pod = await screen.findByRole('listitem', { name: 'RunPod A100' });
    expect(within(pod).getByRole('status', { name: 'RunPod A100 status' }).textContent).toContain('Online');
    expect(pod.textContent).toContain('root@pod.example → 127.0.0.1:8188');
    expect(pod.textContent).toContain('ComfyUI 0.3.64 · 42 ms · NVIDIA A100-SXM4-80GB · 79.0 GB of 85.0 GB free');
    expect(screen.getByText(/kept in memory for this session only/)).toBeTruthy();
  });

  test('connections not kept online are looked at once: a healthy one reads Reachable, a dead port says whether ComfyUI runs, SSH is not opened', async () => {
    const spare = { id: 'spare', name: 'Spare', kind: 'url' as const, url: 'http://127.0.0.1:8241' };
    const dead = { id: 'dead', name: 'Dead port', kind: 'url' as const, url: 'http://127.0.0.1:8249' };
    const idle = (serverId: string): ConnectionHealth => ({
      serverId,
      state: 'offline',
      reason: 'Not connected.',
      isSocketOpen: false,
      checkedAt: 1,
    });
    const tested: string[] = [];
    const fake = fakeApi({
      'connections.list': () => ({
        ...snapshot([online, idle('local'), idle('spare'), idle('dead')]),
        profiles: [...snapshot().profiles, spare, dead],
      }),
      'app.info': () => appInfo('serve'),
      'connections.test': (input) => {
        const { id } = input as { id: string };
        tested.push(id);
        return id === 'dead'
          ? {
              serverId: 'dead',
              state: 'offline',
              code: 'comfy_unreachable',
              reason: 'Connection refused on 127.0.0.1:8249 — is ComfyUI running?',
              isSocketOpen: false,
              checkedAt: 2,
            }
          : { ...online, serverId: id, isSocketOpen: false };
      },
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings' });
    const status = (name: string) =>
      within(screen.getByRole('listitem', { name })).getByRole('status', { name: `${name} status` });
    await waitFor(() => expect(status('Spare').textContent).toContain('Reachable'));
    expect(status('This computer').textContent).toContain('Reachable');
    expect(status('Dead port').textContent).toContain('Offline');
    expect(screen.getByRole('listitem', { name: 'Dead port' }).textContent).toContain(
      'Connection refused on 127.0.0.1:8249 — is ComfyUI running?',
    );
    expect(status('RunPod A100').textContent).toContain('Online');
    expect(tested.sort()).toEqual(['dead', 'local', 'spare']);
  });

  test('an unknown host key is reviewed in a dialog showing its fingerprint; trusting it sends exactly that fingerprint', async () => {
    let trusted: unknown;
    const fake = fakeApi({
      'connections.list': () => snapshot([unknownKey]),
      'connections.trustHostKey': (input) => {
        trusted = input;
        return snapshot([
          { serverId: 'pod', state: 'connecting', step: 'Opening the SSH tunnel…', isSocketOpen: false, checkedAt: 2 },
        ]);
      },
      'app.info': () => appInfo('serve'),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings' });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review host key…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Trust pod.example?' });
    expect(within(dialog).getByLabelText('Fingerprint').textContent).toBe(FINGERPRINT);
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Trust and connect' }));
    await waitFor(() => expect(trusted).toEqual({ id: 'pod', fingerprint: FINGERPRINT }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  test('a changed host key is shown as a refusal with both fingerprints and no way to trust it', async () => {
    const changed: ConnectionHealth = {
      ...unknownKey,
      code: 'ssh_host_key_changed',
      hostKey: {
        kind: 'changed',
        host: 'pod.example',
        port: 2222,
        fingerprint: FINGERPRINT,
        expectedFingerprint: `SHA256:${'Z'.repeat(43)}`,
        keyType: 'ssh-ed25519',
      },
    };
    const fake = fakeApi({ 'connections.list': () => snapshot([changed]), 'app.info': () => appInfo('serve') });
    render(ConnectionsHarness, { api: fake.api, show: 'settings' });
    await fireEvent.click(await screen.findByRole('button', { name: 'Review host key…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Host key changed for pod.example:2222' });
    expect(dialog.textContent).toContain(`SHA256:${'Z'.repeat(43)}`);
    expect(dialog.textContent).toContain('ssh-keygen -R "[pod.example]:2222"');
    expect(within(dialog).queryByRole('button', { name: 'Trust and connect' })).toBeNull();
  });

  test('adding an SSH connection sends the profile and its passphrase as a secret; field errors come back beside the fields', async () => {
    const saved: unknown[] = [];
    const fake = fakeApi({
      'connections.list': () => snapshot([online]),
      'connections.save': (input) => {
        saved.push(input);
        const host = (input as { profile: { host: string } }).profile.host;
        if (host === '')
          throw {
            code: 'invalid_input',
            userMessage: 'The request had invalid values.',
            details: { issues: [{ path: 'profile.host', message: 'Enter the SSH host.' }] },
          };
        return snapshot([online]);
      },
      'app.info': () => appInfo('desktop'),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'settings' });
    await fireEvent.click(await screen.findByRole('button', { name: 'Add connection' }));
    const dialog = screen.getByRole('dialog', { name: 'Add a connection' });
    await fireEvent.click(within(dialog).getByRole('radio', { name: 'SSH tunnel' }));
    await fireEvent.input(within(dialog).getByRole('textbox', { name: 'Name' }), { target: { value: 'Pod 2' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(within(dialog).getByText('Enter the SSH host.')).toBeTruthy());
    expect(within(dialog).getByRole('textbox', { name: 'SSH host' }).getAttribute('aria-invalid')).toBe('true');
    expect(within(dialog).getByRole('button', { name: 'Browse…' })).toBeTruthy(); // the desktop app offers a file dialog
    await fireEvent.input(within(dialog).getByRole('textbox', { name: 'SSH host' }), {
      target: { value: 'pod2.example' },
    });
    await fireEvent.input(within(dialog).getByRole('textbox', { name: 'Private key file' }), {
      target: { value: '/keys/id_ed25519' },
    });
    await fireEvent.input(within(dialog).getByLabelText('Key passphrase (if it has one)'), {
      target: { value: 'hunter2' },
    });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(saved.at(-1)).toEqual({
      profile: {
        kind: 'ssh',
        name: 'Pod 2',
        host: 'pod2.example',
        port: 22,
        username: 'root',
        auth: 'key',
        keyPath: '/keys/id_ed25519',
        remoteHost: '127.0.0.1',
        remotePort: 8188,
        localPort: 0,
      },
      secrets: { passphrase: 'hunter2' },
    });
  });
});

describe('the Models page', () => {
  test("lists the default server's models by folder once it is online", async () => {
    const fake = fakeApi({
      'connections.list': () => snapshot([online]),
      'models.list': () => ({
        serverId: 'pod',
        folders: [
          { name: 'checkpoints', files: ['flux1-dev-fp8.safetensors'] },
          { name: 'loras', files: [] },
          { name: 'vae', files: ['ae.safetensors'] },
        ],
        fetchedAt: 1,
      }),
      'app.info': () => appInfo('serve'),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'models' });
    const region = await screen.findByRole('region', { name: 'Installed models' });
    await waitFor(() => expect(within(region).getByText('2 model files in 2 folders')).toBeTruthy());
    expect(within(region).getByText('flux1-dev-fp8.safetensors')).toBeTruthy();
    expect(within(region).getByRole('button', { name: /loras/ }).hasAttribute('disabled')).toBe(true);
  });

  test('an offline server says why instead of listing', async () => {
    const fake = fakeApi({
      'connections.list': () =>
        snapshot([
          {
            serverId: 'pod',
            state: 'offline',
            reason: 'Connection refused on 127.0.0.1:8188 — is ComfyUI running?',
            isSocketOpen: false,
            checkedAt: 1,
          },
        ]),
      'app.info': () => appInfo('serve'),
    });
    render(ConnectionsHarness, { api: fake.api, show: 'models' });
    expect(await screen.findByText('RunPod A100 is not connected')).toBeTruthy();
    expect(screen.getByText('Connection refused on 127.0.0.1:8188 — is ComfyUI running?')).toBeTruthy();
    expect(fake.calls.some((call) => call.command === 'models.list')).toBe(false);
  });
});
