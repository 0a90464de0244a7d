import type { Parameter, ParameterGroup, ParameterKind } from '@shared/domain/generation';

/** The heading of each form group, in display order (the main prompts have a box of their own). */
export const GROUP_TITLES: Record<ParameterGroup, string> = {
  prompt: 'More prompts',
  inputs: 'Inputs',
  size: 'Size',
  sampling: 'Sampling',
  video: 'Video',
  models: 'Models',
  exposed: 'Workflow settings',
  advanced: 'Advanced',
};

const GROUP_ORDER = Object.keys(GROUP_TITLES) as ParameterGroup[];

/** Kinds whose number field gets a slider beside it (bounded, and nudged more than typed). */
const SLIDER_KINDS = new Set<ParameterKind>(['steps', 'cfg', 'guidance', 'denoise']);

/**
 * Where a slider of these kinds ends when the server allows far more (steps go to 10,000, CFG to
 * 100): the range people use. A value beyond it stretches the slider; the number field still takes
 * anything the server allows.
 */
const SOFT_MAX: Partial<Record<ParameterKind, number>> = { steps: 100, cfg: 30, guidance: 30, denoise: 1 };

/** Kinds that never get a slider however small their range (a seed is typed or drawn, a size picked). */
const NO_SLIDER = new Set<ParameterKind>(['seed', 'width', 'height', 'batch_size', 'length']);

/** Parameters with a place of their own on the form, outside the generated groups. */
const OWN_PLACE = new Set(['prompt', 'negative_prompt']);

/** The DOM id of a parameter's control (ids such as `12:5.seed` become safe for `for=` and selectors). */
export function fieldId(parameter: Pick<Parameter, 'id'>): string {
  return `param-${parameter.id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** Whether a number parameter gets a slider too: the sampling kinds, what object_info marks a slider, and small ranges (0–1 strengths, blur radii). */
export function hasSlider(parameter: Parameter): boolean {
  const { type, min, max, display } = parameter.constraints;
  if (type !== 'INT' && type !== 'FLOAT') return false;
  if (display === 'color' || display === 'number' || NO_SLIDER.has(parameter.kind)) return false;
  if (SLIDER_KINDS.has(parameter.kind) || display === 'slider') return true;
  if (min === undefined || max === undefined) return false;
  return type === 'FLOAT' ? max - min <= 10 : max - min <= 100;
}

/** 1, 2 or 5 times a power of ten, at least `value`. */
function niceCeil(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((factor) => factor * power >= value) ?? 10) * power;
}

/**
 * The slider's range: object_info's min and max, with a soft max where the server's range is far
 * wider than anyone uses (a kind's usual range, else four times the default), stretched to show
 * the current value. Undefined when the field gets no slider or has no bounds.
 */
export function sliderRange(parameter: Parameter, value: unknown): { min: number; max: number } | undefined {
  if (!hasSlider(parameter)) return undefined;
  const { min, max } = parameter.constraints;
  if (min === undefined || max === undefined || !(max > min) || !Number.isFinite(max - min)) return undefined;
  const current = typeof value === 'number' && Number.isFinite(value) ? value : min;
  const fallback = typeof parameter.constraints.default === 'number' ? parameter.constraints.default : current;
  let soft = SOFT_MAX[parameter.kind];
  if (soft === undefined && max - min > 1000)
    soft = niceCeil(Math.max(4 * Math.abs(fallback), 4 * Math.abs(current), min + 1));
  if (soft === undefined || soft >= max || soft <= min) return { min, max };
  return { min, max: Math.min(max, Math.max(soft, niceCeil(current))) };
}

/** Whether an INT input holds a colour (`display: "color"`, 0xRRGGBB as a number, like EmptyImage's). */
export function isColor(parameter: Parameter): boolean {
  return parameter.constraints.type === 'INT' && parameter.constraints.display === 'color';
}

/** A colour number as `#rrggbb` (what `<input type="color">` takes). */
export function colorHex(value: unknown): string {
  const number = typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.min(0xffffff, value)) : 0;
  return `#${Math.round(number).toString(16).padStart(6, '0')}`;
}

/** `#rrggbb` as the number ComfyUI takes. */
export function colorNumber(hex: string): number {
  return Number.parseInt(hex.replace(/^#/, ''), 16);
}

/**
 * A label as shown and as heard: "Width (Canvas)" under the heading "Canvas" shows "Width" and
 * keeps " (Canvas)" for screen readers, so the field's name stays unique without saying it twice.
 */
export function labelParts(parameter: Pick<Parameter, 'label' | 'section'>): { shown: string; hidden: string } {
  const suffix = ` (${parameter.section})`;
  return parameter.label.endsWith(suffix) && parameter.label.length > suffix.length
    ? { shown: parameter.label.slice(0, -suffix.length), hidden: suffix }
    : { shown: parameter.label, hidden: '' };
}

/** Whether the parameter takes a file a person provides (image, video, audio or mask). */
export function isMedia(parameter: Parameter): boolean {
  return (
    parameter.constraints.media !== undefined ||
    parameter.kind === 'mask' ||
    parameter.kind === 'image' ||
    parameter.kind === 'video' ||
    parameter.kind === 'audio'
  );
}

/** One sub-heading of a group and its fields. */
export interface FormSection {
  title: string;
  parameters: Parameter[];
}

/** One group of the form with its sections, in display order. */
export interface FormGroup {
  group: ParameterGroup;
  title: string;
  sections: FormSection[];
  /** How many fields it holds (for the Advanced toggle). */
  count: number;
}

/**
 * The form's layout: parameters grouped by `group` (in the contract's order), then by `section`
 * (in the order they first appear). The main prompt and negative prompt are left out: the panel
 * shows them in boxes of their own.
 */
export function layoutForm(parameters: readonly Parameter[]): FormGroup[] {
  const groups = new Map<ParameterGroup, Map<string, Parameter[]>>();
  for (const parameter of parameters) {
    if (OWN_PLACE.has(parameter.id)) continue;
    let sections = groups.get(parameter.group);
    if (!sections) groups.set(parameter.group, (sections = new Map()));
    const list = sections.get(parameter.section);
    if (list) list.push(parameter);
    else sections.set(parameter.section, [parameter]);
  }
  return GROUP_ORDER.filter((group) => groups.has(group)).map((group) => {
    const sections = [...groups.get(group)!].map(([title, list]) => ({ title, parameters: list }));
    return {
      group,
      title: GROUP_TITLES[group],
      sections,
      count: sections.reduce((sum, section) => sum + section.parameters.length, 0),
    };
  });
}

/** A width × height choice offered beside the size fields. */
export interface SizePreset {
  label: string;
  width: number;
  height: number;
}

/** Common sizes for image and video models (multiples of 64, as latent sizes want). */
export const SIZE_PRESETS: SizePreset[] = [
  { label: 'Square 512', width: 512, height: 512 },
  { label: 'Square 768', width: 768, height: 768 },
  { label: 'Square 1024', width: 1024, height: 1024 },
  { label: 'Portrait 2:3', width: 832, height: 1216 },
  { label: 'Landscape 3:2', width: 1216, height: 832 },
  { label: 'Portrait 9:16', width: 768, height: 1344 },
  { label: 'Landscape 16:9', width: 1344, height: 768 },
  { label: 'Video 480p', width: 848, height: 480 },
  { label: 'Video 720p', width: 1280, height: 720 },
];

/** The presets both size fields allow (within their limits and steps). */
export function presetsFor(width: Parameter, height: Parameter): SizePreset[] {
  const fits = (value: number, parameter: Parameter) => {
    const { min, max, step } = parameter.constraints;
    return (min === undefined || value >= min) && (max === undefined || value <= max) && (!step || value % step === 0);
  };
  return SIZE_PRESETS.filter((preset) => fits(preset.width, width) && fits(preset.height, height));
}

/** A value as a select's option value (combo options may be numbers). */
export function optionKey(value: unknown): string {
  return typeof value === 'number' ? `n:${value}` : `s:${String(value)}`;
}
