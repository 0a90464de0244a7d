import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, test } from 'vitest';
import { nodeHttpGet } from '../../src/main/core/transfers/http-get';

/** A server on 127.0.0.1 that answers each path with `answer` and notes the headers it was sent. */
async function server(answer: (path: string) => { status: number; location?: string; body?: string }) {
  const seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  const http: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    seen.push({ path, headers: request.headers });
    const { status, location, body } = answer(path);
    response.writeHead(status, { 'content-type': 'text/plain', ...(location ? { location } : {}) }).end(body ?? '');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  stops.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return { origin, seen };
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

describe('nodeHttpGet', () => {
  test('follows redirects, keeps the token on the same site and never sends it to another', async () => {
    const cdn = await server(() => ({ status: 200, body: 'the file' }));
    const hub = await server((path) =>
      path === '/resolve' ? { status: 302, location: '/moved' } : { status: 307, location: `${cdn.origin}/signed?x=1` },
    );

    const answer = await nodeHttpGet(`${hub.origin}/resolve`, {
      headers: { Authorization: 'Bearer secret' },
      signal: new AbortController().signal,
    });

    expect(answer.status).toBe(200);
    expect(answer.url).toBe(`${cdn.origin}/signed?x=1`);
    expect(await text(answer.body)).toBe('the file');
    expect(hub.seen.map((request) => request.headers.authorization)).toEqual(['Bearer secret', 'Bearer secret']);
    expect(cdn.seen).toHaveLength(1);
    expect(cdn.seen[0]!.headers.authorization).toBeUndefined();
    // No Accept-Encoding: the bytes come as they are in the file, so a Range means the same bytes.
    expect(cdn.seen[0]!.headers['accept-encoding']).toBeUndefined();
  });

  test('an answer that is not a redirect is given as it is, with its headers', async () => {
    const site = await server(() => ({ status: 404, body: 'not here' }));
    const answer = await nodeHttpGet(`${site.origin}/x`, { headers: {}, signal: new AbortController().signal });
    expect(answer.status).toBe(404);
    expect(answer.header('Content-Type')).toBe('text/plain');
    answer.discard();
  });

  test('a refused connection rejects with its system code', async () => {
    const site = await server(() => ({ status: 200 }));
    await stops.pop()!();
    await expect(
      nodeHttpGet(`${site.origin}/x`, { headers: {}, signal: new AbortController().signal }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
