import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { systemErrorCode } from '../lib/errors';
import { isInsideFolder } from '../lib/inside-folder';

/** What an outputs folder is checked against. */
export interface OutputsDirContext {
  /** The data folder: settings, secrets and history must never be served as outputs. */
  dataDir: string;
  /** @default os.homedir() */
  home?: string;
}

/**
 * What is wrong with `dir` as the outputs folder, in a sentence for beside the field, or undefined
 * when it is fine. Everything in the outputs folder is shown to the app's page (and, in serve
 * mode, to any browser with the link), so it must be a folder of its own: not a drive's root, not
 * the home folder, and not a folder that holds ComfyDesk's own data.
 */
export function outputsDirProblem(dir: string, context: OutputsDirContext): string | undefined {
  if (dir.includes('\0') || !isAbsolute(dir)) return 'Enter a full path, such as /home/you/Pictures/ComfyDesk.';
  const full = resolve(dir);
  if (dirname(full) === full) return 'Pick a folder of its own for outputs, not the root of a drive.';
  const home = context.home ?? homedir();
  if (isInsideFolder(full, home))
    return 'Pick a folder of its own for outputs, such as Pictures/ComfyDesk, not your home folder or one that holds it.';
  if (isInsideFolder(full, context.dataDir))
    return "That folder holds ComfyDesk's own data (settings, history); pick a folder of its own for outputs.";
  return undefined;
}

/** {@link outputsDirProblem}, plus what only the disk can tell: a file where the folder should be. */
export function outputsDirProblemOnDisk(dir: string, context: OutputsDirContext): string | undefined {
  const problem = outputsDirProblem(dir, context);
  if (problem) return problem;
  try {
    if (!statSync(dir).isDirectory()) return 'That is a file, not a folder.';
  } catch (error) {
    // A folder that does not exist yet is made when the first output is saved.
    if (systemErrorCode(error) !== 'ENOENT') return 'ComfyDesk cannot use that folder (it cannot be read).';
  }
  return undefined;
}
