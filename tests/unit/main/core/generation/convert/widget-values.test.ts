import { describe, expect, test } from 'vitest';
import type { NodeDef } from '../../../../../../src/main/core/comfy/object-info';
import { widgetLayout } from '../../../../../../src/main/core/generation/convert/widget-layout';
import { alignWidgetValues } from '../../../../../../src/main/core/generation/convert/widget-values';
import { recordedObjectInfo } from '../../../../../support/corpus';

const objectInfo = recordedObjectInfo();
const def = (name: string): NodeDef => objectInfo[name]!;
const layoutOf = (name: string) =>
  widgetLayout(name, def(name)).map((slot) => (slot.role === 'value' ? slot.inputName : `${slot.role}`));
const valuesOf = (name: string, saved: unknown[] | Record<string, unknown> | undefined, custom?: NodeDef) =>
  Object.fromEntries(
    [...alignWidgetValues(name, custom ?? def(name), saved).values].map(([key, widget]) => [key, widget.value]),
  );

/** A node type with the layouts the recorded server does not have. */
function customDef(required: Record<string, unknown>, optional: Record<string, unknown> = {}): NodeDef {
  return {
    name: 'Custom',
    input: { required, optional },
    input_order: { required: Object.keys(required), optional: Object.keys(optional) },
    output: [],
  };
}

describe('widget-slot layout (protocol doc §6.9)', () => {
  test('seed widgets are followed by their control slot; sockets take no slot', () => {
    expect(layoutOf('KSampler')).toEqual(['seed', 'control', 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise']);
    expect(layoutOf('KSamplerAdvanced')).toEqual([
      'add_noise',
      'noise_seed',
      'control',
      'steps',
      'cfg',
      'sampler_name',
      'scheduler',
      'start_at_step',
      'end_at_step',
      'return_with_leftover_noise',
    ]);
    expect(layoutOf('PrimitiveInt')).toEqual(['value', 'control']);
    expect(layoutOf('CLIPTextEncode')).toEqual(['text']);
  });

  test('image and video loaders end with an upload button; audio nodes with a player hole and, for uploads, a button', () => {
    expect(layoutOf('LoadImage')).toEqual(['image', 'upload']);
    expect(layoutOf('LoadImageMask')).toEqual(['image', 'channel', 'upload']);
    expect(layoutOf('LoadVideo')).toEqual(['file', 'upload']);
    expect(layoutOf('LoadAudio')).toEqual(['audio', 'ui', 'upload']);
    expect(layoutOf('SaveAudio')).toEqual(['filename_prefix', 'ui']);
  });

  test('a combo with control_after_generate gets a mode and a filter slot; forceInput inputs get none', () => {
    const custom = customDef({
      model: [['a.safetensors', 'b.safetensors'], { control_after_generate: true }],
      count: ['INT', { forceInput: true }],
      label: ['STRING', {}],
    });
    expect(widgetLayout('Custom', custom).map((slot) => slot.role)).toEqual(['value', 'control', 'filter', 'value']);
    expect(valuesOf('Custom', ['b.safetensors', 'increment', '', 'hi'], custom)).toEqual({
      model: 'b.safetensors',
      label: 'hi',
    });
  });

  test('V3 combos and a V3 dynamic combo whose chosen option brings its own inputs under dotted names', () => {
    const custom = customDef({
      format: [
        'COMFY_DYNAMICCOMBO_V3',
        {
          options: [
            { key: 'mp4', inputs: { required: { codec: ['COMBO', { options: ['h264', 'av1'] }] } } },
            { key: 'gif', inputs: { required: {} } },
          ],
        },
      ],
      quality: ['COMBO', { options: ['low', 'high'], default: 'high' }],
    });
    expect(valuesOf('Custom', ['mp4', 'av1', 'low'], custom)).toEqual({
      format: 'mp4',
      'format.codec': 'av1',
      quality: 'low',
    });
    expect(valuesOf('Custom', ['gif', 'low'], custom)).toEqual({ format: 'gif', quality: 'low' });
  });
});

describe('aligning saved values', () => {
  test('values land on their inputs by position; the UI-only slots are not sent', () => {
    const aligned = alignWidgetValues('KSampler', def('KSampler'), [
      156680208700286,
      'fixed',
      20,
      8,
      'euler',
      'normal',
      1,
    ]);
    expect(Object.fromEntries([...aligned.values].map(([name, widget]) => [name, widget.value]))).toEqual({
      seed: 156680208700286,
      steps: 20,
      cfg: 8,
      sampler_name: 'euler',
      scheduler: 'normal',
      denoise: 1,
    });
    expect(aligned.values.get('steps')).toEqual({ value: 20, slot: 2 });
    expect(aligned.controls.get('seed')).toBe('fixed');
    expect(aligned.mismatch).toBeUndefined();
    expect(valuesOf('LoadImage', ['cat.png', 'image'])).toEqual({ image: 'cat.png' });
    expect(valuesOf('LoadAudio', ['a.wav', null, ''])).toEqual({ audio: 'a.wav' });
  });

  test("a file saved before an input existed gets that input's default, reported as info", () => {
    const aligned = alignWidgetValues('CLIPLoader', def('CLIPLoader'), ['t5.safetensors', 'sd3']);
    expect(aligned.values.get('device')).toEqual({ value: 'default' });
    expect(aligned.mismatch).toMatchObject({ severity: 'info', defaulted: ['device'], ignored: [] });
  });

  test('extra trailing values from another frontend are ignored; empty ones silently', () => {
    expect(alignWidgetValues('SaveImage', def('SaveImage'), ['ComfyUI', '']).mismatch).toBeUndefined();
    expect(alignWidgetValues('SaveImage', def('SaveImage'), ['ComfyUI', 'stray']).mismatch).toMatchObject({
      severity: 'info',
      ignored: [1],
    });
  });

  test('a widget inserted in the middle by a newer node version is matched by type and reported as a warning', () => {
    // DualCFGGuider gained "style" after cfg values were saved in this order: style is missing, not shifted onto a number.
    const custom = customDef({
      cfg: ['FLOAT', { default: 8 }],
      style: [['regular', 'nested']],
      steps: ['INT', { default: 20 }],
      name: ['STRING', {}],
    });
    const aligned = alignWidgetValues('Custom', custom, [5.5, 30, 'x']);
    expect(Object.fromEntries([...aligned.values].map(([name, widget]) => [name, widget.value]))).toEqual({
      cfg: 5.5,
      style: 'regular',
      steps: 30,
      name: 'x',
    });
    expect(aligned.mismatch).toMatchObject({ severity: 'warning', defaulted: ['style'] });
  });

  test('an old boolean in the seed control slot still takes the slot and reads as a mode', () => {
    const aligned = alignWidgetValues('KSampler', def('KSampler'), [5, true, 20, 8, 'euler', 'normal', 1]);
    expect(aligned.values.get('steps')!.value).toBe(20);
    expect(aligned.controls.get('seed')).toBe('randomize');
    expect(aligned.legacyControls).toEqual(['seed']);
    expect(
      alignWidgetValues('KSampler', def('KSampler'), [5, false, 20, 8, 'euler', 'normal', 1]).controls.get('seed'),
    ).toBe('fixed');
  });

  test('a pre-1.16 dummy value for a forceInput input is dropped when that makes the count match', () => {
    const custom = customDef({ text: ['STRING', { forceInput: true }], strength: ['FLOAT', { default: 1 }] });
    const aligned = alignWidgetValues('Custom', custom, ['', 0.5]);
    expect(aligned.values.get('strength')!.value).toBe(0.5);
    expect(aligned.values.has('text')).toBe(false);
    expect(aligned.mismatch).toBeUndefined();
  });

  test('object-form values are read by name; missing ones get defaults', () => {
    expect(valuesOf('EmptyLatentImage', { width: 640, batch_size: 2 })).toEqual({
      width: 640,
      height: 512,
      batch_size: 2,
    });
  });

  test('no saved values at all means every widget starts at its default', () => {
    expect(valuesOf('EmptyLatentImage', undefined)).toEqual({ width: 512, height: 512, batch_size: 1 });
  });
});
