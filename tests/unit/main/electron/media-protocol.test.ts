import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { mediaUrl } from '../../../../src/renderer/src/api/media';
import { handleMediaProtocol, resolveMediaPath } from '../../../../src/main/electron/media-protocol';
import { tempDir } from '../../../support/core';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

/** The protocol handler on a real outputs folder, with a net.fetch that answers the file URL it was given. */
function mediaHandler(outputsDir: string) {
  let handler: ((request: Request) => Promise<Response> | Response) | undefined;
  handleMediaProtocol({
    protocol: { handle: (_scheme: string, registered: typeof handler) => (handler = registered) } as never,
    net: { fetch: async (url: string) => new Response(`fetched ${url}`) } as never,
    outputsDir: () => outputsDir,
  });
  return (url: string) => handler!({ url } as Request);
}

describe('outputs for the window', () => {
  test('the renderer builds the scheme URL in Electron and the /media/ route in serve mode, encoding each segment', () => {
    expect(mediaUrl('2026-11-23/fox #1.png', true)).toBe('comfydesk-media://outputs/2026-11-23/fox%20%231.png');
    expect(mediaUrl('2026-11-23/fox #1.png', false)).toBe('/media/2026-11-23/fox%20%231.png');
  });

  test('the protocol resolves only files inside the outputs folder', () => {
    expect(resolveMediaPath('comfydesk-media://outputs/2026-11-23/fox%20%231.png', '/data/outputs')).toBe(
      '/data/outputs/2026-11-23/fox #1.png',
    );
    // URL parsing already folds a literal .. at the root, so it can only name something inside.
    expect(resolveMediaPath('comfydesk-media://outputs/../settings.json', '/data/outputs')).toBe(
      '/data/outputs/settings.json',
    );
    expect(resolveMediaPath('comfydesk-media://outputs/%2e%2e/settings.json', '/data/outputs')).toBe(
      '/data/outputs/settings.json',
    );
    // Encoded slashes survive URL parsing; decoding them must not lead outside.
    expect(resolveMediaPath('comfydesk-media://outputs/..%2F..%2Fsettings.json', '/data/outputs')).toBeUndefined();
    expect(
      resolveMediaPath('comfydesk-media://outputs/a%2F..%2F..%2F..%2Fetc%2Fpasswd', '/data/outputs'),
    ).toBeUndefined();
    // Any file name round-trips: built by the page, read back by the protocol.
    const odd = '2026-11-23/Blur + invert & co, #2 $5: a=b @home 100%/a+b&c%20d.png';
    expect(resolveMediaPath(mediaUrl(odd, true), '/data/outputs')).toBe(`/data/outputs/${odd}`);
    expect(resolveMediaPath('comfydesk-media://elsewhere/x.png', '/data/outputs')).toBeUndefined();
    expect(resolveMediaPath('comfydesk-media://outputs/', '/data/outputs')).toBeUndefined();
    expect(resolveMediaPath('https://outputs/x.png', '/data/outputs')).toBeUndefined();
  });

  test('the protocol refuses a symlink that leaves the outputs folder, judged by its real path', async () => {
    const dir = tempDir('comfydesk-media-');
    dirs.push(dir);
    const outputs = join(dir.path, 'outputs');
    mkdirSync(join(outputs, 'day'), { recursive: true });
    writeFileSync(join(outputs, 'day', 'a.png'), 'png');
    writeFileSync(join(dir.path, 'settings.json'), '{}');
    symlinkSync(join(dir.path, 'settings.json'), join(outputs, 'day', 'b.png'));
    symlinkSync(dir.path, join(outputs, 'up'));
    symlinkSync(join(outputs, 'day', 'a.png'), join(outputs, 'same.png'));
    const fetchMedia = mediaHandler(outputs);

    expect(await (await fetchMedia('comfydesk-media://outputs/day/a.png')).text()).toBe(
      `fetched file://${outputs}/day/a.png`,
    );
    expect(await (await fetchMedia('comfydesk-media://outputs/same.png')).text()).toBe(
      `fetched file://${outputs}/day/a.png`,
    );
    expect((await fetchMedia('comfydesk-media://outputs/day/b.png')).status).toBe(404);
    expect((await fetchMedia('comfydesk-media://outputs/up/settings.json')).status).toBe(404);
    expect((await fetchMedia('comfydesk-media://outputs/day')).status).toBe(404);
    expect((await fetchMedia('comfydesk-media://outputs/day/missing.png')).status).toBe(404);
  });
});
