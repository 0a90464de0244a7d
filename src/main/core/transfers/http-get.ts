import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** One HTTP answer as the downloader reads it: status, headers, and the body as a Node stream. */
export interface HttpAnswer {
  status: number;
  /** The address that answered, after redirects. */
  url: string;
  header(name: string): string | null;
  body: Readable;
  /** Drops the body unread (and its connection). */
  discard(): void;
}

/** A GET that follows redirects; rejects on network errors and when `signal` aborts. */
export type HttpGet = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<HttpAnswer>;

/** As many redirects as fetch follows. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that identify the user: never sent on to another origin (as fetch does on a redirect). */
const CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * GET with node:http(s). The body's chunks are views of the socket's reads: fetch (undici) copies each
 * into its WASM parser and again into a new Uint8Array for its web stream, which made a download to this
 * machine cost twice the CPU of curl. Sends no Accept-Encoding, so the bytes arrive as they are on the
 * server and a Range means the same bytes as in the file.
 */
export const nodeHttpGet: HttpGet = async (url, { headers, signal }) => {
  let address = new URL(url);
  // What fetch sent before (servers and the tests tell ComfyDesk from curl and wget by it).
  let sent: Record<string, string> = { 'user-agent': 'node', accept: '*/*', ...headers };
  for (let redirects = 0; ; redirects += 1) {
    const response = await requestOnce(address, sent, signal);
    // Errors reach the reader through finished(); one before it listens must not go uncaught.
    response.on('error', () => undefined);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined || redirects >= MAX_REDIRECTS) {
      return {
        status: response.statusCode ?? 0,
        url: address.toString(),
        header: (name) => headerValue(response.headers, name),
        body: response,
        discard: () => response.destroy(),
      };
    }
    response.destroy();
    const next = new URL(location, address);
    if (next.origin !== address.origin)
      sent = Object.fromEntries(Object.entries(sent).filter(([name]) => !CREDENTIALS.has(name.toLowerCase())));
    address = next;
  }
};

function requestOnce(address: URL, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
  if (address.protocol !== 'http:' && address.protocol !== 'https:')
    return Promise.reject(new Error(`${address.protocol} addresses cannot be downloaded`));
  const request = address.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    request(address, { headers, signal }, resolve).on('error', reject).end();
  });
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** An injected fetch (tests, a proxy-aware fetch) behind the same shape. */
export function fetchHttpGet(fetchImpl: typeof fetch): HttpGet {
  return async (url, { headers, signal }) => {
    const response = await fetchImpl(url, { headers, signal, redirect: 'follow' });
    const webBody = response.body as NodeReadableStream<Uint8Array> | null;
    const body = webBody ? Readable.fromWeb(webBody) : Readable.from([]);
    body.on('error', () => undefined);
    return {
      status: response.status,
      url: response.url || url,
      header: (name) => response.headers.get(name),
      body,
      discard: () => body.destroy(),
    };
  };
}
