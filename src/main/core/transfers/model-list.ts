import { z } from 'zod';
import { canonicalFolder } from '../workflows/node-types';

/** One entry of ComfyUI-Manager's `model-list.json`, as ComfyUI-Manager's install route wants it back. */
export const ManagerModelEntry = z.looseObject({
  name: z.string(),
  type: z.string(),
  base: z.string(),
  save_path: z.string(),
  filename: z.string(),
  url: z.string(),
  size: z.string().optional(),
});
export type ManagerModelEntry = z.infer<typeof ManagerModelEntry>;

/** A known model file: where it goes and where it comes from. */
export interface KnownModel {
  /** The file name (without folders). */
  fileName: string;
  /** ComfyUI's folder key. */
  folder: string;
  url: string;
  /** Approximate size from the list ("2.13GB"); exact sizes come from HEAD. */
  approxBytes?: number;
  /** The entry itself, for ComfyUI-Manager's install route (only entries of its list are accepted). */
  entry: ManagerModelEntry;
}

/** ComfyUI-Manager's model types → folder keys, for entries saved to `default`. */
const TYPE_FOLDERS: Record<string, string> = {
  checkpoints: 'checkpoints',
  checkpoint: 'checkpoints',
  unclip: 'checkpoints',
  text_encoders: 'text_encoders',
  clip: 'text_encoders',
  vae: 'vae',
  lora: 'loras',
  't2i-adapter': 'controlnet',
  't2i-style': 'controlnet',
  controlnet: 'controlnet',
  clip_vision: 'clip_vision',
  gligen: 'gligen',
  upscale: 'upscale_models',
  embedding: 'embeddings',
  embeddings: 'embeddings',
  unet: 'diffusion_models',
  diffusion_model: 'diffusion_models',
};

/** "4.71MB" → bytes (decimal units, as the list writes them); undefined when unreadable. */
export function parseApproxSize(text: string | undefined): number | undefined {
  const match = text ? /^\s*([\d.]+)\s*([KMGT]?)i?B?\s*$/i.exec(text) : null;
  if (!match) return undefined;
  const value = Number(match[1]);
  const power = { '': 0, K: 1, M: 2, G: 3, T: 4 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number.isFinite(value) && value > 0 ? Math.round(value * 1000 ** power) : undefined;
}

/** The folder key an entry is saved to (its `save_path`'s first part, or its type's folder for `default`). */
export function entryFolder(entry: ManagerModelEntry): string | undefined {
  if (entry.save_path === 'default') return TYPE_FOLDERS[entry.type.toLowerCase()];
  if (entry.save_path.startsWith('custom_nodes') || entry.save_path.includes('..')) return undefined;
  return canonicalFolder(entry.save_path.split('/')[0]!);
}

/**
 * ComfyUI-Manager's public model list (`model-list.json`), indexed by folder and file name. It has
 * no hashes; sizes are approximate.
 */
export class ModelList {
  readonly #byKey = new Map<string, KnownModel>();
  readonly #byName = new Map<string, KnownModel[]>();

  constructor(entries: readonly ManagerModelEntry[]) {
    for (const entry of entries) {
      const folder = entryFolder(entry);
      if (!folder || entry.filename === '<huggingface>' || !/^https?:\/\//.test(entry.url)) continue;
      const known: KnownModel = {
        fileName: entry.filename,
        folder,
        url: entry.url,
        approxBytes: parseApproxSize(entry.size),
        entry,
      };
      const key = `${folder}\u0000${entry.filename}`;
      if (!this.#byKey.has(key)) this.#byKey.set(key, known);
      this.#byName.set(entry.filename, [...(this.#byName.get(entry.filename) ?? []), known]);
    }
  }

  /** Parses the downloaded JSON; throws when it is not a model list. */
  static parse(raw: unknown): ModelList {
    const models = z.object({ models: z.array(z.unknown()) }).parse(raw).models;
    // Entries that do not fit are skipped, not fatal: the list is edited by many hands.
    return new ModelList(models.flatMap((item) => ManagerModelEntry.safeParse(item).data ?? []));
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** The entry for a file the workflow names (`sub/name.safetensors` matches by its base name). */
  find(name: string, folder: string | null): KnownModel | undefined {
    const fileName = name.split(/[\\/]/).at(-1)!;
    if (folder !== null) return this.#byKey.get(`${canonicalFolder(folder)}\u0000${fileName}`);
    const candidates = this.#byName.get(fileName) ?? [];
    return candidates.length === 1 ? candidates[0] : undefined;
  }
}
