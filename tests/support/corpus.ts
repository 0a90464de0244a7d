import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseObjectInfo, type ObjectInfo } from '../../src/main/core/comfy/object-info';
import { CORPUS_DIR, FIXTURES, RECORDED_OBJECT_INFO } from './paths';

/** The recorded `/object_info` of ComfyUI 0.3.64, parsed once per test file. */
export function recordedObjectInfo(): ObjectInfo {
  return parseObjectInfo(JSON.parse(readFileSync(RECORDED_OBJECT_INFO, 'utf8'))).objectInfo;
}

/**
 * The recording plus the few core node definitions the recording machine could not load or that
 * came later (see `object_info-supplement.json`); only for comparing the UI/API pairs in full.
 */
export function supplementedObjectInfo(): ObjectInfo {
  const supplement = JSON.parse(
    readFileSync(join(FIXTURES, 'comfyui', 'object_info-supplement.json'), 'utf8'),
  ) as Record<string, unknown>;
  delete supplement._about;
  return { ...recordedObjectInfo(), ...parseObjectInfo(supplement).objectInfo };
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Every file under `dir`, recursively, sorted. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** A corpus file's path relative to the corpus root, for readable test names. */
export function corpusName(path: string): string {
  return CORPUS_DIR ? relative(CORPUS_DIR, path) : path;
}

/** The corpus' UI/API pairs cut from example images: `<name>.workflow.json` beside `<name>.prompt.json`. */
export function corpusPairs(): Array<{ name: string; workflow: string; prompt: string }> {
  if (!CORPUS_DIR) return [];
  return filesUnder(join(CORPUS_DIR, 'comfyui_examples', 'embedded_in_images'))
    .filter((file) => file.endsWith('.workflow.json'))
    .map((workflow) => ({
      name: corpusName(workflow).replace('comfyui_examples/embedded_in_images/', '').replace('.workflow.json', ''),
      workflow,
      prompt: workflow.replace(/\.workflow\.json$/, '.prompt.json'),
    }));
}
