import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { RENDERER_CSP, isAllowedHostHeader, isAllowedOrigin, tokensEqual } from '../../../../src/main/serve/security';

describe('serve-mode guards', () => {
  test('the token comparison needs the exact token', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'ab')).toBe(false);
    expect(tokensEqual('abc', null)).toBe(false);
  });

  test('only our own page (same origin) or no Origin at all may open the socket', () => {
    expect(isAllowedOrigin(undefined, '127.0.0.1:8082')).toBe(true);
    expect(isAllowedOrigin('http://127.0.0.1:8082', '127.0.0.1:8082')).toBe(true);
    expect(isAllowedOrigin('http://127.0.0.1:9999', '127.0.0.1:8082')).toBe(false);
    expect(isAllowedOrigin('https://evil.example', '127.0.0.1:8082')).toBe(false);
    expect(isAllowedOrigin('null', '127.0.0.1:8082')).toBe(false);
    expect(isAllowedOrigin('file://', '127.0.0.1:8082')).toBe(false);
  });

  test('on loopback, a Host header naming another site (DNS rebinding) is refused', () => {
    expect(isAllowedHostHeader('127.0.0.1:8082', '127.0.0.1')).toBe(true);
    expect(isAllowedHostHeader('localhost:8082', '127.0.0.1')).toBe(true);
    expect(isAllowedHostHeader('[::1]:8082', '127.0.0.1')).toBe(true);
    expect(isAllowedHostHeader('evil.example:8082', '127.0.0.1')).toBe(false);
    expect(isAllowedHostHeader(undefined, '127.0.0.1')).toBe(false);
    expect(isAllowedHostHeader('pod.example:8082', '0.0.0.0')).toBe(true);
  });

  test('on loopback, exactly 127.0.0.1, localhost and [::1] pass, with or without a port; look-alikes do not', () => {
    for (const host of ['127.0.0.1', '127.0.0.1:8082', 'localhost', 'LocalHost:1', '[::1]', '[::1]:65535'])
      expect([host, isAllowedHostHeader(host, '127.0.0.1')]).toEqual([host, true]);
    for (const host of [
      '127.0.0.1.evil.com',
      '127.0.0.1.evil.com:8082',
      '127.evil.com',
      'localhost.evil.com',
      'localhost.',
      'evil-localhost',
      '127.0.0.2',
      '127.1',
      '0x7f000001',
      '::1',
      '[::1].evil.com',
      '[::ffff:127.0.0.1]',
      'user@127.0.0.1',
      'evil.com#@127.0.0.1',
      '127.0.0.1:99999',
      '127.0.0.1:',
      '127.0.0.1:80:80',
      ' 127.0.0.1',
    ])
      expect([host, isAllowedHostHeader(host, '127.0.0.1')]).toEqual([host, false]);
    // Bound to any loopback address, the same rule applies.
    expect(isAllowedHostHeader('127.0.0.1.evil.com', 'localhost')).toBe(false);
    expect(isAllowedHostHeader('localhost:9000', '::1')).toBe(true);
  });

  test('index.html carries the same Content-Security-Policy serve mode sends', () => {
    const html = readFileSync(resolve(import.meta.dirname, '../../../../src/renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
    expect(meta?.[1]).toBe(RENDERER_CSP);
    expect(RENDERER_CSP).toContain("script-src 'self'");
    expect(RENDERER_CSP).not.toContain('unsafe-eval');
  });
});
