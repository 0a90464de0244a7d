import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, type Core, type CoreOptions } from '../../src/main/core/create-core';
import { silentLogger, type Logger } from '../../src/main/core/lib/logger';
import { resolvePaths } from '../../src/main/core/paths';
import { MemorySettingsStore } from '../../src/main/core/settings/settings-store';
import { sealSettings } from './sealed';

/** A temporary folder removed by the returned cleanup. */
export function tempDir(prefix = 'comfydesk-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A real core on a temporary data folder with in-memory settings. Its default connection is sealed
 * (see tests/support/sealed.ts) unless `settings` bring connections of their own, or
 * `freshConnections` asks for a fresh install's profile at 127.0.0.1:8188 — allowed only with
 * `connections.autoConnect: false`, so nothing reaches that port.
 */
export async function startTestCore(
  options: {
    log?: Logger;
    dataDir?: string;
    settings?: unknown;
    core?: Partial<CoreOptions>;
    freshConnections?: boolean;
  } = {},
): Promise<{ core: Core; dataDir: string; stop: () => Promise<void> }> {
  if (options.freshConnections && options.core?.connections?.autoConnect !== false)
    throw new Error('freshConnections needs connections.autoConnect: false: a test must not reach 127.0.0.1:8188');
  const dir = options.dataDir ? undefined : tempDir('comfydesk-core-');
  const dataDir = options.dataDir ?? dir!.path;
  const core = await createCore({
    mode: 'serve',
    version: '0.0.0-test',
    paths: resolvePaths(dataDir),
    settingsStore: new MemorySettingsStore(
      options.freshConnections ? options.settings : sealSettings(options.settings),
    ),
    log: options.log ?? silentLogger,
    ...options.core,
  });
  return {
    core,
    dataDir,
    stop: async () => {
      await core.stop();
      dir?.remove();
    },
  };
}

/**
 * Waits until `check` passes or the deadline ends (no fixed sleeps in tests). The default deadline is
 * generous: a condition that holds returns as soon as it does, and a shared CI machine can be slow.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== false && value !== undefined && value !== null)
        return value as Exclude<T, false | undefined | null>;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
  throw new Error(`${options.message ?? 'condition not met in time'}${lastError ? `: ${String(lastError)}` : ''}`);
}
