import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { ConnectionHealth } from '../../src/shared/domain/connection';
import type { ServerInventory } from '../../src/shared/domain/inventory';
import { RouterCallError } from '../../src/main/core/router';
import { createLogger, MemorySink } from '../../src/main/core/lib/logger';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

const FAST = { healthIntervalMs: 300, checkTimeoutMs: 1500, backoff: { initialDelayMs: 50, maxDelayMs: 300 } };

let comfy: ComfyTestServer;
const stops: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  comfy = await startComfyServer({ models: { checkpoints: ['sd15.safetensors'], vae: ['vae-ft-mse.safetensors'] } });
});
afterAll(() => comfy.stop());
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** A core whose only profile (active) points at `url`, plus recorded health and inventory events. */
async function coreWith(
  profiles: unknown[] = [],
  options: {
    activeId?: string | null;
    knownHostsPath?: string;
    openWindow?: (url: string) => Promise<void>;
    sink?: MemorySink;
  } = {},
) {
  const known = tempDir('comfydesk-known-');
  const knownHostsPath = options.knownHostsPath ?? join(known.path, 'known_hosts');
  const started = await startTestCore({
    ...(options.sink ? { log: createLogger(options.sink.sink, { level: 'debug' }) } : {}),
    settings: { connections: { profiles, activeId: options.activeId ?? null, alsoOnline: [] } },
    core: { connections: { ...FAST, knownHostsPath }, openWindow: options.openWindow },
  });
  stops.push(
    () => started.stop(),
    () => known.remove(),
  );
  const health: ConnectionHealth[] = [];
  const inventories: ServerInventory[] = [];
  started.core.events.on('connections.health', (item) => health.push(item));
  started.core.connections.on('inventory', (item) => inventories.push(item));
  return { core: started.core, health, inventories, knownHostsPath };
}

const lastHealth = (health: ConnectionHealth[], id: string) => health.filter((item) => item.serverId === id).at(-1);

async function failureOf(promise: Promise<unknown>): Promise<RouterCallError['error']> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RouterCallError);
  return (error as RouterCallError).error;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

describe('connections through the core', () => {
  test('a fresh install has one local profile at 127.0.0.1:8188, active', async () => {
    const started = await startTestCore({
      freshConnections: true,
      core: { connections: { ...FAST, autoConnect: false } },
    });
    stops.push(() => started.stop());
    const snapshot = await started.core.router.call('connections.list', {});
    expect(snapshot.profiles).toEqual([
      { id: 'local', name: 'This computer', kind: 'local', url: 'http://127.0.0.1:8188' },
    ]);
    expect(snapshot.activeId).toBe('local');
    expect(snapshot.secretStorage).toBe('session-memory');
  });

  test('adding a URL profile and making it active brings it online with version, GPU, VRAM and latency, then its inventory', async () => {
    const { core, health, inventories } = await coreWith();
    const saved = await core.router.call('connections.save', {
      profile: { kind: 'url', name: 'Test server', url: comfy.url },
    });
    const id = saved.profiles[0]!.id;
    expect(saved.activeId).toBe(id);
    await waitFor(() => lastHealth(health, id)?.state === 'online');
    expect(lastHealth(health, id)).toMatchObject({
      state: 'online',
      latencyMs: expect.any(Number),
      facts: { comfyuiVersion: '0.3.64', gpuName: 'cpu', vramFreeBytes: expect.any(Number) },
      localUrl: comfy.url,
    });
    await waitFor(() => inventories.length > 0);
    expect(inventories[0]!.nodeTypes).toContain('PeerSlowSteps');
    expect(inventories[0]!.models).toMatchObject({
      checkpoints: ['sd15.safetensors'],
      vae: ['vae-ft-mse.safetensors'],
      loras: [],
    });
    expect(core.connections.inventory(id)).toEqual(inventories[0]);
    expect(core.connections.client(id)?.baseUrl).toBe(comfy.url);
    const models = await core.router.call('models.list', {});
    expect(models.folders.find((folder) => folder.name === 'checkpoints')?.files).toEqual(['sd15.safetensors']);
    await waitFor(() => lastHealth(health, id)?.isSocketOpen === true);
  });

  test('after a server restart the connection goes offline, comes back by itself and re-reads the inventory', async () => {
    const { core, health, inventories } = await coreWith([{ id: 's', kind: 'url', name: 'S', url: comfy.url }], {
      activeId: 's',
    });
    // The first read may finish while the core is still starting, before this test listens.
    const first = await waitFor(() => core.connections.inventory('s'));
    inventories.length = 0;
    await comfy.crash();
    // A check cut off by the crash may report a reset first; the next ones find the port closed.
    await waitFor(
      () => lastHealth(health, 's')?.reason === `Connection refused on 127.0.0.1:${comfy.port} — is ComfyUI running?`,
      { message: 'the drop was not noticed' },
    );
    expect(lastHealth(health, 's')?.state).toBe('offline');
    await comfy.start();
    await waitFor(() => lastHealth(health, 's')?.state === 'online', { timeoutMs: 8000 });
    await waitFor(() => inventories.length >= 1, { message: 'inventory not refreshed' });
    expect(core.connections.inventory('s')).not.toBe(first);
    expect(core.connections.health('s').state).toBe('online');
  });

  test('secrets go to the secret store, never to settings, and a protected proxy gets its header', async () => {
    let seen: string | undefined;
    const proxy = createHttpServer((request, response) => {
      seen = request.headers.authorization;
      if (request.headers.authorization !== 'Bearer s3cret') {
        response.writeHead(401).end('Unauthorized');
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          system: { comfyui_version: '0.3.64', os: 'posix' },
          devices: [{ name: 'cuda:0 NVIDIA RTX 4090', type: 'cuda', vram_total: 24e9, vram_free: 20e9 }],
        }),
      );
    });
    const port = await listen(proxy);
    const sink = new MemorySink();
    const { core } = await coreWith([], { activeId: null, sink });
    const draft = {
      kind: 'url' as const,
      name: 'Pod',
      url: `http://127.0.0.1:${port}`,
      authHeader: { scheme: 'bearer' as const },
    };
    const without = await core.router.call('connections.test', { profile: draft });
    expect(without).toMatchObject({ state: 'error', code: 'comfy_http_error' });
    // Read in the connection dialog or beside the list: it names the field, not a page the person may already be on.
    expect(without.reason).toMatch(/refused access \(HTTP 401\).*Set this connection's “Proxy sign-in” and its token/);
    expect(without.reason).not.toContain('Settings ›');
    const saved = await core.router.call('connections.save', { profile: draft, secrets: { headerValue: 's3cret' } });
    const id = saved.profiles[0]!.id;
    expect(saved.withSecrets).toEqual([id]);
    expect(JSON.stringify(core.settings.get())).not.toContain('s3cret');
    const tested = await core.router.call('connections.test', { id });
    expect(tested).toMatchObject({ state: 'online', facts: { gpuName: 'cuda:0 NVIDIA RTX 4090' } });
    expect(seen).toBe('Bearer s3cret');
    const cleared = await core.router.call('connections.save', {
      profile: { ...saved.profiles[0]! },
      secrets: { headerValue: '' },
    });
    expect(cleared.withSecrets).toEqual([]);
    // Debug logging included, no secret ever reaches the log.
    expect(sink.records.length).toBeGreaterThan(0);
    expect(
      JSON.stringify(sink.records, (_key, value: unknown) =>
        value instanceof Error ? `${value.message} ${String(value.cause)}` : value,
      ),
    ).not.toContain('s3cret');
  });

  test('bad input: a malformed URL is refused, an unreachable port is offline at once', async () => {
    const { core } = await coreWith([], { activeId: null });
    const invalid = await failureOf(
      core.router.call('connections.save', { profile: { kind: 'url', name: 'x', url: 'ftp://nope' } }),
    );
    expect(invalid.code).toBe('invalid_input');
    expect(JSON.stringify(invalid.details)).toContain('starts with http:// or https://');
    await expect(
      core.router.call('connections.test', { profile: { kind: 'url', name: 'x', url: 'not a url' } }),
    ).rejects.toMatchObject({ error: { code: 'invalid_input' } });
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const started = Date.now();
    const refused = await core.router.call('connections.test', {
      profile: { kind: 'url', name: 'x', url: `http://127.0.0.1:${port}` },
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(refused).toMatchObject({
      state: 'offline',
      code: 'comfy_unreachable',
      reason: `Connection refused on 127.0.0.1:${port} — is ComfyUI running?`,
    });
  });

  test('bad input: a web page that is not ComfyUI, a slow server, and TLS problems each get their own words', async () => {
    const { core } = await coreWith([], { activeId: null });
    const html = createHttpServer((_request, response) =>
      response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><h1>Welcome to nginx</h1>'),
    );
    const htmlPort = await listen(html);
    expect(
      await core.router.call('connections.test', {
        profile: { kind: 'url', name: 'x', url: `http://127.0.0.1:${htmlPort}` },
      }),
    ).toMatchObject({
      state: 'error',
      code: 'comfy_not_comfyui',
      reason: `127.0.0.1:${htmlPort} answered, but not like ComfyUI (it sent a web page). Check that the address points to ComfyUI itself.`,
    });
    const slow = createHttpServer(() => undefined); // accepts, never answers
    const slowPort = await listen(slow);
    expect(
      await core.router.call('connections.test', {
        profile: { kind: 'url', name: 'x', url: `http://127.0.0.1:${slowPort}` },
      }),
    ).toMatchObject({
      state: 'offline',
      code: 'comfy_timeout',
      reason: `ComfyUI at 127.0.0.1:${slowPort} did not answer within 1.5 s. Nothing was changed; check that the server is not overloaded and try again.`,
    });
    expect(
      await core.router.call('connections.test', {
        profile: { kind: 'url', name: 'x', url: `https://127.0.0.1:${comfy.port}` },
      }),
    ).toMatchObject({
      state: 'error',
      code: 'comfy_tls_error',
      reason: expect.stringContaining('does not speak https on that port'),
    });
    const certs = tempDir('comfydesk-tls-');
    stops.push(() => certs.remove());
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(certs.path, 'key.pem'),
        '-out',
        join(certs.path, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const tls = createHttpsServer(
      { key: readFileSync(join(certs.path, 'key.pem')), cert: readFileSync(join(certs.path, 'cert.pem')) },
      (_request, response) => response.end('{}'),
    );
    const tlsPort = await listen(tls);
    expect(
      await core.router.call('connections.test', {
        profile: { kind: 'url', name: 'x', url: `https://127.0.0.1:${tlsPort}` },
      }),
    ).toMatchObject({
      state: 'error',
      code: 'comfy_tls_error',
      reason: expect.stringContaining('self-signed certificate'),
    });
  });

  test('Open ComfyUI: a window in the desktop app, the URL for a browser tab in serve mode', async () => {
    const opened: string[] = [];
    const { core } = await coreWith([{ id: 's', kind: 'url', name: 'S', url: comfy.url }], {
      activeId: 's',
      openWindow: async (url) => void opened.push(url),
    });
    const viaIpc = await core.router.handle(
      { kind: 'request', id: '1', command: 'connections.open', input: { id: 's' } },
      { clientId: 'w', transport: 'ipc' },
    );
    expect(viaIpc).toMatchObject({ ok: true, output: { url: comfy.url, openedBy: 'window' } });
    expect(opened).toEqual([comfy.url]);
    const viaWs = await core.router.handle(
      { kind: 'request', id: '2', command: 'connections.open', input: { id: 's' } },
      { clientId: 'b', transport: 'ws' },
    );
    expect(viaWs).toMatchObject({ ok: true, output: { url: comfy.url, openedBy: 'client' } });
  });

  test('deleting, switching the default and keeping several online', async () => {
    const { core, health } = await coreWith(
      [
        { id: 'a', kind: 'url', name: 'A', url: comfy.url },
        { id: 'b', kind: 'url', name: 'B', url: comfy.url },
      ],
      { activeId: 'a' },
    );
    await core.router.call('connections.setOnline', { id: 'b', online: true });
    await waitFor(() => lastHealth(health, 'a')?.state === 'online' && lastHealth(health, 'b')?.state === 'online');
    expect((await core.router.call('connections.list', {})).online.sort()).toEqual(['a', 'b']);
    expect(
      (await failureOf(core.router.call('connections.setOnline', { id: 'a', online: false }))).userMessage,
    ).toContain('stays online');
    await core.router.call('connections.setActive', { id: 'b' });
    const afterDelete = await core.router.call('connections.delete', { id: 'b' });
    expect(afterDelete.activeId).toBe('a');
    expect(afterDelete.profiles.map((profile) => profile.id)).toEqual(['a']);
    expect((await failureOf(core.router.call('connections.delete', { id: 'b' }))).code).toBe('connection_not_found');
  });
});

describe.skipIf(!SSHD_PATH)('SSH connections through the core', () => {
  let sshd: TestSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(() => sshd.stop());

  test('an unknown host key asks for confirmation; trusting its fingerprint brings the tunnel online; Open gives the local URL with a note', async () => {
    const profile = {
      id: 'pod',
      kind: 'ssh',
      name: 'Pod',
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      keyPath: sshd.clientKeyPath,
      remotePort: comfy.port,
    };
    const { core, health } = await coreWith([profile], { activeId: 'pod' });
    await waitFor(() => lastHealth(health, 'pod')?.state === 'error');
    const blocked = lastHealth(health, 'pod')!;
    expect(blocked).toMatchObject({
      code: 'ssh_host_key_unknown',
      hostKey: { kind: 'unknown', fingerprint: sshd.hostKeyFingerprint() },
    });
    expect(
      (
        await failureOf(
          core.router.call('connections.trustHostKey', { id: 'pod', fingerprint: `SHA256:${'A'.repeat(43)}` }),
        )
      ).code,
    ).toBe('ssh_host_key_unknown');
    const trusted = await core.router.call('connections.trustHostKey', {
      id: 'pod',
      fingerprint: sshd.hostKeyFingerprint(),
    });
    expect(trusted.profiles[0]).toMatchObject({ pinnedHostKey: sshd.hostKeyFingerprint() });
    await waitFor(() => lastHealth(health, 'pod')?.state === 'online', { timeoutMs: 8000 });
    const steps = health.filter((item) => item.serverId === 'pod').map((item) => item.step);
    expect(steps).toContain(`Opening the SSH tunnel to ${sshd.user}@127.0.0.1:${sshd.port}…`);
    const localUrl = lastHealth(health, 'pod')!.localUrl!;
    expect(localUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const open = await core.router.call('connections.open', { id: 'pod' });
    expect(open).toMatchObject({
      url: localUrl,
      openedBy: 'client',
      note: expect.stringContaining('opens only in a browser on that machine'),
    });
  });

  test(
    'a host listed in known_hosts connects at once; a changed key is refused with a warning',
    { timeout: 60_000 },
    async () => {
      const known = tempDir('comfydesk-known-');
      stops.push(() => known.remove());
      const knownHostsPath = join(known.path, 'known_hosts');
      writeFileSync(knownHostsPath, `${sshd.knownHostsLine()}\n`);
      const profile = {
        id: 'pod',
        kind: 'ssh',
        name: 'Pod',
        host: sshd.host,
        port: sshd.port,
        username: sshd.user,
        keyPath: sshd.clientKeyPath,
        remotePort: comfy.port,
      };
      const { core, health } = await coreWith([profile], { activeId: 'pod', knownHostsPath });
      // Generous deadlines: on a busy machine the tunnel's first connect and its reconnect take seconds.
      await waitFor(() => lastHealth(health, 'pod')?.state === 'online', { timeoutMs: 20_000 });
      await sshd.kill();
      sshd.rotateHostKey();
      await sshd.start();
      await waitFor(() => lastHealth(health, 'pod')?.code === 'ssh_host_key_changed', {
        timeoutMs: 20_000,
        message: 'the changed key was not refused',
      });
      expect(lastHealth(health, 'pod')).toMatchObject({
        state: 'error',
        reason: expect.stringContaining('WARNING: the host key changed'),
      });
      expect(core.connections.health('pod').state).toBe('error');
    },
  );
});

describe('connections for one session (--server / --ssh)', () => {
  /** An address nothing listens on: a port this test opened and closed again. */
  let nowhere: string;
  beforeAll(async () => {
    const server = createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    nowhere = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a session connection comes online and is used, but never reaches settings; the same server is opened once', async () => {
    const { core } = await coreWith([{ id: 'saved', kind: 'url', name: 'Saved', url: nowhere }], {
      activeId: 'saved',
    });
    const { id } = await core.router.call('connections.openSession', {
      profile: { kind: 'url', name: 'Pod', url: comfy.url },
    });
    await waitFor(() => core.connections.health(id).state === 'online', { timeoutMs: 8000 });
    const again = await core.router.call('connections.openSession', {
      profile: { kind: 'url', name: 'Pod again', url: `${comfy.url}/` },
    });
    expect(again.id).toBe(id);
    const snapshot = await core.router.call('connections.list', {});
    expect(snapshot.sessionOnly).toEqual([id]);
    expect(snapshot.online).toContain(id);
    expect(snapshot.activeId).toBe('saved'); // opened by a command: the default stays the user's
    expect(core.settings.get().connections.profiles.map((profile) => profile.id)).toEqual(['saved']);
  });

  test('a session connection made the default covers the saved default for the session; deleting it brings the saved one back', async () => {
    const saved = { id: 'saved', kind: 'url', name: 'Saved', url: comfy.url };
    const { core } = await coreWith([saved], { activeId: 'saved' });
    const sessionId = core.connections.openSession(
      { profile: { kind: 'url', name: 'Elsewhere', url: `${nowhere}/comfy` } },
      { makeDefault: true },
    );
    expect((await core.router.call('connections.list', {})).activeId).toBe(sessionId);
    expect(core.settings.get().connections.activeId).toBe('saved');
    await core.router.call('connections.delete', { id: sessionId });
    const after = await core.router.call('connections.list', {});
    expect(after.activeId).toBe('saved');
    expect(after.profiles.map((profile) => profile.id)).toEqual(['saved']);
    expect(core.settings.get().connections).toMatchObject({ activeId: 'saved', profiles: [saved] });
  });

  test('opening a session for a server that is saved already reuses the saved connection as it is', async () => {
    const saved = { id: 'saved', kind: 'url', name: 'Saved', url: comfy.url };
    const { core } = await coreWith([saved, { id: 'other', kind: 'url', name: 'Other', url: nowhere }], {
      activeId: 'other',
    });
    const { id } = await core.router.call('connections.openSession', {
      profile: { kind: 'url', name: 'Same server', url: comfy.url },
    });
    expect(id).toBe('saved');
    await waitFor(() => core.connections.health('saved').state === 'online', { timeoutMs: 8000 });
    expect((await core.router.call('connections.list', {})).sessionOnly).toEqual([]);
    expect(core.settings.get().connections).toMatchObject({ activeId: 'other', alsoOnline: [] });
  });
});
