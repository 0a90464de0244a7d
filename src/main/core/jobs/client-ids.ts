import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';

const BASE_KEY = 'comfy.clientIdBase';

/**
 * ComfyUI client ids that stay the same across restarts of ComfyDesk: one per connection profile,
 * derived from a random base kept in the history database (next to the jobs sent with them).
 * ComfyUI sends a prompt's progress only to the client id it was queued with, so a job still running
 * when ComfyDesk restarts reports to the new session too. Two profiles get different ids, so two
 * connections to the same server never take each other's socket.
 */
export function persistentClientIds(history: HistoryStore, log: Logger): (profileId: string) => string {
  let base: string | undefined;
  try {
    base = history.readState(BASE_KEY);
    if (!base) {
      base = randomUUID();
      history.writeState(BASE_KEY, base);
    }
  } catch (error) {
    log.warn('could not keep the ComfyUI client id; jobs running at a restart will show no progress', { error });
    base = randomUUID();
  }
  const root = base;
  return (profileId) => createHash('sha256').update(`${root}:${profileId}`).digest('hex').slice(0, 32);
}
