import { pathToFileURL } from 'node:url';
import type { Net, Protocol } from 'electron';
import { MEDIA_SCHEME } from '@shared/bridge';
import { realFileInside, resolveInside } from '../core/lib/inside-folder';

/** Must run before the app is ready: the scheme behaves like https (fetch, streaming, CSP 'self'-free). */
export function registerMediaScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
  ]);
}

/** The path a media URL names below the outputs folder (decoded once), or undefined when it is not one. */
export function mediaRelativePath(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${MEDIA_SCHEME}:` || parsed.host !== 'outputs') return undefined;
  try {
    const path = decodeURIComponent(parsed.pathname).replace(/^\/+/, '');
    return path === '' ? undefined : path;
  } catch {
    return undefined;
  }
}

/** The file a media URL names, or undefined when it points outside the outputs folder (by its name alone). */
export function resolveMediaPath(url: string, outputsDir: string): string | undefined {
  const path = mediaRelativePath(url);
  return path === undefined ? undefined : resolveInside(outputsDir, path);
}

/**
 * Serves files of the outputs folder, and nothing else, to our window. The file is checked by its
 * real path, so a symlink in the outputs folder that points elsewhere is refused too.
 */
export function handleMediaProtocol(deps: {
  protocol: Pick<Protocol, 'handle'>;
  net: Pick<Net, 'fetch'>;
  outputsDir: () => string;
}): void {
  deps.protocol.handle(MEDIA_SCHEME, async (request) => {
    const path = mediaRelativePath(request.url);
    const file = path === undefined ? undefined : await realFileInside(deps.outputsDir(), path).catch(() => undefined);
    if (!file) return new Response('Not found', { status: 404 });
    return deps.net.fetch(pathToFileURL(file).toString());
  });
}
