import { recordedObjectInfo } from '../../support/corpus';
import { GraphBuilder } from '../../support/workflow-builder';

/**
 * A text-to-image workflow in API format for the end-to-end tests. It has what the Generate page
 * detects (prompt, negative prompt, seed, steps, size, checkpoint), and a stand-in sampler,
 * PeerSlowSteps, that the ComfyUI protocol test server runs for real: it reports `steps` steps of
 * `stepMs` each with previews, so the progress bar has something to follow. The saved image is the
 * EmptyImage canvas (orange); the diffusion chain ends in a PreviewImage so it runs too.
 *
 * With `isChained`, the stand-in sampler works on the diffusion chain's image instead, so every run
 * with a new seed runs it again (ComfyUI caches nodes whose inputs did not change).
 */
export function posterWorkflow(
  options: { steps?: number; stepMs?: number; title?: string; isChained?: boolean } = {},
): Record<string, unknown> {
  if (options.isChained) {
    const {
      '9': _preview,
      '10': _canvas,
      ...chain
    } = posterWorkflow({ ...options, isChained: false }) as Record<string, { inputs: Record<string, unknown> }>;
    return { ...chain, '11': { ...chain['11']!, inputs: { ...chain['11']!.inputs, image: ['8', 0] } } };
  }
  return {
    '4': {
      class_type: 'CheckpointLoaderSimple',
      inputs: { ckpt_name: 'sd15.safetensors' },
      _meta: { title: 'Load Checkpoint' },
    },
    '6': {
      class_type: 'CLIPTextEncode',
      inputs: { text: 'a lighthouse', clip: ['4', 1] },
      _meta: { title: 'Positive' },
    },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] }, _meta: { title: 'Negative' } },
    '5': {
      class_type: 'EmptyLatentImage',
      inputs: { width: 512, height: 512, batch_size: 1 },
      _meta: { title: 'Empty Latent Image' },
    },
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: 42,
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
    '9': { class_type: 'PreviewImage', inputs: { images: ['8', 0] }, _meta: { title: 'Preview' } },
    '10': {
      class_type: 'EmptyImage',
      inputs: { width: 256, height: 256, batch_size: 1, color: 0xf08030 },
      _meta: { title: 'Canvas' },
    },
    '11': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['10', 0], steps: options.steps ?? 30, step_ms: options.stepMs ?? 150, preview: true },
      _meta: { title: options.title ?? 'Refiner' },
    },
    '12': {
      class_type: 'SaveImage',
      inputs: { images: ['11', 0], filename_prefix: 'poster' },
      _meta: { title: 'Save Image' },
    },
  };
}

/**
 * An image-to-image workflow in API format: the picture in LoadImage goes through the stand-in
 * sampler and is saved. Its LoadImage names a file the server does not have, so it needs an image
 * dropped (or used from an earlier result) before it can run.
 */
export function photoWorkflow(): Record<string, unknown> {
  return {
    '1': { class_type: 'LoadImage', inputs: { image: 'my-photo.png' }, _meta: { title: 'Photo' } },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps: 5, step_ms: 20, preview: true },
      _meta: { title: 'Touch up' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'photo' }, _meta: { title: 'Save' } },
  };
}

/**
 * A UI-format workflow (as ComfyUI's editor saves it) for the form's flows: two EmptyImage
 * canvases — "Background" (orange) and "Overlay" (blue) — blended, blurred and saved. Its colours
 * are colour pickers, its sizes sit in the Size group under each canvas's title.
 */
export function canvasWorkflow(): Record<string, unknown> {
  return new GraphBuilder(recordedObjectInfo())
    .node(1, 'EmptyImage', { title: 'Background', widgets: [320, 240, 1, 0xff8000] })
    .node(2, 'EmptyImage', { title: 'Overlay', widgets: [320, 240, 1, 0x0000ff] })
    .node(3, 'ImageBlend', { widgets: [0.5, 'normal'] })
    .node(4, 'ImageBlur', { widgets: [1, 1] })
    .node(5, 'SaveImage', { widgets: ['canvas'] })
    .link([1, 0], [3, 'image1'])
    .link([2, 0], [3, 'image2'])
    .link([3, 0], [4, 'image'])
    .link([4, 0], [5, 'images'])
    .workflow();
}

/** A UI-format workflow that inverts the input image `file` (a name in ComfyUI's input folder) and saves it. */
export function invertPhotoWorkflow(file: string): Record<string, unknown> {
  return new GraphBuilder(recordedObjectInfo())
    .node(1, 'LoadImage', { title: 'Photo', widgets: [file, 'image'] })
    .node(2, 'ImageInvert')
    .node(3, 'SaveImage', { widgets: ['inverted'] })
    .link([1, 0], [2, 'image'])
    .link([2, 0], [3, 'images'])
    .workflow();
}
