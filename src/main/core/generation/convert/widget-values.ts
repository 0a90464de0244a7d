import type { ControlMode } from '@shared/domain/generation';
import { comboOptions, inputOptions, type NodeDef } from '../../comfy/object-info';
import {
  CONTROL_MODES,
  dynamicComboChildren,
  FRONTEND_WIDGET_TYPES,
  widgetDefault,
  widgetLayout,
  type WidgetSlot,
} from './widget-layout';

/** A value an API input gets from the node's widgets, and where in `widgets_values` it was saved. */
export interface WidgetValue {
  value: unknown;
  /** Index (array form) or key (object form) in `widgets_values`; undefined when the default was used. */
  slot?: number | string;
}

/** How the saved values fit the layout when they did not line up one to one. */
export interface LayoutMismatch {
  /** `info`: a documented case (values saved before a widget existed, extra UI values); `warning`: values were matched by type. */
  severity: 'info' | 'warning';
  savedCount: number;
  slotCount: number;
  /** Inputs that got their default because no saved value fit. */
  defaulted: string[];
  /** Positions of saved values that fit no slot and were ignored. */
  ignored: number[];
}

/** A node's `widgets_values` aligned to its inputs. */
export interface AlignedWidgets {
  /** API input name → value (every `value` slot, saved or defaulted). */
  values: Map<string, WidgetValue>;
  /** Input name → control-after-generate mode. */
  controls: Map<string, ControlMode>;
  mismatch?: LayoutMismatch;
  /** Inputs whose control slot held an old boolean instead of a mode. */
  legacyControls: string[];
  /** Inputs whose widget the ComfyUI frontend computes itself (their saved value is sent as is). */
  frontendWidgets: string[];
  /** The layout that was used, in saved order (for legacy group nodes, which concatenate several). */
  layout: WidgetSlot[];
}

/** 0 = fits, a small cost = fits poorly, Infinity = cannot be this slot's value. */
function fitCost(slot: WidgetSlot, value: unknown): number {
  if (value === null || value === undefined)
    return slot.role === 'value' && !FRONTEND_WIDGET_TYPES.has(slot.valueType) ? 0.5 : 0;
  switch (slot.role) {
    case 'control':
      return (typeof value === 'string' && (CONTROL_MODES as readonly string[]).includes(value)) ||
        typeof value === 'boolean'
        ? 0
        : Infinity;
    case 'filter':
      return typeof value === 'string' ? 0 : Infinity;
    case 'upload':
    case 'ui':
    case 'force_input':
      return 0;
    case 'value':
      return valueFitCost(slot, value);
  }
}

function valueFitCost(slot: WidgetSlot, value: unknown): number {
  switch (slot.valueType) {
    case 'INT':
      return typeof value === 'number' && Number.isInteger(value) ? 0 : Infinity;
    case 'FLOAT':
      return typeof value === 'number' && Number.isFinite(value) ? 0 : Infinity;
    case 'BOOLEAN':
      return typeof value === 'boolean' ? 0 : Infinity;
    case 'STRING':
      return typeof value === 'string' ? 0 : Infinity;
    case 'COMBO': {
      if (Array.isArray(value))
        return inputOptions(slot.spec).multiselect || inputOptions(slot.spec).multi_select ? 0 : Infinity;
      if (typeof value !== 'string' && typeof value !== 'number') return Infinity;
      const options = comboOptions(slot.spec);
      // A value outside the list still fits (models differ between servers), but an exact option fits better.
      return options && options.length > 0 && !options.includes(value) ? 0.1 : 0;
    }
    default:
      return 0;
  }
}

/** What leaving a slot without a saved value costs: UI companions are often absent, values rarely. */
function skipSlotCost(slot: WidgetSlot): number {
  if (slot.role === 'value') return 1;
  if (slot.role === 'control' || slot.role === 'filter') return 0.6;
  return 0.2;
}

function skipValueCost(value: unknown): number {
  return value === null || value === undefined || value === '' ? 0.2 : 1;
}

/** Expands V3 dynamic combos: the chosen option's inputs follow the combo, by the value saved at its position. */
function expandDynamic(layout: WidgetSlot[], saved: unknown[] | undefined): WidgetSlot[] {
  const result: WidgetSlot[] = [];
  for (const slot of layout) {
    result.push(slot);
    if (slot.role === 'value') result.push(...dynamicComboChildren(slot, saved?.[result.length - 1]));
  }
  return result;
}

type Pairing = Array<{ slot: number; value: number | undefined }>;

function positional(slots: WidgetSlot[], count: number): Pairing {
  return slots.map((_, index) => ({ slot: index, value: index < count ? index : undefined }));
}

/**
 * Aligns values to slots by type when positions do not fit: the cheapest way to match, leave
 * slots at their default, and ignore values. Ties prefer matching early slots, so a missing tail
 * (the common case) stays a missing tail.
 */
function alignByType(slots: WidgetSlot[], values: unknown[]): { pairing: Pairing; ignored: number[] } {
  const rows = values.length + 1;
  const cols = slots.length + 1;
  const cost = new Float64Array(rows * cols);
  const at = (i: number, j: number) => i * cols + j;
  for (let i = values.length; i >= 0; i -= 1) {
    for (let j = slots.length; j >= 0; j -= 1) {
      if (i === values.length && j === slots.length) continue;
      let best = Infinity;
      if (i < values.length && j < slots.length)
        best = Math.min(best, fitCost(slots[j]!, values[i]) + cost[at(i + 1, j + 1)]!);
      if (j < slots.length) best = Math.min(best, skipSlotCost(slots[j]!) + cost[at(i, j + 1)]!);
      if (i < values.length) best = Math.min(best, skipValueCost(values[i]) + cost[at(i + 1, j)]!);
      cost[at(i, j)] = best;
    }
  }
  const pairing: Pairing = [];
  const ignored: number[] = [];
  let i = 0;
  let j = 0;
  const same = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  while (i < values.length || j < slots.length) {
    const here = cost[at(i, j)]!;
    if (i < values.length && j < slots.length && same(here, fitCost(slots[j]!, values[i]) + cost[at(i + 1, j + 1)]!)) {
      pairing.push({ slot: j, value: i });
      i += 1;
      j += 1;
    } else if (j < slots.length && same(here, skipSlotCost(slots[j]!) + cost[at(i, j + 1)]!)) {
      pairing.push({ slot: j, value: undefined });
      j += 1;
    } else {
      ignored.push(i);
      i += 1;
    }
  }
  return { pairing, ignored };
}

function fitsPositionally(slots: WidgetSlot[], values: unknown[], length: number): boolean {
  for (let index = 0; index < length; index += 1) {
    if (!Number.isFinite(fitCost(slots[index]!, values[index]))) return false;
  }
  return true;
}

function defaultControl(slot: WidgetSlot, spec: unknown): ControlMode {
  const configured = inputOptions(spec).control_after_generate;
  if (typeof configured === 'string' && (CONTROL_MODES as readonly string[]).includes(configured))
    return configured as ControlMode;
  return slot.valueType === 'CONTROL' && inputOptions(spec).multiselect ? 'fixed' : 'randomize';
}

/**
 * Aligns a node's saved `widgets_values` (array or object form) to its widget layout, following
 * §6.9: exact positions when they fit; the frontend's forceInput migration; a missing tail or
 * extra trailing values; otherwise a type-driven match that is reported as a warning.
 */
export function alignWidgetValues(
  classType: string,
  def: NodeDef,
  saved: unknown[] | Record<string, unknown> | undefined,
  layoutOverride?: WidgetSlot[],
): AlignedWidgets {
  const savedArray = Array.isArray(saved) ? saved : undefined;
  let layout = layoutOverride ?? expandDynamic(widgetLayout(classType, def), savedArray);
  let pairing: Pairing;
  let mismatch: LayoutMismatch | undefined;

  if (saved !== undefined && !Array.isArray(saved)) {
    return alignNamed(layout, saved);
  }
  const values = savedArray ?? [];
  if (values.length === layout.length && fitsPositionally(layout, values, values.length)) {
    pairing = positional(layout, values.length);
  } else {
    const withForced = layoutOverride
      ? undefined
      : expandDynamic(widgetLayout(classType, def, { includeForcedSockets: true }), values);
    if (
      withForced &&
      withForced.length === values.length &&
      withForced.length > layout.length &&
      fitsPositionally(withForced, values, values.length)
    ) {
      // Pre-1.16 files keep a dummy value for forceInput inputs; dropping them is the frontend's own migration.
      layout = withForced;
      pairing = positional(layout, values.length);
    } else if (savedArray === undefined) {
      pairing = positional(layout, 0);
    } else if (fitsPositionally(layout, values, Math.min(values.length, layout.length))) {
      pairing = positional(layout, values.length);
      const extras = values.slice(layout.length);
      const defaulted = layout
        .slice(values.length)
        .filter((slot) => slot.role === 'value')
        .map((slot) => slot.inputName);
      const isNoise = extras.every((value) => value === null || value === '');
      if (defaulted.length > 0 || (extras.length > 0 && !isNoise)) {
        mismatch = {
          severity: 'info',
          savedCount: values.length,
          slotCount: layout.length,
          defaulted,
          ignored: extras.map((_, index) => layout.length + index),
        };
      }
    } else {
      const aligned = alignByType(layout, values);
      pairing = aligned.pairing;
      const defaulted = pairing
        .filter((pair) => pair.value === undefined && layout[pair.slot]!.role === 'value')
        .map((pair) => layout[pair.slot]!.inputName);
      mismatch = {
        severity: 'warning',
        savedCount: values.length,
        slotCount: layout.length,
        defaulted,
        ignored: aligned.ignored,
      };
    }
  }

  const result: AlignedWidgets = {
    values: new Map(),
    controls: new Map(),
    legacyControls: [],
    frontendWidgets: [],
    layout,
  };
  if (mismatch) result.mismatch = mismatch;
  let lastValueSpec: unknown;
  for (const { slot: slotIndex, value: valueIndex } of pairing) {
    const slot = layout[slotIndex]!;
    const saved = valueIndex === undefined ? undefined : values[valueIndex];
    if (slot.role === 'value') {
      lastValueSpec = slot.spec;
      if (FRONTEND_WIDGET_TYPES.has(slot.valueType)) result.frontendWidgets.push(slot.inputName);
      if (saved === undefined || (saved === null && !FRONTEND_WIDGET_TYPES.has(slot.valueType))) {
        const fallback = widgetDefault(slot);
        if (fallback !== undefined) result.values.set(slot.inputName, { value: fallback });
      } else {
        result.values.set(slot.inputName, { value: saved, slot: valueIndex! });
      }
    } else if (slot.role === 'control') {
      if (typeof saved === 'boolean') {
        result.legacyControls.push(slot.inputName);
        result.controls.set(slot.inputName, saved ? 'randomize' : 'fixed');
      } else if (typeof saved === 'string' && (CONTROL_MODES as readonly string[]).includes(saved)) {
        result.controls.set(slot.inputName, saved as ControlMode);
      } else {
        result.controls.set(slot.inputName, defaultControl(slot, lastValueSpec));
      }
    }
  }
  return result;
}

function alignNamed(layout: WidgetSlot[], saved: Record<string, unknown>): AlignedWidgets {
  const result: AlignedWidgets = {
    values: new Map(),
    controls: new Map(),
    legacyControls: [],
    frontendWidgets: [],
    layout,
  };
  for (const slot of layout) {
    if (slot.role !== 'value') continue;
    if (FRONTEND_WIDGET_TYPES.has(slot.valueType)) result.frontendWidgets.push(slot.inputName);
    if (Object.hasOwn(saved, slot.inputName))
      result.values.set(slot.inputName, { value: saved[slot.inputName], slot: slot.inputName });
    else {
      const fallback = widgetDefault(slot);
      if (fallback !== undefined) result.values.set(slot.inputName, { value: fallback });
    }
  }
  return result;
}
