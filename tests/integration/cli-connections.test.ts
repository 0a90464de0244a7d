import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI, runCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { tempDir } from '../support/core';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

let comfy: ComfyTestServer;
let html: Server;
let htmlPort: number;
let closedPort: number;

beforeAll(async () => {
  comfy = await startComfyServer({
    models: { checkpoints: ['sd15.safetensors', 'xl/base.safetensors'], loras: ['style.safetensors'] },
  });
  html = createServer((_request, response) =>
    response.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>router login</html>'),
  );
  await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', () => resolve()));
  htmlPort = (html.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  await comfy.stop();
  html.closeAllConnections();
  await new Promise<void>((resolve) => html.close(() => resolve()));
});

describe('comfydesk status and models', () => {
  test('status --json of a running server: online with latency and server facts', async () => {
    const result = await runCli(['status', '--server', comfy.url, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      state: 'online',
      latencyMs: expect.any(Number),
      server: {
        url: comfy.url,
        comfyuiVersion: '0.3.64',
        gpuName: 'cpu',
        deviceType: 'cpu',
        vramFreeBytes: expect.any(Number),
        vramTotalBytes: expect.any(Number),
        os: 'posix',
      },
    });
  });

  test("a server that runs on the CPU reports the machine's RAM, a GPU server its VRAM", async () => {
    const cpu = await runCli(['status', '--server', comfy.url]);
    expect(cpu.stdout).toMatch(
      new RegExp(
        `^online — ComfyUI 0\\.3\\.64 at ${comfy.url} \\(\\d+ ms\\)\\ndevice: cpu · [\\d.]+ GB RAM free of [\\d.]+ GB\\n$`,
      ),
    );
    const gpu = await startComfyServer({
      device: {
        name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
        type: 'cuda',
        vram_total: 25e9,
        vram_free: 20e9,
      },
    });
    try {
      const result = await runCli(['status', '--server', gpu.url]);
      expect(result.stdout).toContain(
        'device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync · 19 GB VRAM free of 23 GB',
      );
    } finally {
      await gpu.stop();
    }
  });

  test('without --server or --ssh, status checks the default connection of the data folder', async () => {
    const home = tempDir('comfydesk-status-home-');
    try {
      writeFileSync(
        join(home.path, 'settings.json'),
        JSON.stringify({
          connections: {
            profiles: [{ id: 'pod', kind: 'url', name: 'Pod', url: comfy.url }],
            activeId: 'pod',
            alsoOnline: [],
          },
        }),
      );
      const result = await runCli(['status', '--json'], { env: { COMFYDESK_HOME: home.path } });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'online', server: { url: comfy.url } });
      writeFileSync(
        join(home.path, 'settings.json'),
        JSON.stringify({ connections: { profiles: [], activeId: null, alsoOnline: [] } }),
      );
      const none = await runCli(['status'], { env: { COMFYDESK_HOME: home.path } });
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('--server URL or --ssh USER@HOST[:PORT]');
    } finally {
      home.remove();
    }
  });

  test('an unreachable server answers within seconds: offline, with the reason, exit 1', async () => {
    const started = Date.now();
    const result = await runCli(['status', '--server', `http://127.0.0.1:${closedPort}`, '--json']);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      state: 'offline',
      code: 'comfy_unreachable',
      reason: `Connection refused on 127.0.0.1:${closedPort} — is ComfyUI running?`,
    });
  });

  test('a server that never answers times out after --timeout, never hangs', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (silent.address() as AddressInfo).port;
      const result = await runCli(['status', '--server', `http://127.0.0.1:${port}`, '--timeout', '1', '--json']);
      expect(JSON.parse(result.stdout)).toMatchObject({ state: 'offline', code: 'comfy_timeout' });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test('something that is not ComfyUI is an error state', async () => {
    const result = await runCli(['status', '--server', `http://127.0.0.1:${htmlPort}`]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `error — 127.0.0.1:${htmlPort} answered, but not like ComfyUI (it sent a web page). Check that the address points to ComfyUI itself.\n`,
    );
  });

  test('usage errors: a malformed URL, two targets for a one-server command, or SSH flags without --ssh, exit 2', async () => {
    const malformed = await runCli(['status', '--server', 'localhost:8188']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('starts with http:// or https://');
    expect((await runCli(['models', '--server', comfy.url, '--ssh', 'root@pod'])).code).toBe(2);
    const twice = await runCli(['models', '--server', comfy.url, '--server', comfy.url]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('works with one server');
    expect((await runCli(['status', '--ssh', 'no-user-here'])).code).toBe(2);
    expect((await runCli(['status', '--server', comfy.url, '--key', 'id_ed25519'])).code).toBe(2);
  });

  test('models lists installed models by folder, as text and as JSON', async () => {
    const text = await runCli(['models', '--server', comfy.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('3 model files on');
    expect(text.stdout).toContain('checkpoints (2)\n  sd15.safetensors\n  xl/base.safetensors\n');
    const json = await runCli(['models', '--server', comfy.url, '--json']);
    const parsed = JSON.parse(json.stdout) as { folders: Array<{ name: string; files: string[] }> };
    expect(parsed.folders.find((folder) => folder.name === 'loras')?.files).toEqual(['style.safetensors']);
    expect(parsed.folders.map((folder) => folder.name)).toContain('vae');
    const down = await runCli(['models', '--server', `http://127.0.0.1:${closedPort}`, '--json']);
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stderr)).toMatchObject({ error: { code: 'comfy_unreachable' } });
  });
});

describe.skipIf(!SSHD_PATH)('comfydesk status --ssh and host keys', () => {
  let sshd: TestSshd;
  let home: { path: string; remove: () => void };
  let knownHosts: string;

  beforeAll(async () => {
    sshd = await startSshd();
    home = tempDir('comfydesk-cli-ssh-');
    knownHosts = join(home.path, 'known_hosts');
  });
  afterAll(async () => {
    await sshd.stop();
    home.remove();
  });

  const ssh = (extra: string[] = []) => [
    'status',
    '--ssh',
    `${sshd.user}@127.0.0.1:${sshd.port}`,
    '--key',
    sshd.clientKeyPath,
    '--remote',
    `127.0.0.1:${comfy.port}`,
    '--json',
    ...extra,
  ];
  const env = () => ({ COMFYDESK_KNOWN_HOSTS: knownHosts, SSH_AUTH_SOCK: '' });

  test('an unknown host without a terminal is refused with its fingerprint, unless --accept-host-key matches', async () => {
    writeFileSync(knownHosts, '');
    const refused = await runCli(ssh(), { env: env() });
    expect(refused.code).toBe(1);
    const body = JSON.parse(refused.stdout) as { state: string; code: string; reason: string };
    expect(body).toMatchObject({ state: 'error', code: 'ssh_host_key_unknown' });
    expect(body.reason).toContain(`--accept-host-key ${sshd.hostKeyFingerprint()}`);
    const accepted = await runCli(ssh(['--accept-host-key', sshd.hostKeyFingerprint()]), { env: env() });
    expect(JSON.parse(accepted.stdout)).toMatchObject({
      state: 'online',
      server: {
        ssh: `${sshd.user}@127.0.0.1:${sshd.port}`,
        remote: `127.0.0.1:${comfy.port}`,
        comfyuiVersion: '0.3.64',
      },
    });
    const wrong = await runCli(ssh(['--accept-host-key', `SHA256:${'B'.repeat(43)}`]), { env: env() });
    expect(JSON.parse(wrong.stdout)).toMatchObject({
      state: 'error',
      code: 'ssh_host_key_unknown',
      reason: expect.stringContaining('not the SHA256:BBBB'),
    });
  });

  test('a host in known_hosts goes on; a changed key is refused even with --accept-host-key', async () => {
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    expect(JSON.parse((await runCli(ssh(), { env: env() })).stdout)).toMatchObject({ state: 'online' });
    await sshd.kill();
    sshd.rotateHostKey();
    await sshd.start();
    const changed = await runCli(ssh(['--accept-host-key', sshd.hostKeyFingerprint()]), { env: env() });
    expect(changed.code).toBe(1);
    expect(JSON.parse(changed.stdout)).toMatchObject({
      state: 'error',
      code: 'ssh_host_key_changed',
      reason: expect.stringContaining('WARNING: the host key changed'),
    });
  });

  // `script` gives the CLI a real terminal, so it asks instead of refusing.
  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
  test.skipIf(!hasScript)(
    'on a terminal an unknown host shows its fingerprint and asks; answering yes goes on',
    async () => {
      writeFileSync(knownHosts, '');
      const command = [
        process.execPath,
        CLI,
        'status',
        '--ssh',
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        '--key',
        sshd.clientKeyPath,
        '--remote',
        `127.0.0.1:${comfy.port}`,
      ]
        .map((part) => `'${part}'`)
        .join(' ');
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
        env: { ...process.env, ...env() },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('[y/N]') && !child.stdin.writableEnded) child.stdin.end('y\n');
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(output).toContain(`ssh-ed25519 key fingerprint is ${sshd.hostKeyFingerprint()}.`);
      expect(output).toContain('Trust this host for this check? [y/N]');
      expect(output).toMatch(/online — ComfyUI 0\.3\.64/);
      expect(code).toBe(0);
    },
  );

  test('a wrong key is an authentication error in words', async () => {
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    const result = await runCli(
      [
        'status',
        '--ssh',
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        '--key',
        sshd.wrongKeyPath,
        '--remote',
        `127.0.0.1:${comfy.port}`,
      ],
      { env: env() },
    );
    expect(result.stdout).toBe(
      `error — Authentication failed for user ${sshd.user} on 127.0.0.1:${sshd.port}. Check the user name and that the server accepts this key.\n`,
    );
  });
});
