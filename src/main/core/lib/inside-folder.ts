import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { systemErrorCode } from './errors';

/**
 * The one answer to "is this path inside that folder", for every place that hands out or deletes
 * files by a path that came from outside (a URL, a history record, the renderer): serve mode's
 * `/media/`, the Electron media protocol, reveal and delete of outputs.
 *
 * The lexical check alone is not enough: a symlink inside the folder (or a linked sub folder) can
 * point anywhere, so what is read is checked by its real path against the folder's real path.
 */

/** Whether `path` is `folder` itself or lies below it, comparing the paths as written (no file system access). */
export function isInsideFolder(folder: string, path: string): boolean {
  const rel = relative(resolve(folder), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `relativePath` resolved under `folder`, or undefined when it would lead outside it (`..`, an
 * absolute path) or names the folder itself. Lexical only: use {@link realFileInside} before reading.
 */
export function resolveInside(folder: string, relativePath: string): string | undefined {
  if (relativePath.includes('\0')) return undefined;
  const full = resolve(folder, relativePath);
  return full !== resolve(folder) && isInsideFolder(folder, full) ? full : undefined;
}

/**
 * The real path of the existing file `relativePath` names under `folder`, following every symlink,
 * or undefined when it is not a file or its real location is outside the folder's real location.
 * What this returns is safe to read or show.
 */
export async function realFileInside(folder: string, relativePath: string): Promise<string | undefined> {
  const full = resolveInside(folder, relativePath);
  if (!full) return undefined;
  try {
    const [realFolder, realFull] = await Promise.all([realpath(folder), realpath(full)]);
    if (realFull === realFolder || !isInsideFolder(realFolder, realFull)) return undefined;
    return (await stat(realFull)).isFile() ? realFull : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * The path to delete for `relativePath` under `folder`: the entry itself (a symlink is removed, not
 * what it points to), provided the folder it sits in really is inside `folder`. Undefined when it
 * would lead outside, or when its parent folder no longer exists.
 */
export async function removablePathInside(folder: string, relativePath: string): Promise<string | undefined> {
  const full = resolveInside(folder, relativePath);
  if (!full) return undefined;
  try {
    const [realFolder, realParent] = await Promise.all([realpath(folder), realpath(dirname(full))]);
    return isInsideFolder(realFolder, realParent) ? join(realParent, basename(full)) : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = systemErrorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
