import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SshProfile } from '../../src/shared/domain/connection';
import { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { SshTunnel, type TunnelState } from '../../src/main/core/connections/ssh-tunnel';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { waitFor } from '../support/core';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

describe.skipIf(!SSHD_PATH)('SSH tunnel against a real OpenSSH sshd', () => {
  let sshd: TestSshd;
  let comfy: ComfyTestServer;
  const tunnels: SshTunnel[] = [];

  beforeAll(async () => {
    [sshd, comfy] = await Promise.all([startSshd(), startComfyServer()]);
  });

  afterAll(async () => {
    await Promise.all([sshd?.stop(), comfy?.stop()]);
  });

  afterEach(async () => {
    await Promise.all(tunnels.splice(0).map((tunnel) => tunnel.stop()));
    await sshd.start();
  });

  function tunnel(
    overrides: Partial<SshProfile> = {},
    options: { knownHosts?: string; passphrase?: string; agentSocket?: string } = {},
  ): { tunnel: SshTunnel; states: Array<{ state: TunnelState; step: string }> } {
    const profile = SshProfile.parse({
      id: 'pod',
      name: 'Pod',
      kind: 'ssh',
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      keyPath: sshd.clientKeyPath,
      remotePort: comfy.port,
      ...overrides,
    });
    const made = new SshTunnel({
      profile,
      passphrase: options.passphrase,
      agentSocket: options.agentSocket,
      readKnownHosts: async () => options.knownHosts ?? sshd.knownHostsLine(),
      log: silentLogger,
      backoff: { initialDelayMs: 50, maxDelayMs: 400 },
      keepaliveIntervalMs: 1000,
    });
    tunnels.push(made);
    const states: Array<{ state: TunnelState; step: string }> = [];
    made.on('state', ({ state, step }) => states.push({ state, step }));
    return { tunnel: made, states };
  }

  test('key auth opens a local port that reaches ComfyUI through the tunnel', async () => {
    const { tunnel: made, states } = tunnel();
    await made.start();
    const stats = (await (await fetch(`http://127.0.0.1:${made.localPort}/api/system_stats`)).json()) as {
      system: { comfyui_version: string };
    };
    expect(stats.system.comfyui_version).toBe('0.3.64');
    expect(states.map((state) => state.state)).toEqual(['connecting', 'open']);
    expect(states[1]!.step).toContain(`→ 127.0.0.1:${comfy.port}`);
  });

  test('a passphrase-protected key works with its passphrase and explains itself without it', async () => {
    const withPassphrase = tunnel({ keyPath: sshd.protectedKeyPath }, { passphrase: 'correct horse' }).tunnel;
    await withPassphrase.start();
    expect((await fetch(`http://127.0.0.1:${withPassphrase.localPort}/api/features`)).status).toBe(200);
    await expect(tunnel({ keyPath: sshd.protectedKeyPath }).tunnel.start()).rejects.toMatchObject({
      code: 'ssh_key_unreadable',
      userMessage: expect.stringContaining('protected by a passphrase'),
    });
    await expect(
      tunnel({ keyPath: sshd.protectedKeyPath }, { passphrase: 'wrong' }).tunnel.start(),
    ).rejects.toMatchObject({ code: 'ssh_key_unreadable', userMessage: expect.stringContaining('not right') });
  });

  test('ssh-agent auth: the key held by a running agent opens the tunnel', async () => {
    const socket = join(sshd.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor(() => {
        try {
          execFileSync('ssh-add', [sshd.clientKeyPath], {
            env: { ...process.env, SSH_AUTH_SOCK: socket },
            stdio: 'ignore',
          });
          return true;
        } catch {
          return false;
        }
      });
      const made = tunnel({ auth: 'agent', keyPath: undefined }, { agentSocket: socket }).tunnel;
      await made.start();
      expect((await fetch(`http://127.0.0.1:${made.localPort}/api/features`)).status).toBe(200);
    } finally {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill();
      await exited;
    }
  });

  test('a key the server does not accept fails with a clear authentication error', async () => {
    const error = await tunnel({ keyPath: sshd.wrongKeyPath })
      .tunnel.start()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('ssh_auth_failed');
    expect((error as AppError).userMessage).toBe(
      `Authentication failed for user ${sshd.user} on 127.0.0.1:${sshd.port}. Check the user name and that the server accepts this key.`,
    );
  });

  test('an unknown host key needs confirmation: the error carries its SHA256 fingerprint; pinning it lets the tunnel open', async () => {
    const error = (await tunnel({}, { knownHosts: '' })
      .tunnel.start()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('ssh_host_key_unknown');
    expect(error.userMessage).toContain(sshd.hostKeyFingerprint());
    expect(error.details).toMatchObject({
      hostKey: { kind: 'unknown', fingerprint: sshd.hostKeyFingerprint(), keyType: 'ssh-ed25519' },
    });
    const pinned = tunnel({ pinnedHostKey: sshd.hostKeyFingerprint() }, { knownHosts: '' }).tunnel;
    await pinned.start();
    expect(pinned.isOpen).toBe(true);
  });

  test('a changed host key is refused, whether it was in known_hosts or pinned', async () => {
    const oldLine = sshd.knownHostsLine();
    const oldFingerprint = sshd.hostKeyFingerprint();
    await sshd.kill();
    sshd.rotateHostKey();
    await sshd.start();
    const fromKnownHosts = (await tunnel({}, { knownHosts: oldLine })
      .tunnel.start()
      .catch((caught: unknown) => caught)) as AppError;
    expect(fromKnownHosts.code).toBe('ssh_host_key_changed');
    expect(fromKnownHosts.userMessage).toContain(`WARNING: the host key changed for 127.0.0.1:${sshd.port}`);
    expect(fromKnownHosts.userMessage).toContain(oldFingerprint);
    const fromPin = (await tunnel({ pinnedHostKey: oldFingerprint }, { knownHosts: '' })
      .tunnel.start()
      .catch((caught: unknown) => caught)) as AppError;
    expect(fromPin.code).toBe('ssh_host_key_changed');
  });

  test('nothing listening on the SSH port is a refused connection, quickly', async () => {
    await sshd.kill();
    await expect(tunnel().tunnel.start()).rejects.toMatchObject({
      code: 'ssh_unreachable',
      userMessage: `Connection refused on 127.0.0.1:${sshd.port} — is the SSH server running on that port?`,
    });
  });

  test('sshd killed and restarted: the tunnel comes back on the same local port without user action', async () => {
    const { tunnel: made, states } = tunnel();
    await made.start();
    const port = made.localPort;
    await sshd.kill();
    await waitFor(() => states.some((state) => state.state === 'reconnecting'), {
      message: 'the drop was not noticed',
    });
    expect(made.isOpen).toBe(false);
    await sshd.start();
    await waitFor(() => made.isOpen, { timeoutMs: 10_000, message: 'the tunnel did not come back' });
    expect(made.localPort).toBe(port);
    expect((await fetch(`http://127.0.0.1:${port}/api/system_stats`)).status).toBe(200);
    expect(states.filter((state) => state.state === 'open')).toHaveLength(2);
  });
});
