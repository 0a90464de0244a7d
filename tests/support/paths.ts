import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const FIXTURES = join(ROOT, 'tests', 'fixtures');
/** The recorded `GET /object_info` of a real ComfyUI 0.3.64. */
export const RECORDED_OBJECT_INFO = join(FIXTURES, 'comfyui', 'object_info.json');
export const TRANSCRIPTS_DIR = join(FIXTURES, 'comfyui', 'transcripts');

/**
 * The shared corpus of real public workflows (about 540 files, kept outside the repository):
 * COMFYDESK_CORPUS_DIR, else `../shared/corpus` beside the checkout. Undefined when absent; tests
 * that need it are then skipped and counted as skipped.
 */
export const CORPUS_DIR: string | undefined = [
  process.env.COMFYDESK_CORPUS_DIR,
  join(ROOT, '..', 'shared', 'corpus'),
].find((candidate): candidate is string => candidate !== undefined && existsSync(join(candidate, 'README.md')));
