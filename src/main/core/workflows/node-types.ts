import type { MediaType } from '@shared/domain/workflow';

/**
 * The maintained table of node types the library understands: which ones bring media in from the
 * user, which hand media back, which load model files (and from which folder), and which never run.
 * It covers ComfyUI's core nodes (protocol doc §7.2) and widely used custom and partner (API) nodes.
 * A node type missing here still scans: it simply adds no media types, and its model files are
 * found by the generic rule in `guessModelFolder`.
 */

/** A model-file input of a loader node. */
export interface ModelInput {
  /** Input name in API prompts. */
  input: string;
  /** Position in a UI node's `widgets_values`. */
  widget: number;
  /** ComfyUI model folder key. */
  folder: string;
}

/** What the library knows about one node type. */
export interface NodeTypeInfo {
  /** Media the user supplies through this node (a file to load, a prompt to type). */
  inputs?: readonly MediaType[];
  /** Media this node hands back (saved or previewed). */
  outputs?: readonly MediaType[];
  models?: readonly ModelInput[];
  /** Frontend-only nodes: never sent to the server, never "unknown" on it. */
  isVirtual?: boolean;
  /** Telling nodes for the workflow type. */
  role?: 'upscale' | 'inpaint';
}

const TEXT = ['text'] as const;
const IMAGE = ['image'] as const;
const VIDEO = ['video'] as const;
const AUDIO = ['audio'] as const;
const MASK = ['mask'] as const;
const THREE_D = ['3d'] as const;

const loader = (folder: string, ...inputs: string[]): NodeTypeInfo => ({
  models: inputs.map((input, widget) => ({ input, widget, folder })),
});

/** Exact node types. */
export const NODE_TYPES: Readonly<Record<string, NodeTypeInfo>> = {
  // Frontend-only helpers (protocol doc §6.8 step 6).
  Note: { isVirtual: true },
  MarkdownNote: { isVirtual: true },
  Reroute: { isVirtual: true },
  PrimitiveNode: { isVirtual: true },
  GetNode: { isVirtual: true },
  SetNode: { isVirtual: true },

  // Model loaders (protocol doc §7.2); widget positions follow §6.9.
  CheckpointLoaderSimple: loader('checkpoints', 'ckpt_name'),
  CheckpointLoader: {
    models: [
      { input: 'config_name', widget: 0, folder: 'configs' },
      { input: 'ckpt_name', widget: 1, folder: 'checkpoints' },
    ],
  },
  unCLIPCheckpointLoader: loader('checkpoints', 'ckpt_name'),
  ImageOnlyCheckpointLoader: loader('checkpoints', 'ckpt_name'),
  DiffusersLoader: loader('diffusers', 'model_path'),
  LoraLoader: loader('loras', 'lora_name'),
  LoraLoaderModelOnly: loader('loras', 'lora_name'),
  CreateHookLora: loader('loras', 'lora_name'),
  CreateHookLoraModelOnly: loader('loras', 'lora_name'),
  CreateHookModelAsLora: loader('checkpoints', 'ckpt_name'),
  CreateHookModelAsLoraModelOnly: loader('checkpoints', 'ckpt_name'),
  VAELoader: loader('vae', 'vae_name'),
  UNETLoader: loader('diffusion_models', 'unet_name'),
  CLIPLoader: loader('text_encoders', 'clip_name'),
  DualCLIPLoader: loader('text_encoders', 'clip_name1', 'clip_name2'),
  TripleCLIPLoader: loader('text_encoders', 'clip_name1', 'clip_name2', 'clip_name3'),
  QuadrupleCLIPLoader: loader('text_encoders', 'clip_name1', 'clip_name2', 'clip_name3', 'clip_name4'),
  CLIPVisionLoader: loader('clip_vision', 'clip_name'),
  StyleModelLoader: loader('style_models', 'style_model_name'),
  ControlNetLoader: loader('controlnet', 'control_net_name'),
  DiffControlNetLoader: loader('controlnet', 'control_net_name'),
  T2IAdapterLoader: loader('controlnet', 't2i_adapter_name'),
  GLIGENLoader: loader('gligen', 'gligen_name'),
  UpscaleModelLoader: { ...loader('upscale_models', 'model_name'), role: 'upscale' },
  HypernetworkLoader: loader('hypernetworks', 'hypernetwork_name'),
  PhotoMakerLoader: loader('photomaker', 'photomaker_model_name'),
  ModelPatchLoader: loader('model_patches', 'name'),
  AudioEncoderLoader: loader('audio_encoders', 'audio_encoder_name'),
  // Widely used custom loaders (ComfyUI-GGUF).
  UnetLoaderGGUF: loader('diffusion_models', 'unet_name'),
  CLIPLoaderGGUF: loader('text_encoders', 'clip_name'),
  DualCLIPLoaderGGUF: loader('text_encoders', 'clip_name1', 'clip_name2'),

  // What the user types.
  CLIPTextEncode: { inputs: TEXT },
  PrimitiveStringMultiline: { inputs: TEXT },

  // What the user loads.
  LoadImage: { inputs: IMAGE },
  LoadImageOutput: { inputs: IMAGE },
  LoadImageMask: { inputs: MASK },
  WebcamCapture: { inputs: IMAGE },
  Painter: { inputs: IMAGE },
  LoadVideo: { inputs: VIDEO },
  VHS_LoadVideo: { inputs: VIDEO },
  VHS_LoadVideoPath: { inputs: VIDEO },
  LoadAudio: { inputs: AUDIO },
  RecordAudio: { inputs: AUDIO },
  VHS_LoadAudio: { inputs: AUDIO },
  VHS_LoadAudioUpload: { inputs: AUDIO },
  Load3D: { inputs: THREE_D },
  Load3DAnimation: { inputs: THREE_D },
  GeminiInputFiles: { inputs: IMAGE },
  OpenAIInputFiles: { inputs: IMAGE },

  // What the user gets back.
  SaveImage: { outputs: IMAGE },
  PreviewImage: { outputs: IMAGE },
  SaveImageWebsocket: { outputs: IMAGE },
  'Image Save': { outputs: IMAGE },
  ImageCompare: { outputs: IMAGE },
  SaveSVG: { outputs: IMAGE },
  SaveSVGNode: { outputs: IMAGE },
  SaveVideo: { outputs: VIDEO },
  SaveWEBM: { outputs: VIDEO },
  SaveAnimatedWEBP: { outputs: VIDEO },
  SaveAnimatedPNG: { outputs: VIDEO },
  VHS_VideoCombine: { outputs: VIDEO },
  SaveAudio: { outputs: AUDIO },
  SaveAudioMP3: { outputs: AUDIO },
  SaveAudioOpus: { outputs: AUDIO },
  PreviewAudio: { outputs: AUDIO },
  SaveGLB: { outputs: THREE_D },
  Preview3D: { outputs: THREE_D },
  Preview3DAnimation: { outputs: THREE_D },
  MaskPreview: { outputs: MASK },
  PreviewAny: { outputs: TEXT },
  'ShowText|pysssss': { outputs: TEXT },

  // Telling nodes.
  ImageUpscaleWithModel: { role: 'upscale' },
  VAEEncodeForInpaint: { role: 'inpaint' },
  InpaintModelConditioning: { role: 'inpaint' },
  SetLatentNoiseMask: { role: 'inpaint' },
  ImagePadForOutpaint: { role: 'inpaint' },
  ControlNetInpaintingAliMamaApply: { role: 'inpaint' },
  WanFunInpaintToVideo: {},

  // Partner (API) nodes that take a typed prompt; their results reach a Save/Preview node.
  OpenAIChatNode: { inputs: TEXT },
  GeminiNode: { inputs: TEXT },
  OpenAIDalle2: { inputs: TEXT },
  OpenAIDalle3: { inputs: TEXT },
  OpenAIGPTImage1: { inputs: TEXT },
  IdeogramV1: { inputs: TEXT },
  IdeogramV2: { inputs: TEXT },
  IdeogramV3: { inputs: TEXT },
  ByteDanceSeedreamNode: { inputs: TEXT },
  GeminiImageNode: { inputs: TEXT },
  FluxProUltraImageNode: { inputs: TEXT },
  FluxKontextProImageNode: { inputs: TEXT },
  FluxKontextMaxImageNode: { inputs: TEXT },
  LumaImageNode: { inputs: TEXT },
  LumaImageModifyNode: { inputs: TEXT },
  LumaVideoNode: { inputs: TEXT },
  LumaImageToVideoNode: { inputs: TEXT },
  RecraftTextToImageNode: { inputs: TEXT },
  RecraftTextToVectorNode: { inputs: TEXT },
  RunwayTextToImageNode: { inputs: TEXT },
  StabilityStableImageUltraNode: { inputs: TEXT },
  StabilityStableImageSD_3_5Node: { inputs: TEXT },
  StabilityTextToAudio: { inputs: TEXT },
  StabilityAudioToAudio: { inputs: TEXT },
  StabilityAudioInpaint: { inputs: TEXT },
  PikaScenesV2_2: { inputs: TEXT },
  TripoTextToModelNode: { inputs: TEXT },
};

/**
 * Families matched by name, checked only when a type is not in `NODE_TYPES`: text encoders of
 * every model family, and partner video nodes (Kling, Minimax, Vidu, Runway, Pika, PixVerse,
 * Moonvalley, Veo), which all take a prompt.
 */
export const NODE_TYPE_PATTERNS: ReadonlyArray<{ pattern: RegExp; info: NodeTypeInfo }> = [
  { pattern: /TextEncode/, info: { inputs: TEXT } },
  { pattern: /^(Kling|Minimax|Vidu|Runway|Pika|Pixverse|Moonvalley|Veo\d?)\w*(Video|Node)/, info: { inputs: TEXT } },
];

/** Every type looked up so far and what the table says of it: one map lookup per node on a scan. */
const infoCache = new Map<string, NodeTypeInfo | undefined>();

/** What the table knows about a node type (exact entry, else a family pattern, else undefined). */
export function nodeTypeInfo(type: string): NodeTypeInfo | undefined {
  const cached = infoCache.get(type);
  if (cached !== undefined || infoCache.has(type)) return cached;
  const found = NODE_TYPES[type] ?? NODE_TYPE_PATTERNS.find((entry) => entry.pattern.test(type))?.info;
  infoCache.set(type, found);
  return found;
}

/** Whether a node type is a frontend-only helper (notes, reroutes, primitives, subgraph and group-node instances). */
export function isVirtualType(type: string, subgraphIds: ReadonlySet<string>): boolean {
  return (
    nodeTypeInfo(type)?.isVirtual === true ||
    subgraphIds.has(type) ||
    type.startsWith('workflow>') ||
    type.startsWith('workflow/')
  );
}

/** File extensions ComfyUI lists as model files (protocol doc §7.1), plus GGUF for the GGUF loaders. */
const MODEL_EXTENSION = /\.(safetensors|ckpt|pt|pt2|pth|bin|pkl|sft|gguf)$/i;

/** VAELoader values that name a built-in decoder rather than a file (protocol doc §7.2). */
export const SYNTHETIC_MODEL_NAMES: ReadonlySet<string> = new Set([
  'taesd',
  'taesdxl',
  'taesd3',
  'taef1',
  'pixel_space',
  'None',
  'none',
]);

/** Whether a widget value names a model file (by its extension); used for loaders the table does not know. */
export function looksLikeModelFile(value: string): boolean {
  return value.length < 512 && MODEL_EXTENSION.test(value);
}

/** Legacy folder keys the server accepts in loaders (`clip`, `unet`) mapped to the current ones. */
export const FOLDER_ALIASES: Readonly<Record<string, string>> = {
  clip: 'text_encoders',
  unet: 'diffusion_models',
  t2i_adapter: 'controlnet',
};

/** A model folder key as the server lists it today: the first path segment, legacy aliases mapped. */
export function canonicalFolder(folder: string): string {
  const head = folder.split(/[\\/]/)[0] ?? folder;
  return FOLDER_ALIASES[head] ?? head;
}

const FOLDER_HINTS: ReadonlyArray<[RegExp, string]> = [
  [/lora/i, 'loras'],
  [/vae/i, 'vae'],
  [/controlnet|control_net/i, 'controlnet'],
  [/upscale/i, 'upscale_models'],
  [/clipvision|clip_vision/i, 'clip_vision'],
  [/clip|textencoder|text_encoder/i, 'text_encoders'],
  [/unet|diffusion/i, 'diffusion_models'],
  [/checkpoint|ckpt/i, 'checkpoints'],
];

/**
 * The folder of a model file selected by a node the table does not know (a custom loader), from
 * the node type's name; null when the name gives no hint. Compatibility then looks in every folder.
 */
export function guessModelFolder(nodeType: string): string | null {
  return FOLDER_HINTS.find(([pattern]) => pattern.test(nodeType))?.[1] ?? null;
}
