import type { ServerInventory } from '@shared/domain/inventory';
import type { Unsubscribe } from '../lib/emitter';

/**
 * Where the library learns what the connected ComfyUI server has installed. The connections area
 * implements it (from `/object_info` and `/models/{folder}`); with none, every workflow's status is
 * "not connected" rather than a guess.
 */
export interface InventorySource {
  /** The current server's inventory, or undefined while no server is connected. */
  current(): ServerInventory | undefined;
  /** Told whenever the inventory changes (a server connects, disconnects, or its models change). */
  on(event: 'changed', listener: (inventory: ServerInventory | undefined) => void): Unsubscribe;
}

/** Past run durations, kept by the jobs history. */
export interface RunStats {
  /** Median duration of this workflow's finished runs on that server, ms; undefined when it never ran there. */
  medianDurationMs(workflowId: string, serverId: string): number | undefined;
}

/**
 * Finds the download size of a model from its URL (an HTTP HEAD in production), bytes; undefined
 * when the server does not say. Called in the background, never while scanning.
 */
export type ModelSizeFetcher = (url: string, signal: AbortSignal) => Promise<number | undefined>;

/** Shows a file in the system's file manager; false where there is none (serve mode, the CLI). */
export type FileRevealer = (path: string) => Promise<boolean>;

/**
 * The production size fetcher: a HEAD request, redirects followed. Hugging Face answers a
 * `resolve/` URL with a redirect whose `x-linked-size` header carries the real size, so that is
 * preferred over `content-length` of whatever page answered last.
 */
export function headSizeFetcher(fetchImpl: typeof fetch = fetch): ModelSizeFetcher {
  return async (url, signal) => {
    if (!/^https?:\/\//i.test(url)) return undefined;
    const response = await fetchImpl(url, { method: 'HEAD', redirect: 'follow', signal });
    if (!response.ok) return undefined;
    for (const header of ['x-linked-size', 'content-length']) {
      const value = Number(response.headers.get(header));
      if (Number.isFinite(value) && value > 0) return value;
    }
    return undefined;
  };
}
