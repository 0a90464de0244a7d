import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../src/main/core/lib/logger';
import { ServeServer } from '../../src/main/serve/serve-server';
import { ApiError, type ApiClient } from '../../src/renderer/src/api/client';
import { uploadStager } from '../../src/renderer/src/api/stage-file';
import { startTestCore, waitFor } from '../support/core';
import { ROOT } from '../support/cli';

const rendererDir = resolve(ROOT, 'out', 'renderer');

let server: ServeServer;
let mediaDir: string;
let stagedDir: string;
/** Names as workflows and ComfyUI produce them: every character a URL gives a meaning to. */
const ODD_FOLDER = 'Blur + invert & co, #2 $5: a=b @home 100%';
const ODD_NAME = 'a+b&c,d#e$f:g=h@i %20 ü.png';
let stopCore: () => Promise<void>;

beforeEach(async () => {
  const started = await startTestCore();
  stopCore = started.stop;
  stagedDir = started.core.staged.dir;
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

  test('a Host header that is not exactly loopback is refused (DNS rebinding), for pages and sockets alike', async () => {
    const statusWithHost = (host: string) =>
      new Promise<number>((resolvePromise, reject) => {
        const req = httpRequest(`${base()}/?token=${server.token}`, { headers: { Host: host } }, (response) => {
          response.resume();
          resolvePromise(response.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    for (const host of ['127.0.0.1', `127.0.0.1:${server.port}`, 'localhost', `LOCALHOST:${server.port}`, '[::1]:80'])
      expect([host, await statusWithHost(host)]).toEqual([host, 200]);
    for (const host of [
      'evil.example',
      '127.0.0.1.evil.com',
      `127.0.0.1.evil.com:${server.port}`,
      'localhost.evil.com',
      '127.0.0.2',
      '127.1',
      'evil.com#@127.0.0.1',
      `user@127.0.0.1:${server.port}`,
      '[::1].evil.com',
    ])
      expect([host, await statusWithHost(host)]).toEqual([host, 403]);
    expect(await upgradeStatus(`/ws?token=${server.token}`, { Host: '127.0.0.1.evil.com' })).toBe(403);
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
    expect(
      (await fetch(`${base()}/media/day/${encodeURIComponent('..')}/fox%201.png`, { headers: { cookie } })).status,
    ).toBe(404);
    expect((await fetch(`${base()}/media/day%2F..%2F..%2Fsecret.txt`, { headers: { cookie } })).status).toBe(404);
  });

  test('a symlink in the outputs folder that leads outside it is not served; one that stays inside is', async () => {
    const outside = join(mediaDir, '..', 'secret.txt');
    symlinkSync(outside, join(mediaDir, 'day', 'link.png'));
    symlinkSync(join(mediaDir, '..'), join(mediaDir, 'data-folder'));
    symlinkSync(join(mediaDir, 'day', 'fox 1.png'), join(mediaDir, 'alias.png'));
    const auth = { authorization: `Bearer ${server.token}` };
    expect((await fetch(`${base()}/media/day/link.png`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base()}/media/data-folder/secret.txt`, { headers: auth })).status).toBe(404);
    const alias = await fetch(`${base()}/media/alias.png`, { headers: auth });
    expect([alias.status, await alias.text()]).toEqual([200, 'png bytes']);
    expect((await fetch(`${base()}/media/day`, { headers: auth })).status).toBe(404);
  });

  test('outputs with any file name are served, decoded once, with byte ranges for seeking and revalidation', async () => {
    const name = 'fox +&,#$:=@ 100%.png';
    writeFileSync(join(mediaDir, 'day', name), '0123456789');
    const url = `${base()}/media/day/${encodeURIComponent(name)}`;
    const auth = { authorization: `Bearer ${server.token}` };
    const whole = await fetch(url, { headers: auth });
    expect([whole.status, whole.headers.get('content-type'), await whole.text()]).toEqual([
      200,
      'image/png',
      '0123456789',
    ]);
    const part = await fetch(url, { headers: { ...auth, range: 'bytes=2-5' } });
    expect([part.status, part.headers.get('content-range'), await part.text()]).toEqual([206, 'bytes 2-5/10', '2345']);
    const tail = await fetch(url, { headers: { ...auth, range: 'bytes=-3' } });
    expect(await tail.text()).toBe('789');
    expect((await fetch(url, { headers: { ...auth, range: 'bytes=20-' } })).status).toBe(416);
    const again = await fetch(url, { headers: { ...auth, 'if-none-match': whole.headers.get('etag')! } });
    expect(again.status).toBe(304);
    // Encoded once means a literal %2B names a file with "%2B" in it, not "+".
    expect((await fetch(`${base()}/media/day/${encodeURIComponent('fox %2B.png')}`, { headers: auth })).status).toBe(
      404,
    );
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

/** Sends `chunks` as the body of POST /upload and answers the status and parsed body; stops sending once an answer arrives. */
async function upload(
  chunks: AsyncIterable<Buffer> | Buffer[],
  options: { name?: string; type?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = options.name === undefined ? '' : `?name=${encodeURIComponent(options.name)}`;
  return new Promise((resolvePromise, reject) => {
    let answered = false;
    const req = httpRequest(`${base()}/upload${query}`, {
      method: 'POST',
      headers: { 'content-type': options.type ?? 'image/png', ...options.headers },
    });
    req.on('response', (response: IncomingMessage) => {
      answered = true;
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const isJson = (response.headers['content-type'] ?? '').startsWith('application/json');
        resolvePromise({ status: response.statusCode ?? 0, body: isJson ? JSON.parse(text) : { text } });
      });
    });
    // A refused upload may close the connection while the body is still going out; the answer counts.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    void (async () => {
      for await (const chunk of chunks) {
        if (answered || req.destroyed) return;
        if (!req.write(chunk)) await new Promise((drained) => req.once('drain', drained));
      }
      req.end();
    })().catch(reject);
  });
}

describe('uploading input files in serve mode', () => {
  const auth = () => ({ authorization: `Bearer ${server.token}` });
  const stagedFiles = () => (existsSync(stagedDir) ? readdirSync(stagedDir) : []);

  test('without the token the upload is refused with 401 and nothing is written', async () => {
    const result = await upload([Buffer.from('PNG')], { name: 'fox.png' });
    expect(result.status).toBe(401);
    const wrong = await upload([Buffer.from('PNG')], { name: 'fox.png', headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(stagedFiles()).toEqual([]);
  });

  test('a file is staged from the request body and answers its handle, which a run can use', async () => {
    const result = await upload([Buffer.from('PNG'), Buffer.from('DATA')], { name: 'fox 1.png', headers: auth() });
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ name: 'fox 1.png', mime: 'image/png', sizeBytes: 7 });
    const [file] = stagedFiles();
    expect(readFileSync(join(stagedDir, file!), 'utf8')).toBe('PNGDATA');
  });

  test('another site, a name missing and a file that is not media are refused', async () => {
    const foreign = await upload([Buffer.from('PNG')], {
      name: 'fox.png',
      headers: { ...auth(), origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect((await upload([Buffer.from('PNG')], { headers: auth() })).status).toBe(400);
    const pdf = await upload([Buffer.from('%PDF')], { name: 'report.pdf', type: 'application/pdf', headers: auth() });
    expect([pdf.status, pdf.body.code]).toEqual([400, 'invalid_input']);
    expect(stagedFiles()).toEqual([]);
  });

  test('a body declared too large is refused with 413 before it is read', async () => {
    const result = await upload([Buffer.alloc(10)], {
      name: 'huge.png',
      headers: { ...auth(), 'content-length': String(64 * 1024 * 1024 + 1) },
    });
    expect(result.status).toBe(413);
    expect(result.body).toMatchObject({ code: 'input_too_large' });
    expect(stagedFiles()).toEqual([]);
  });

  test('a body that grows past 64 MB without a declared length is cut off with 413 and nothing is left on disk', async () => {
    const megabyte = Buffer.alloc(1024 * 1024, 7);
    async function* endless() {
      for (let index = 0; index < 200; index += 1) yield megabyte;
    }
    const result = await upload(endless(), {
      name: 'huge.png',
      headers: { ...auth(), 'transfer-encoding': 'chunked' },
    });
    expect(result.status).toBe(413);
    expect(result.body).toMatchObject({ code: 'input_too_large' });
    await waitFor(() => stagedFiles().length === 0);
  });

  test('the body is streamed to disk while it arrives, not collected in memory first', async () => {
    const first = Buffer.alloc(2 * 1024 * 1024, 1);
    let release!: () => void;
    const held = new Promise<void>((resolvePromise) => (release = resolvePromise));
    async function* slow() {
      yield first;
      await held;
      yield Buffer.from('tail');
    }
    const pending = upload(slow(), { name: 'big.png', headers: { ...auth(), 'transfer-encoding': 'chunked' } });
    // Before the request has ended, the first part is already in the staged file.
    await waitFor(() => {
      const [name] = stagedFiles();
      return name !== undefined && readFileSync(join(stagedDir, name)).length >= first.length;
    });
    release();
    const result = await pending;
    expect(result).toMatchObject({ status: 201, body: { sizeBytes: first.length + 4 } });
  });

  test("the page's uploader sends the file with the token and gets its handle; a refusal carries the core's message", async () => {
    const stage = uploadStager({ origin: base(), token: server.token });
    const client = undefined as unknown as ApiClient;
    const staged = await stage(new File(['PNGDATA'], 'fox #1.png', { type: 'image/png' }), client, { timeoutMs: 5000 });
    expect(staged).toMatchObject({ name: 'fox #1.png', mime: 'image/png', sizeBytes: 7 });
    expect(readFileSync(join(stagedDir, `${staged.id}-fox #1.png`), 'utf8')).toBe('PNGDATA');

    const refused = await stage(new File(['%PDF'], 'report.pdf', { type: 'application/pdf' }), client, {
      timeoutMs: 5000,
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({
      code: 'invalid_input',
      userMessage: 'report.pdf is not an image, video or audio file (application/pdf).',
    });

    const wrongToken = uploadStager({ origin: base(), token: 'nope' });
    const denied = await wrongToken(new File(['x'], 'x.png', { type: 'image/png' }), client, { timeoutMs: 5000 }).catch(
      (error: unknown) => error,
    );
    expect((denied as ApiError).userMessage).toContain('?token=');
  });
});
