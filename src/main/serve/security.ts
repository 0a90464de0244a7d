import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The renderer's Content-Security-Policy. index.html carries the same policy in a meta tag (a unit
 * test keeps them equal); serve mode also sends it as a header, where frame-ancestors works too.
 */
export const RENDERER_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: comfydesk-media:; media-src 'self' blob: comfydesk-media:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `${RENDERER_CSP}; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The token rides in the page URL; never hand it to another site through Referer.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** A fresh per-run token: 192 random bits, URL-safe. */
export function createToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokensEqual(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieName(port: number): string {
  // Cookies are not separated by port, so two serve instances on one host need different names.
  return `comfydesk_token_${port}`;
}

export function readCookie(request: IncomingMessage, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether serve mode is bound to a loopback address (any 127.x, localhost, ::1), so only this machine reaches it. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTNAMES.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The Host headers a loopback server answers: exactly `127.0.0.1`, `localhost` or `[::1]`, each with
 * an optional port. Nothing is parsed leniently, so `127.0.0.1.evil.com`, `localhost.evil.com`,
 * `evil.com#@127.0.0.1` or a user-info trick never pass as loopback.
 */
const LOOPBACK_HOST_HEADER = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/i;

/**
 * When serving on loopback, the Host header must name loopback too: a page on another site that
 * resolves its own name to 127.0.0.1 (DNS rebinding) is turned away before any token check.
 */
export function isAllowedHostHeader(hostHeader: string | undefined, boundHost: string): boolean {
  if (!hostHeader) return false;
  if (!isLoopbackHost(boundHost)) return true;
  const port = /:(\d+)$/.exec(hostHeader)?.[1];
  return LOOPBACK_HOST_HEADER.test(hostHeader) && (port === undefined || Number(port) <= 65_535);
}

/**
 * A WebSocket upgrade may come from our own page (Origin equals this server) or from a non-browser
 * client that sends no Origin at all. Anything else is another site's page trying to drive the app.
 */
export function isAllowedOrigin(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!hostHeader) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${hostHeader}`).host;
  } catch {
    return false;
  }
}
