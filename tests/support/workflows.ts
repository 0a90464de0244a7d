import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Small hand-written ComfyUI workflows for tests: each builder returns the JSON a ComfyUI frontend
 * would save, with only the parts the library reads.
 */

export interface UiNodeSpec {
  id: number;
  type: string;
  mode?: number;
  widgets?: unknown[] | Record<string, unknown>;
  /** Links per output slot. */
  outputs?: Array<number[] | null>;
  models?: Array<{ name: string; url?: string; directory: string }>;
  title?: string;
}

export function uiNode(spec: UiNodeSpec): Record<string, unknown> {
  return {
    id: spec.id,
    type: spec.type,
    pos: [0, 0],
    size: [200, 100],
    flags: {},
    order: 0,
    mode: spec.mode ?? 0,
    inputs: [],
    outputs: (spec.outputs ?? []).map((links, slot) => ({ name: `out${slot}`, type: '*', links })),
    properties: { 'Node name for S&R': spec.type, ...(spec.models ? { models: spec.models } : {}) },
    widgets_values: spec.widgets ?? [],
    ...(spec.title ? { title: spec.title } : {}),
  };
}

export function uiWorkflow(
  nodes: Array<Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    last_node_id: nodes.length,
    last_link_id: 0,
    nodes,
    links: [],
    groups: [],
    config: {},
    extra: { ds: { scale: 1, offset: [0, 0] } },
    version: 0.4,
    ...extra,
  };
}

/** A plain SD1.5 text-to-image graph in UI format. */
export function textToImageUi(
  checkpoint = 'sd15.safetensors',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return uiWorkflow(
    [
      uiNode({ id: 1, type: 'CheckpointLoaderSimple', widgets: [checkpoint] }),
      uiNode({ id: 2, type: 'CLIPTextEncode', widgets: ['a cat'] }),
      uiNode({ id: 3, type: 'CLIPTextEncode', widgets: ['blurry'] }),
      uiNode({ id: 4, type: 'EmptyLatentImage', widgets: [512, 512, 1] }),
      uiNode({ id: 5, type: 'KSampler', widgets: [1, 'randomize', 20, 7, 'euler', 'normal', 1] }),
      uiNode({ id: 6, type: 'VAEDecode' }),
      uiNode({ id: 7, type: 'SaveImage', widgets: ['ComfyUI'] }),
      uiNode({ id: 8, type: 'Note', widgets: ['remember the seed'] }),
    ],
    extra,
  );
}

/** The same graph as an API prompt, with `_meta` titles as newer ComfyUI exports carry. */
export function textToImageApi(checkpoint = 'sd15.safetensors'): Record<string, unknown> {
  return {
    '4': {
      class_type: 'CheckpointLoaderSimple',
      inputs: { ckpt_name: checkpoint },
      _meta: { title: 'Load Checkpoint' },
    },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] }, _meta: { title: 'Positive' } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] }, _meta: { title: 'Negative' } },
    '5': {
      class_type: 'EmptyLatentImage',
      inputs: { width: 512, height: 512, batch_size: 1 },
      _meta: { title: 'Empty Latent Image' },
    },
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: 1,
        steps: 20,
        cfg: 7,
        sampler_name: 'euler',
        scheduler: 'normal',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
      _meta: { title: 'KSampler' },
    },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] }, _meta: { title: 'VAE Decode' } },
    '9': {
      class_type: 'SaveImage',
      inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] },
      _meta: { title: 'Save Image' },
    },
  };
}

/** Writes files (relative path → content) below `root`, creating folders as needed; returns `root`. */
export function writeTree(root: string, files: Record<string, string | Buffer>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}
