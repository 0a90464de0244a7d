import { describe, expect, test } from 'vitest';
import { mediaUrl } from '../../../../src/renderer/src/api/media';
import { resolveMediaPath } from '../../../../src/main/electron/media-protocol';

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
});
