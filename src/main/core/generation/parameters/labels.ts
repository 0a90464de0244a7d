import type { Parameter, ParameterGroup } from '@shared/domain/generation';

/** Words written in capitals or with their own spelling when an input name is turned into a label. */
const WORDS: Record<string, string> = {
  cfg: 'CFG',
  vae: 'VAE',
  clip: 'CLIP',
  lora: 'LoRA',
  fps: 'FPS',
  id: 'ID',
  url: 'URL',
  rgb: 'RGB',
  rgba: 'RGBA',
  hdr: 'HDR',
  llm: 'LLM',
  api: 'API',
  gpu: 'GPU',
  ckpt: 'checkpoint',
  unet: 'UNet',
  ip: 'IP',
  sd: 'SD',
  sdxl: 'SDXL',
  t5: 'T5',
  json: 'JSON',
  svg: 'SVG',
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  gguf: 'GGUF',
  x: 'X',
  y: 'Y',
  w: 'W',
  h: 'H',
};

/**
 * An input name as a person reads it: `blur_radius` → "Blur radius", `clip_name1` → "CLIP name 1",
 * `noiseSeed` → "Noise seed". Known abbreviations keep their spelling.
 */
export function humanize(name: string): string {
  const words = name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Za-z])(\d)/g, '$1 $2')
    .split(/[\s_.-]+/)
    .filter((word) => word !== '')
    .map((word) => WORDS[word.toLowerCase()] ?? word.toLowerCase());
  if (words.length === 0) return name;
  const [first, ...rest] = words;
  return [first!.charAt(0).toUpperCase() + first!.slice(1), ...rest].join(' ');
}

/** A node class name as words: `ImageBlend` → "Image Blend", `VAEDecode` → "VAE Decode". */
export function humanizeClassName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .trim();
}

/** Groups whose sections are one node each: two nodes with the same title must not share a section. */
const NODE_SECTION_GROUPS: ReadonlySet<ParameterGroup> = new Set(['size', 'advanced']);

/**
 * Makes the form unambiguous: sections of different nodes that share a title get the node id
 * ("Save Image #9"), and fields that share a label get their node title ("Width (Canvas)") — the
 * main parameter of a kind (id = kind) keeps its plain name. Returns new objects; the input is untouched.
 */
export function disambiguate(parameters: readonly Parameter[]): Parameter[] {
  const nodesBySection = new Map<string, Set<string>>();
  const sectionKey = (parameter: Parameter) => `${parameter.group}\u0000${parameter.section}`;
  for (const parameter of parameters) {
    if (!NODE_SECTION_GROUPS.has(parameter.group)) continue;
    const nodes = nodesBySection.get(sectionKey(parameter)) ?? new Set<string>();
    nodes.add(parameter.targets[0]!.nodeId);
    nodesBySection.set(sectionKey(parameter), nodes);
  }
  const sectioned = parameters.map((parameter) =>
    (nodesBySection.get(sectionKey(parameter))?.size ?? 0) > 1
      ? { ...parameter, section: `${parameter.section} #${parameter.targets[0]!.nodeId}` }
      : { ...parameter },
  );
  const counts = new Map<string, number>();
  for (const parameter of sectioned) counts.set(parameter.label, (counts.get(parameter.label) ?? 0) + 1);
  for (const parameter of sectioned) {
    if ((counts.get(parameter.label) ?? 0) > 1 && parameter.id !== parameter.kind)
      parameter.label = `${parameter.label} (${parameter.section})`;
  }
  // Two fields of one node with the same name after humanizing (rare) still need telling apart.
  const seen = new Map<string, number>();
  for (const parameter of sectioned) {
    const count = (seen.get(parameter.label) ?? 0) + 1;
    seen.set(parameter.label, count);
    if (count > 1) parameter.label = `${parameter.label} ${count}`;
  }
  return sectioned;
}
