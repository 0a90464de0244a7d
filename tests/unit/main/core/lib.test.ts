import { describe, expect, test } from 'vitest';
import { Disposer } from '../../../../src/main/core/lib/disposer';
import { Emitter } from '../../../../src/main/core/lib/emitter';
import { AppError, fileError, serializeError } from '../../../../src/main/core/lib/errors';
import { createLogger, MemorySink } from '../../../../src/main/core/lib/logger';
import { defaultDataDir } from '../../../../src/main/core/paths';

describe('Emitter', () => {
  test('a listener that throws is logged and the others still run', () => {
    const sink = new MemorySink();
    const emitter = new Emitter<{ tick: number }>(createLogger(sink.sink));
    const seen: number[] = [];
    emitter.on('tick', () => {
      throw new Error('boom');
    });
    emitter.on('tick', (value) => seen.push(value));
    emitter.emit('tick', 1);
    expect(seen).toEqual([1]);
    expect(sink.records[0]?.message).toBe('event listener threw');
  });

  test('unsubscribe stops delivery; onAny sees every event', () => {
    const emitter = new Emitter<{ a: number; b: string }>();
    const seen: unknown[] = [];
    const off = emitter.on('a', (value) => seen.push(value));
    emitter.onAny((name, payload) => seen.push(`${String(name)}:${String(payload)}`));
    emitter.emit('a', 1);
    off();
    emitter.emit('a', 2);
    emitter.emit('b', 'x');
    expect(seen).toEqual([1, 'a:1', 'a:2', 'b:x']);
  });
});

describe('Disposer', () => {
  test('releases in reverse order, once, even when one teardown fails', async () => {
    const order: string[] = [];
    const disposer = new Disposer();
    disposer.add(() => void order.push('first'));
    disposer.add(() => {
      throw new Error('x');
    });
    disposer.add(async () => void order.push('last'));
    await disposer.dispose();
    await disposer.dispose();
    expect(order).toEqual(['last', 'first']);
  });
});

describe('errors', () => {
  test('file errors become messages a person can act on', () => {
    expect(fileError(Object.assign(new Error(), { code: 'ENOSPC' }), 'write', '/x').code).toBe('disk_full');
    expect(fileError(Object.assign(new Error(), { code: 'EACCES' }), 'read', '/x').userMessage).toContain(
      'not allowed',
    );
    expect(fileError(new Error('?'), 'read', '/x').code).toBe('io_error');
  });

  test('serializeError keeps AppError fields and hides everything else', () => {
    expect(serializeError(new AppError('not_found', 'Gone.'))).toEqual({ code: 'not_found', userMessage: 'Gone.' });
    expect(serializeError(new Error('internal detail')).code).toBe('internal');
  });
});

describe('defaultDataDir', () => {
  test('matches Electron userData per platform and honours COMFYDESK_HOME', () => {
    expect(defaultDataDir({ COMFYDESK_HOME: '/data' }, 'linux')).toBe('/data');
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/cfg' }, 'linux')).toBe('/cfg/ComfyDesk');
    expect(defaultDataDir({ APPDATA: 'C:/Users/me/AppData/Roaming' }, 'win32')).toMatch(/Roaming.ComfyDesk$/);
    expect(defaultDataDir({}, 'darwin')).toMatch(/Library.Application Support.ComfyDesk$/);
  });
});
