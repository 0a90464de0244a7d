import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { canonicalFolder } from './node-types';

/** One model file the catalog knows. */
export const CatalogModel = z.object({
  name: z.string().min(1),
  folder: z.string().min(1),
  url: z.string().optional(),
  /** Download size, bytes. */
  sizeBytes: z.number().int().positive().optional(),
  /** Model family (SD1.5, Flux, Wan2.2…), for people reading the file. */
  family: z.string().optional(),
  /** The name of the newer version of this file: workflows using this one get "Update". */
  supersededBy: z.string().optional(),
  /** Why the newer version is better, shown next to "Update". */
  note: z.string().optional(),
  /** A typical run time of a workflow built on this model, seconds; shown as an estimate when the workflow never ran on the server. */
  typicalSeconds: z.number().positive().optional(),
});
export type CatalogModel = z.infer<typeof CatalogModel>;

/** The catalog file: ComfyDesk's own in resources/models/catalog.json, and the user's beside the settings. */
export const CatalogFile = z.object({
  version: z.literal(1),
  models: z.array(CatalogModel),
});
export type CatalogFile = z.infer<typeof CatalogFile>;

const key = (folder: string, name: string) => `${canonicalFolder(folder)}\u0000${name}`;

/**
 * The model catalog: sizes, newer versions and run-time hints of known model files. The user's
 * file extends the bundled one; an entry for the same folder and name replaces the bundled one.
 */
export class ModelCatalog {
  readonly #byKey = new Map<string, CatalogModel>();
  readonly #byName = new Map<string, CatalogModel[]>();

  constructor(files: CatalogFile[] = []) {
    for (const file of files) for (const model of file.models) this.#add(model);
  }

  #add(model: CatalogModel): void {
    this.#byKey.set(key(model.folder, model.name), model);
    const list = (this.#byName.get(model.name) ?? []).filter(
      (entry) => canonicalFolder(entry.folder) !== canonicalFolder(model.folder),
    );
    this.#byName.set(model.name, [...list, model]);
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** The entry for a file; with an unknown folder, the only entry of that name if there is exactly one. */
  find(name: string, folder: string | null): CatalogModel | undefined {
    if (folder !== null) return this.#byKey.get(key(folder, name));
    const candidates = this.#byName.get(name) ?? [];
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  /** The newest version of a file, following `supersededBy` links (cycles stop); undefined when it is current. */
  newest(name: string, folder: string | null): CatalogModel | undefined {
    let entry = this.find(name, folder);
    const seen = new Set<string>();
    let newest: CatalogModel | undefined;
    while (entry?.supersededBy && !seen.has(entry.name)) {
      seen.add(entry.name);
      const next: CatalogModel = this.find(entry.supersededBy, entry.folder) ?? {
        name: entry.supersededBy,
        folder: entry.folder,
      };
      newest = next;
      entry = next;
    }
    return newest;
  }
}

/**
 * Reads a user catalog file. A missing file is normal (no extensions); a damaged one is logged and
 * ignored, never rewritten, so the user can fix it.
 */
export async function readCatalogFile(path: string, log: Logger): Promise<CatalogFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (systemErrorCode(error) !== 'ENOENT') log.warn('model catalog unreadable', { path, error });
    return undefined;
  }
  try {
    const parsed = CatalogFile.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    log.warn('model catalog has invalid entries; it is ignored', { path, issues: parsed.error.issues.slice(0, 5) });
  } catch (error) {
    log.warn('model catalog is not valid JSON; it is ignored', { path, error });
  }
  return undefined;
}
