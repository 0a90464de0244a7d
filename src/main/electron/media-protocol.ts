import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Net, Protocol } from 'electron';
import { MEDIA_SCHEME } from '@shared/bridge';

/** Must run before the app is ready: the scheme behaves like https (fetch, streaming, CSP 'self'-free). */
export function registerMediaScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
  ]);
}

/** The file a media URL names, or undefined when it points outside the outputs folder. */
export function resolveMediaPath(url: string, outputsDir: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${MEDIA_SCHEME}:` || parsed.host !== 'outputs') return undefined;
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname).replace(/^\/+/, '');
  } catch {
    return undefined;
  }
  const full = resolve(outputsDir, path);
  const inside = relative(outputsDir, full);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? full : undefined;
}

/** Serves files of the outputs folder, and nothing else, to our window. */
export function handleMediaProtocol(deps: {
  protocol: Pick<Protocol, 'handle'>;
  net: Pick<Net, 'fetch'>;
  outputsDir: () => string;
}): void {
  deps.protocol.handle(MEDIA_SCHEME, (request) => {
    const file = resolveMediaPath(request.url, deps.outputsDir());
    if (!file) return new Response('Not found', { status: 404 });
    return deps.net.fetch(pathToFileURL(file).toString());
  });
}
