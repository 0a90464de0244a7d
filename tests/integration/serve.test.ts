import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../src/main/core/lib/logger';
import { ServeServer } from '../../src/main/serve/serve-server';
import { startTestCore, waitFor } from '../support/core';
import { ROOT } from '../support/cli';

const rendererDir = resolve(ROOT, 'out', 'renderer');

let server: ServeServer;
let mediaDir: string;
/** Names as workflows and ComfyUI produce them: every character a URL gives a meaning to. */
const ODD_FOLDER = 'Blur + invert & co, #2 $5: a=b @home 100%';
const ODD_NAME = 'a+b&c,d#e$f:g=h@i %20 ü.png';
let stopCore: () => Promise<void>;

beforeEach(async () => {
  const started = await startTestCore();
  stopCore = started.stop;
  mediaDir = join(started.dataDir, 'outputs');
  mkdirSync(join(mediaDir, 'day'), { recursive: true });
  writeFileSync(join(mediaDir, 'day', 'fox 1.png'), 'png bytes');
  mkdirSync(join(mediaDir, 'day', ODD_FOLDER), { recursive: true });
  writeFileSync(join(mediaDir, 'day', ODD_FOLDER, ODD_NAME), 'odd bytes');
  writeFileSync(join(started.dataDir, 'secret.txt'), 'not for the page');
  server = new ServeServer({ core: started.core, rendererDir, mediaDir: () => mediaDir, port: 0, log: silentLogger });
  await server.start();
});

afterEach(async () => {
  await server.stop();
  await stopCore();
});

function base(): string {
  return `http://127.0.0.1:${server.port}`;
}

/** Tries a WebSocket upgrade and reports the HTTP status the server answered (101 = accepted). */
async function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolvePromise, reject) => {
    const req = request(`${base()}${path}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (response, socket) => {
      socket.destroy();
      resolvePromise(response.statusCode ?? 0);
    });
    req.on('response', (response) => {
      response.resume();
      resolvePromise(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve mode guards', () => {
  test('the printed URL carries a fresh token and points at loopback', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
  });

  test('a request without the token gets 401; with it, the app and a same-site cookie', async () => {
    const denied = await fetch(`${base()}/`);
    expect(denied.status).toBe(401);
    expect(await denied.text()).toContain('?token=');
    expect((await fetch(`${base()}/?token=wrong`)).status).toBe(401);

    const ok = await fetch(`${base()}/?token=${server.token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<div id="app">');
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(ok.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");

    // The page's own assets load with the cookie alone.
    const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(
      await (await fetch(`${base()}/?token=${server.token}`)).text(),
    )?.[1];
    expect(asset).toBeDefined();
    expect((await fetch(`${base()}/${asset}`)).status).toBe(401);
    expect((await fetch(`${base()}/${asset}`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
  });

  test('outputs are served under /media/ with the same token rules, and nothing outside the outputs folder', async () => {
    expect((await fetch(`${base()}/media/day/fox%201.png`)).status).toBe(401);
    const page = await fetch(`${base()}/?token=${server.token}`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    const image = await fetch(`${base()}/media/day/fox%201.png`, { headers: { cookie } });
    expect(image.status).toBe(200);
    expect(await image.text()).toBe('png bytes');
    expect((await fetch(`${base()}/media/day/missing.png`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${base()}/media/..%2Fsecret.txt`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${base()}/media/%2e%2e/secret.txt`, { headers: { cookie } })).status).toBe(404);
  });

  test('an output whose folder or file name holds + & , # $ : = @ % is served under the address the page builds', async () => {
    const page = await fetch(`${base()}/?token=${server.token}`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    // Built as the page builds it (src/renderer/src/api/media.ts): each segment encoded on its own.
    const address = `${base()}/media/${['day', ODD_FOLDER, ODD_NAME].map(encodeURIComponent).join('/')}`;
    const image = await fetch(address, { headers: { cookie } });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(await image.text()).toBe('odd bytes');
    const part = await fetch(address, { headers: { cookie, range: 'bytes=4-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 4-8/9');
    expect(await part.text()).toBe('bytes');
    const again = await fetch(address, { headers: { cookie, 'if-none-match': image.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect(
      (await fetch(`${base()}/media/day/${encodeURIComponent('..')}/fox%201.png`, { headers: { cookie } })).status,
    ).toBe(404);
    expect((await fetch(`${base()}/media/day%2F..%2F..%2Fsecret.txt`, { headers: { cookie } })).status).toBe(404);
  });

  test('a Host header that is not loopback is refused (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolvePromise, reject) => {
      const req = request(`${base()}/?token=${server.token}`, { headers: { Host: 'evil.example' } }, (response) => {
        response.resume();
        resolvePromise(response.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  test('a WebSocket upgrade without the token, with a wrong one, or from a foreign Origin is refused', async () => {
    expect(await upgradeStatus('/ws')).toBe(401);
    expect(await upgradeStatus('/ws?token=nope')).toBe(401);
    expect(await upgradeStatus(`/ws?token=${server.token}`, { Origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(`/elsewhere?token=${server.token}`)).toBe(404);
    expect(await upgradeStatus(`/ws?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port}` })).toBe(101);
    expect(await upgradeStatus(`/ws?token=${server.token}`)).toBe(101);
  });

  test('stopping closes open sockets', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    await new Promise((resolvePromise) => (socket.onopen = resolvePromise));
    const closed = new Promise<number>((resolvePromise) => (socket.onclose = (event) => resolvePromise(event.code)));
    await server.stop();
    expect(await closed).toBe(1001);
    await waitFor(() => socket.readyState === WebSocket.CLOSED);
  });
});
