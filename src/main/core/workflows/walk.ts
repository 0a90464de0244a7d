import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemErrorCode } from '../lib/errors';

/** Image files that serve as a workflow's thumbnail when they share its base name, in order of preference. */
export const THUMBNAIL_EXTENSIONS = ['.png', '.webp', '.jpg', '.jpeg', '.gif'] as const;

/** Folders deeper than this below a root are not scanned (a guard against runaway trees). @default 16 */
export const MAX_DEPTH = 16;

/** Hidden files and folders (".git", ".cache", editor swap files) are never part of the library. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.');
}

/** A file the library reads as a workflow: a visible `.json` file. */
export function isWorkflowFileName(name: string): boolean {
  return !isHiddenName(name) && name.toLowerCase().endsWith('.json');
}

/** An image file that may be a workflow's thumbnail. */
export function isThumbnailName(name: string): boolean {
  const lower = name.toLowerCase();
  return !isHiddenName(name) && THUMBNAIL_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/** One folder's worth of what a walk found, paths relative to the root with `/` separators. */
export interface WalkedFolder {
  /** '' for the root itself. */
  folder: string;
  workflows: string[];
  images: string[];
}

/** A folder the walk could not read, and why. */
export interface WalkProblem {
  path: string;
  message: string;
}

/** The thumbnail of a workflow among the images of its folder, relative to the root. */
export function thumbnailFor(workflowPath: string, imagesInFolder: ReadonlySet<string>): string | null {
  if (imagesInFolder.size === 0) return null;
  const slash = workflowPath.lastIndexOf('/');
  const folder = slash >= 0 ? workflowPath.slice(0, slash + 1) : '';
  const base = workflowPath.slice(slash + 1).replace(/\.json$/i, '');
  for (const extension of THUMBNAIL_EXTENSIONS) {
    for (const candidate of [`${base}${extension}`, `${base}${extension.toUpperCase()}`]) {
      if (imagesInFolder.has(candidate)) return `${folder}${candidate}`;
    }
  }
  return null;
}

/**
 * Walks a workflow root breadth first: hidden entries are skipped, symlinked folders are followed
 * once (a link back up the tree is not walked again), and a folder that cannot be read is reported
 * and skipped instead of ending the walk.
 */
export async function walkRoot(
  root: string,
  options: { signal?: AbortSignal; maxDepth?: number; onProblem?: (problem: WalkProblem) => void } = {},
): Promise<WalkedFolder[]> {
  const maxDepth = options.maxDepth ?? MAX_DEPTH;
  const seen = new Set<string>();
  const folders: WalkedFolder[] = [];
  const rootReal = await realpath(root);
  seen.add(rootReal);
  let level: string[] = [''];
  for (let depth = 0; level.length > 0 && depth <= maxDepth; depth += 1) {
    options.signal?.throwIfAborted();
    const next: string[] = [];
    const listed = await Promise.all(
      level.map(async (folder) => ({ folder, entries: await list(join(root, folder), folder, options.onProblem) })),
    );
    for (const { folder, entries } of listed) {
      const found: WalkedFolder = { folder, workflows: [], images: [] };
      const prefix = folder === '' ? '' : `${folder}/`;
      for (const entry of entries) {
        if (isHiddenName(entry.name)) continue;
        const relative = `${prefix}${entry.name}`;
        if (entry.isDirectory()) {
          const real = await realpath(join(root, relative)).catch(() => undefined);
          if (real && !seen.has(real)) {
            seen.add(real);
            next.push(relative);
          }
        } else if (entry.isSymbolicLink()) {
          const target = await followLink(join(root, relative));
          if (target?.isDirectory && !seen.has(target.real)) {
            seen.add(target.real);
            next.push(relative);
          } else if (target?.isFile) {
            classify(found, entry.name, relative);
          }
        } else if (entry.isFile()) {
          classify(found, entry.name, relative);
        }
      }
      if (found.workflows.length > 0 || found.images.length > 0) folders.push(found);
    }
    level = next;
  }
  return folders;
}

function classify(found: WalkedFolder, name: string, relative: string): void {
  if (isWorkflowFileName(name)) found.workflows.push(relative);
  else if (isThumbnailName(name)) found.images.push(name);
}

async function list(
  absolute: string,
  folder: string,
  onProblem: ((problem: WalkProblem) => void) | undefined,
): Promise<Dirent[]> {
  try {
    return await readdir(absolute, { withFileTypes: true });
  } catch (error) {
    const code = systemErrorCode(error);
    // The root itself must exist; the caller reports a missing root on its own terms.
    if (folder === '' && code === 'ENOENT') throw error;
    onProblem?.({
      path: folder,
      message:
        code === 'EACCES' || code === 'EPERM'
          ? 'not allowed to read this folder'
          : `could not read this folder (${code ?? 'unknown error'})`,
    });
    return [];
  }
}

async function followLink(path: string): Promise<{ real: string; isDirectory: boolean; isFile: boolean } | undefined> {
  try {
    const real = await realpath(path);
    const stats = await stat(real);
    return { real, isDirectory: stats.isDirectory(), isFile: stats.isFile() };
  } catch {
    return undefined; // a dangling or looping link is simply not part of the library
  }
}
