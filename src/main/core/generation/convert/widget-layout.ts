import type { ControlMode } from '@shared/domain/generation';
import { comboOptions, inputOptions, inputType, orderedInputs, type NodeDef } from '../../comfy/object-info';

/**
 * How a node's positional `widgets_values` map onto its inputs (protocol doc §6.9). The frontend
 * creates widgets in object_info order and adds UI-only companions (seed control, combo filter,
 * upload buttons, audio players); `widgets_values[i]` is the value of widget `i`. Only `value`
 * slots reach the API prompt.
 */

/** What a slot holds: an input's value, or a UI-only companion the API never sees. */
export type SlotRole = 'value' | 'control' | 'filter' | 'upload' | 'ui' | 'force_input';

/** One position of a node's `widgets_values`. */
export interface WidgetSlot {
  role: SlotRole;
  /** The input the slot belongs to; for `value` slots, the API input name (dotted for V3 dynamic combo children). */
  inputName: string;
  /** INT, FLOAT, STRING, BOOLEAN, COMBO, or a frontend widget type (WEBCAM, LOAD_3D…). */
  valueType: string;
  /** The input's object_info spec (value slots). */
  spec?: unknown;
}

const CORE_WIDGET_TYPES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

/**
 * Widget types the ComfyUI frontend (and its bundled extensions) draws itself. Their values are
 * computed in the browser (a 3D scene capture, a webcam frame, a recording), so a saved value can
 * be sent but not reproduced.
 */
export const FRONTEND_WIDGET_TYPES = new Set([
  'MARKDOWN',
  'IMAGEUPLOAD',
  'COLOR',
  'IMAGECOMPARE',
  'BOUNDING_BOX',
  'CHART',
  'GALLERIA',
  'PAINTER',
  'TEXTAREA',
  'CURVE',
  'RANGE',
  'AUDIO_UI',
  'AUDIOUPLOAD',
  'AUDIO_RECORD',
  'WEBCAM',
  'LOAD_3D',
  'LOAD_3D_ANIMATION',
  'PREVIEW_3D',
  'PREVIEW_3D_ANIMATION',
]);

/** V3 dynamic combo: the chosen option's own inputs follow the combo's slot (§6.9 item 6). */
const DYNAMIC_COMBO_TYPE = 'COMFY_DYNAMICCOMBO_V3';

/** Nodes whose audio player widget (`audioUI`) sits after the required inputs (§6.9 item 4). */
const AUDIO_UI_NODES = new Set([
  'LoadAudio',
  'SaveAudio',
  'PreviewAudio',
  'SaveAudioMP3',
  'SaveAudioOpus',
  'SaveAudioAdvanced',
]);

/** The seed-control modes a control slot may hold. */
export const CONTROL_MODES: readonly ControlMode[] = ['fixed', 'increment', 'decrement', 'randomize', 'increment-wrap'];

/** The widget type an input creates, or undefined for a plain socket. */
export function widgetTypeOf(spec: unknown): string | undefined {
  const options = inputOptions(spec);
  if (options.forceInput === true) return undefined;
  if (typeof options.widgetType === 'string') return options.widgetType;
  const type = inputType(spec);
  if (type === undefined) return undefined;
  if (CORE_WIDGET_TYPES.has(type) || FRONTEND_WIDGET_TYPES.has(type) || type === DYNAMIC_COMBO_TYPE) return type;
  return undefined;
}

/** Whether an input is a widget-type input that `forceInput` turned into a socket. */
function isForcedSocket(spec: unknown): boolean {
  if (inputOptions(spec).forceInput !== true) return false;
  const type = inputType(spec);
  return type !== undefined && (CORE_WIDGET_TYPES.has(type) || FRONTEND_WIDGET_TYPES.has(type));
}

/** Whether an input gets the frontend's control-after-generate companion, and how many slots it takes. */
function controlSlotCount(name: string, valueType: string, spec: unknown): number {
  const control = inputOptions(spec).control_after_generate;
  if (valueType === 'INT') {
    if (control === false) return 0;
    return control || name === 'seed' || name === 'noise_seed' ? 1 : 0;
  }
  if (valueType === 'COMBO') return control ? 2 : 0;
  return 0;
}

function slotsForInput(name: string, spec: unknown, options: LayoutOptions): WidgetSlot[] {
  const valueType = widgetTypeOf(spec);
  if (valueType === undefined) {
    return options.includeForcedSockets && isForcedSocket(spec)
      ? [{ role: 'force_input', inputName: name, valueType: 'ANY' }]
      : [];
  }
  const slots: WidgetSlot[] = [
    { role: 'value', inputName: name, valueType: valueType === DYNAMIC_COMBO_TYPE ? 'COMBO' : valueType, spec },
  ];
  const controls = controlSlotCount(name, valueType, spec);
  if (controls >= 1) slots.push({ role: 'control', inputName: name, valueType: 'CONTROL' });
  if (controls >= 2) slots.push({ role: 'filter', inputName: name, valueType: 'STRING' });
  const remote = inputOptions(spec).remote;
  // A remote combo with a refresh button saves two more UI values after it (observed: LoadImageOutput).
  if (typeof remote === 'object' && remote !== null && (remote as { refresh_button?: unknown }).refresh_button) {
    slots.push({ role: 'ui', inputName: name, valueType: 'ANY' }, { role: 'ui', inputName: name, valueType: 'ANY' });
  }
  return slots;
}

/** Variants of the layout. */
export interface LayoutOptions {
  /**
   * Also give `forceInput` inputs a slot: files saved before frontend 1.16 stored a dummy value for
   * them, and the frontend drops those positions when that makes the count match (§6.9 item 7).
   */
  includeForcedSockets?: boolean;
}

/** The widget slots of a node type, in the order its `widgets_values` are saved. */
export function widgetLayout(classType: string, def: NodeDef, options: LayoutOptions = {}): WidgetSlot[] {
  const slots: WidgetSlot[] = [];
  const required = orderedInputs(def, 'required');
  for (const [name, spec] of required) slots.push(...slotsForInput(name, spec, options));

  const requiredOptions = required.map(([, spec]) => inputOptions(spec));
  if (AUDIO_UI_NODES.has(classType)) {
    slots.push({ role: 'ui', inputName: 'audioUI', valueType: 'ANY' });
    if (requiredOptions.some((opts) => opts.audio_upload))
      slots.push({ role: 'upload', inputName: 'upload', valueType: 'ANY' });
  } else if (requiredOptions.some((opts) => opts.image_upload || opts.video_upload || opts.animated_image_upload)) {
    slots.push({ role: 'upload', inputName: 'upload', valueType: 'ANY' });
  }

  for (const [name, spec] of orderedInputs(def, 'optional')) slots.push(...slotsForInput(name, spec, options));
  return slots;
}

/** The child inputs of a V3 dynamic combo's chosen option, as slots with dotted API names. */
export function dynamicComboChildren(slot: WidgetSlot, chosen: unknown): WidgetSlot[] {
  if (inputType(slot.spec) !== DYNAMIC_COMBO_TYPE) return [];
  const optionList = inputOptions(slot.spec).options;
  if (!Array.isArray(optionList)) return [];
  const option = optionList.find(
    (entry): entry is { key: unknown; inputs?: unknown } =>
      typeof entry === 'object' && entry !== null && (entry as { key?: unknown }).key === chosen,
  );
  if (!option || typeof option.inputs !== 'object' || option.inputs === null) return [];
  const inputs = option.inputs as { required?: Record<string, unknown>; optional?: Record<string, unknown> };
  const children: WidgetSlot[] = [];
  for (const group of [inputs.required ?? {}, inputs.optional ?? {}]) {
    for (const [name, spec] of Object.entries(group)) {
      for (const child of slotsForInput(name, spec, {}))
        children.push({ ...child, inputName: `${slot.inputName}.${child.inputName}` });
    }
  }
  return children;
}

/** The default an input's widget starts with (object_info `default`, else the first combo option, else a zero value). */
export function widgetDefault(slot: WidgetSlot): unknown {
  const options = inputOptions(slot.spec);
  if (options.default !== undefined) return options.default;
  switch (slot.valueType) {
    case 'COMBO':
      return comboOptions(slot.spec)?.[0];
    case 'INT':
    case 'FLOAT':
      return typeof options.min === 'number' && options.min > 0 ? options.min : 0;
    case 'BOOLEAN':
      return false;
    case 'STRING':
      return '';
    default:
      return undefined;
  }
}
