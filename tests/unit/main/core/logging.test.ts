import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { RotatingFileLog, writeCrashReport } from '../../../../src/main/core/lib/file-log';
import { createLogger } from '../../../../src/main/core/lib/logger';
import { redact, redactText } from '../../../../src/main/core/lib/redact';
import { tempDir } from '../../../support/core';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.remove()));

function dir(): string {
  const made = tempDir('comfydesk-logs-');
  dirs.push(made);
  return made.path;
}

describe('redaction', () => {
  test('secrets never reach a log line', () => {
    expect(redactText('GET /?token=abc123&x=1')).toBe('GET /?token=[redacted]&x=1');
    expect(redactText('Authorization: Bearer eyJhbGciOi.xyz')).toBe('Authorization: Bearer [redacted]');
    expect(redactText('https://user:hunter2@pod.example/')).toBe('https://user:[redacted]@pod.example/');
    expect(redactText('-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----')).toBe(
      '[redacted private key]',
    );
    expect(
      redact({
        host: 'pod',
        passphrase: 'hunter2',
        headers: { Authorization: 'Basic Zm9v' },
        nested: [{ apiKey: 'k' }],
      }),
    ).toEqual({
      host: 'pod',
      passphrase: '[redacted]',
      headers: { Authorization: '[redacted]' },
      nested: [{ apiKey: '[redacted]' }],
    });
  });

  test('errors keep their message and stack, scrubbed', () => {
    const error = new Error('connect to http://a:secret@h failed', { cause: new Error('token=zzz') });
    const safe = redact(error) as { message: string; cause: { message: string }; stack: string };
    expect(safe.message).toBe('connect to http://a:[redacted]@h failed');
    expect(safe.cause.message).toBe('token=[redacted]');
    expect(safe.stack).not.toContain('secret');
  });
});

describe('rotating log file', () => {
  test('records are written redacted, and the file rotates by size keeping a bounded number', () => {
    const logs = dir();
    const file = new RotatingFileLog({ dir: logs, maxBytes: 400, keep: 2 });
    const log = createLogger(file.sink, { level: 'debug', scope: 'test' });
    log.info('opened tunnel', { user: 'root', passphrase: 'hunter2' });
    for (let i = 0; i < 40; i += 1) log.debug(`line ${i} with some padding to fill the file quickly`);
    const names = readdirSync(logs).sort();
    expect(names).toEqual(['comfydesk.log', 'comfydesk.log.1', 'comfydesk.log.2']);
    const all = names.map((name) => readFileSync(join(logs, name), 'utf8')).join('');
    expect(all).not.toContain('hunter2');
    expect(readFileSync(join(logs, 'comfydesk.log'), 'utf8')).toContain('line 39');
  });

  test('a crash leaves a readable report with versions and the stack', () => {
    const logs = dir();
    const path = writeCrashReport(
      logs,
      new TypeError('boom with token=abc'),
      { version: '1.2.3', platform: 'linux' },
      new Date('2026-11-23T10:00:00Z'),
    );
    const text = readFileSync(path!, 'utf8');
    expect(text).toContain('ComfyDesk crash report — 2026-11-23T10:00:00.000Z');
    expect(text).toContain('version: 1.2.3');
    expect(text).toContain('TypeError: boom with token=[redacted]');
    expect(text).toContain('at ');
  });
});
