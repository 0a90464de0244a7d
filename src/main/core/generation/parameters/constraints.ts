import type { ParameterConstraints, ValueType } from '@shared/domain/generation';
import { comboOptions, inputOptions, inputType } from '../../comfy/object-info';
import type { InputRef, PromptGraph } from './prompt-graph';

/**
 * Core loader inputs and the model folder they name (protocol doc §7.2). Custom loaders are
 * recognised by shape instead (a combo of model files on a `…Loader` node).
 */
export const MODEL_INPUT_FOLDERS: Record<string, Record<string, string>> = {
  CheckpointLoaderSimple: { ckpt_name: 'checkpoints' },
  CheckpointLoader: { ckpt_name: 'checkpoints', config_name: 'configs' },
  unCLIPCheckpointLoader: { ckpt_name: 'checkpoints' },
  ImageOnlyCheckpointLoader: { ckpt_name: 'checkpoints' },
  DiffusersLoader: { model_path: 'diffusers' },
  LoraLoader: { lora_name: 'loras' },
  LoraLoaderModelOnly: { lora_name: 'loras' },
  CreateHookLora: { lora_name: 'loras' },
  CreateHookLoraModelOnly: { lora_name: 'loras' },
  CreateHookModelAsLora: { ckpt_name: 'checkpoints' },
  CreateHookModelAsLoraModelOnly: { ckpt_name: 'checkpoints' },
  VAELoader: { vae_name: 'vae' },
  UNETLoader: { unet_name: 'diffusion_models' },
  CLIPLoader: { clip_name: 'text_encoders' },
  DualCLIPLoader: { clip_name1: 'text_encoders', clip_name2: 'text_encoders' },
  TripleCLIPLoader: { clip_name1: 'text_encoders', clip_name2: 'text_encoders', clip_name3: 'text_encoders' },
  QuadrupleCLIPLoader: {
    clip_name1: 'text_encoders',
    clip_name2: 'text_encoders',
    clip_name3: 'text_encoders',
    clip_name4: 'text_encoders',
  },
  CLIPVisionLoader: { clip_name: 'clip_vision' },
  StyleModelLoader: { style_model_name: 'style_models' },
  ControlNetLoader: { control_net_name: 'controlnet' },
  DiffControlNetLoader: { control_net_name: 'controlnet' },
  GLIGENLoader: { gligen_name: 'gligen' },
  UpscaleModelLoader: { model_name: 'upscale_models' },
  HypernetworkLoader: { hypernetwork_name: 'hypernetworks' },
  PhotoMakerLoader: { photomaker_model_name: 'photomaker' },
  ModelPatchLoader: { name: 'model_patches' },
  AudioEncoderLoader: { audio_encoder_name: 'audio_encoders' },
};

const MODEL_FILE = /\.(ckpt|pt|pt2|bin|pth|safetensors|pkl|sft|gguf)$/i;

/** Whether a combo input picks a model file: a known loader input, or a model-file combo on a `…Loader` node. */
export function modelFolderOf(graph: PromptGraph, ref: InputRef): string | null | undefined {
  const known = MODEL_INPUT_FOLDERS[graph.classType(ref.nodeId)]?.[ref.inputName];
  if (known) return known;
  if (!/loader/i.test(graph.classType(ref.nodeId)) || graph.typeOf(ref.nodeId, ref.inputName) !== 'COMBO')
    return undefined;
  const values = [
    ...(comboOptions(graph.spec(ref.nodeId, ref.inputName)) ?? []),
    graph.literal(ref.nodeId, ref.inputName),
  ];
  // A custom loader: a model, but its folder is the node pack's business.
  return values.some((value) => typeof value === 'string' && MODEL_FILE.test(value)) ? null : undefined;
}

/** The kind of file a loader combo takes, from its upload flags (LoadImage, LoadVideo, LoadAudio…). */
export function uploadMediaOf(options: Record<string, unknown>): 'image' | 'video' | 'audio' | undefined {
  if (options.image_upload || options.animated_image_upload) return 'image';
  if (options.video_upload) return 'video';
  return options.audio_upload ? 'audio' : undefined;
}

const VALUE_TYPES = new Set<string>(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

/** The value type of a widget input, or undefined for sockets and frontend-only widget types. */
export function valueTypeOf(spec: unknown): ValueType | undefined {
  const options = inputOptions(spec);
  const type = typeof options.widgetType === 'string' ? options.widgetType : inputType(spec);
  return type !== undefined && VALUE_TYPES.has(type) ? (type as ValueType) : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * What object_info allows for `target` (and, when the value goes through a primitive node, for the
 * inputs it feeds): the tightest bounds of all of them. INT bounds stay within JavaScript's safe
 * integers so a value always survives JSON.
 */
export function constraintsFor(
  graph: PromptGraph,
  target: InputRef,
  consumers: InputRef[] = [],
): ParameterConstraints | undefined {
  const spec = graph.spec(target.nodeId, target.inputName);
  const type =
    valueTypeOf(spec) ??
    consumers
      .map((consumer) => valueTypeOf(graph.spec(consumer.nodeId, consumer.inputName)))
      .find((candidate) => candidate !== undefined);
  if (!type) return undefined;
  const specs = [spec, ...consumers.map((consumer) => graph.spec(consumer.nodeId, consumer.inputName))];
  const options = inputOptions(spec);
  const constraints: ParameterConstraints = { type };

  if (type === 'INT' || type === 'FLOAT') {
    const mins = specs
      .map((candidate) => finite(inputOptions(candidate).min))
      .filter((value): value is number => value !== undefined);
    const maxes = specs
      .map((candidate) => finite(inputOptions(candidate).max))
      .filter((value): value is number => value !== undefined);
    let min = mins.length > 0 ? Math.max(...mins) : undefined;
    let max = maxes.length > 0 ? Math.min(...maxes) : undefined;
    if (type === 'INT') {
      min = Math.max(min ?? Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER);
      max = Math.min(max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    }
    if (min !== undefined) constraints.min = min;
    if (max !== undefined) constraints.max = max;
    const step =
      finite(options.step) ??
      specs.map((candidate) => finite(inputOptions(candidate).step)).find((value) => value !== undefined);
    if (step !== undefined) constraints.step = step;
    const round = finite(options.round);
    if (round !== undefined) constraints.round = round;
    if (typeof options.display === 'string') constraints.display = options.display;
  }
  if (type === 'STRING') {
    if (options.multiline === true) constraints.multiline = true;
    if (options.dynamicPrompts === true) constraints.dynamicPrompts = true;
  }
  if (type === 'COMBO') {
    const list = comboOptions(spec);
    if (list) constraints.options = list;
    if (typeof options.remote === 'object' && options.remote !== null) constraints.isRemote = true;
    const media = uploadMediaOf(options);
    if (media) {
      constraints.media = media;
      // Loaders validate the file themselves, so any existing (or uploaded) file passes (§4.5).
      constraints.acceptsAnyFile = true;
      constraints.folder = typeof options.image_folder === 'string' ? options.image_folder : 'input';
    } else {
      const folder = modelFolderOf(graph, target);
      if (folder) constraints.folder = folder;
    }
  }
  if (options.default !== undefined) constraints.default = options.default;
  if (typeof options.tooltip === 'string') constraints.tooltip = options.tooltip;
  return constraints;
}
