import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Tests never talk to a port they did not open. A fresh install's default connection is ComfyUI's
 * own address, 127.0.0.1:8188 — exactly where a ComfyUI user's real server runs — so every core a
 * test starts gets this default connection instead: the same "This computer" profile, at port 0,
 * where nothing can ever listen (a connect is refused at once, as when ComfyUI is not running).
 */
export const SEALED_LOCAL_URL = 'http://127.0.0.1:0';

/** The connections section of a fresh install, with the local profile pointed at {@link SEALED_LOCAL_URL}. */
export function sealedConnections() {
  return {
    profiles: [{ id: 'local', name: 'This computer', kind: 'local' as const, url: SEALED_LOCAL_URL }],
    activeId: 'local',
    alsoOnline: [] as string[],
  };
}

/** `settings` with sealed connections, unless the test brings connections of its own. */
export function sealSettings(settings: unknown): Record<string, unknown> {
  const own = typeof settings === 'object' && settings !== null ? (settings as Record<string, unknown>) : {};
  return 'connections' in own ? own : { ...own, connections: sealedConnections() };
}

/**
 * Makes a data folder sealed before a CLI, serve mode or the desktop shell starts on it: its
 * `settings.json` gets sealed connections unless the test wrote connections of its own there.
 */
export function sealDataDir(dataDir: string, fileName = 'settings.json'): void {
  const file = join(dataDir, fileName);
  let current: unknown = {};
  if (existsSync(file)) {
    try {
      current = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return; // a test of a damaged settings file: leave it exactly as the test wrote it
    }
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return;
    if ('connections' in current) return;
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(sealSettings(current), null, 2));
}
