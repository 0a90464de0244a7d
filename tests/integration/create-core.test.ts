import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { InventorySource } from '../../src/main/core/workflows/ports';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('createCore', () => {
  test('when a later step fails, what the earlier steps opened is released: the history database is closed and no socket stays open', async () => {
    const comfy: ComfyTestServer = await startComfyServer();
    cleanups.push(() => comfy.stop());
    const data = tempDir('comfydesk-core-fail-');
    cleanups.push(() => data.remove());
    // The library is built after settings, history and connections; its inventory source fails.
    const failing: InventorySource = {
      current: () => undefined,
      on: () => {
        throw new Error('inventory source broke');
      },
    };
    await expect(
      startTestCore({
        dataDir: data.path,
        settings: {
          connections: {
            profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
            activeId: 'test',
            alsoOnline: [],
          },
        },
        core: { inventory: failing, connections: { healthIntervalMs: 300, checkTimeoutMs: 1500 } },
      }),
    ).rejects.toThrow('inventory source broke');
    // SQLite removes the write-ahead log when the last connection closes.
    expect(readdirSync(data.path)).toContain('history.db');
    expect(existsSync(join(data.path, 'history.db-wal'))).toBe(false);
    await waitFor(() => comfy.socketClientIds().length === 0, { message: 'a ComfyUI socket stayed open' });

    // The same data folder starts cleanly afterwards.
    const again = await startTestCore({ dataDir: data.path });
    await again.core.stop();
  });
});
