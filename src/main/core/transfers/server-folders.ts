import type { ComfyClient } from '../comfy/comfy-client';
import { AppError } from '../lib/errors';
import { canonicalFolder } from '../workflows/node-types';

/** Folder key → absolute folders on the server's machine, in the server's order (the first is where new files go). */
export type FolderPaths = Record<string, string[]>;

/** What reading the folders needs of a ComfyUI client. */
export type FolderPathsClient = Pick<ComfyClient, 'route' | 'baseUrl'>;

/**
 * Asks the server where its folders are: `GET /internal/folder_paths` (ComfyUI ≥ 0.3.x, not under
 * `/api`), else `GET /api/experiment/models`. Destinations are never guessed: a server that answers
 * neither is an error.
 */
export async function readFolderPaths(client: FolderPathsClient, signal?: AbortSignal): Promise<FolderPaths> {
  const internal = await tryJson(client, '/internal/folder_paths', true, signal);
  const fromInternal = internal === undefined ? undefined : parseInternal(internal);
  if (fromInternal) return fromInternal;
  const experiment = await tryJson(client, '/experiment/models', false, signal);
  const fromExperiment = experiment === undefined ? undefined : parseExperiment(experiment);
  if (fromExperiment) return fromExperiment;
  throw new AppError(
    'comfy_unexpected_response',
    `ComfyUI at ${client.baseUrl} did not say where its model folders are (it answered neither /internal/folder_paths nor /api/experiment/models), so ComfyDesk does not know where to put files. Update ComfyUI, or use the commands shown to place the files yourself.`,
  );
}

/** The server's folders for a folder key (legacy aliases such as `clip` and `unet` map to today's keys). */
export function foldersFor(paths: FolderPaths, folder: string): string[] {
  if (paths[folder]?.length) return paths[folder];
  const canonical = canonicalFolder(folder);
  if (paths[canonical]?.length) return paths[canonical];
  for (const [key, dirs] of Object.entries(paths)) if (canonicalFolder(key) === canonical && dirs.length) return dirs;
  return [];
}

async function tryJson(
  client: FolderPathsClient,
  path: string,
  isInternal: boolean,
  signal?: AbortSignal,
): Promise<unknown> {
  let response: Response;
  try {
    response = await client.route(path, { isInternal }, { timeoutMs: 15_000, signal });
  } catch (error) {
    // Unreachable is a real failure; the caller's next step would fail the same way.
    if (error instanceof AppError && error.code !== 'comfy_http_error') throw error;
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

/** `{folder: [paths]}` (0.3.64) or `{folder: [[paths], [extensions]]}` (older builds). */
function parseInternal(raw: unknown): FolderPaths | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const out: FolderPaths = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Array.isArray(value)) continue;
    const list = Array.isArray(value[0]) ? (value[0] as unknown[]) : value;
    const dirs = list.filter((item): item is string => typeof item === 'string' && item.length > 0);
    if (dirs.length > 0) out[key] = dirs;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `[{name, folders}]`. */
function parseExperiment(raw: unknown): FolderPaths | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: FolderPaths = {};
  for (const item of raw) {
    if (typeof item !== 'object' || item === null) continue;
    const { name, folders } = item as { name?: unknown; folders?: unknown };
    if (typeof name !== 'string' || !Array.isArray(folders)) continue;
    const dirs = folders.filter((dir): dir is string => typeof dir === 'string' && dir.length > 0);
    if (dirs.length > 0) out[name] = dirs;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
