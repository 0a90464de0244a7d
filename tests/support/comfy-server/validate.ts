import type { NodeDefinition } from './object-info';

// A port of ComfyUI 0.3.64's validate_prompt / validate_inputs (execution.py), with the same error
// types, messages, details and extra_info, so clients see exactly what a real server sends.

/** One error as ComfyUI reports it (top-level `error` or a node's `errors[]`). */
export interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

/** One entry of `node_errors`. */
export interface NodeErrorEntry {
  errors: ValidationError[];
  dependent_outputs: string[];
  class_type: string;
}

/** validate_prompt's outcome. */
export type ValidationResult =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrorEntry> }
  | { ok: false; error: ValidationError; nodeErrors: Record<string, NodeErrorEntry> };

type Prompt = Record<string, { class_type?: unknown; inputs?: Record<string, unknown>; [key: string]: unknown }>;

/** Inputs validated by a node's own VALIDATE_INPUTS in ComfyUI (they skip min/max/combo checks). */
export const CUSTOM_VALIDATED_INPUTS: Record<string, string[]> = {
  LoadImage: ['image'],
  LoadImageMask: ['image'],
  LoadImageOutput: ['image'],
  LoadAudio: ['audio'],
};

/** Python's str() of a value, as ComfyUI's f-strings print it. */
export function pyStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return value;
  if (typeof value === 'number')
    return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : String(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([key, item]) => `${pyRepr(key)}: ${pyRepr(item)}`)
    .join(', ')}}`;
}

/** Python's repr() of a value (strings in single quotes). */
export function pyRepr(value: unknown): string {
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : pyStr(value);
}

class PyException extends Error {
  constructor(
    readonly pyType: string,
    readonly pyMessage: string,
  ) {
    super(pyMessage);
  }
}

function convert(type: string, value: unknown): unknown {
  if (type === 'INT') {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new PyException('OverflowError', 'cannot convert float infinity to integer');
      return Math.trunc(value);
    }
    if (typeof value === 'string') {
      if (/^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
      throw new PyException('ValueError', `invalid literal for int() with base 10: ${pyRepr(value)}`);
    }
    throw new PyException(
      'TypeError',
      `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'`,
    );
  }
  if (type === 'FLOAT') {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
    if (typeof value === 'string')
      throw new PyException('ValueError', `could not convert string to float: ${pyRepr(value)}`);
    throw new PyException(
      'TypeError',
      `float() argument must be a string or a real number, not '${pyTypeName(value)}'`,
    );
  }
  if (type === 'STRING') return pyStr(value);
  if (type === 'BOOLEAN')
    return Array.isArray(value)
      ? value.length > 0
      : typeof value === 'object' && value !== null
        ? Object.keys(value).length > 0
        : Boolean(value);
  return value;
}

function pyTypeName(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'dict';
  return typeof value;
}

function inputSpec(
  def: NodeDefinition,
  name: string,
): { type: unknown; options: Record<string, unknown>; category: 'required' | 'optional' } | undefined {
  for (const category of ['required', 'optional'] as const) {
    const spec = def.input[category]?.[name];
    if (Array.isArray(spec))
      return { type: spec[0], options: (spec[1] as Record<string, unknown> | undefined) ?? {}, category };
  }
  return undefined;
}

function typeMatches(received: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) return received === 'COMBO' || Array.isArray(received);
  if (typeof received !== 'string' || typeof wanted !== 'string') return false;
  if (received === '*' || wanted === '*') return true;
  if (received === wanted) return true;
  const a = new Set(received.split(','));
  return wanted.split(',').some((type) => a.has(type));
}

function traceback(where: string): string[] {
  return [`  File "/opt/ComfyUI/execution.py", line 808, in validate_inputs\n    ${where}\n`];
}

type Validated = Map<string, [boolean, ValidationError[], string]>;

/**
 * Validates a prompt like ComfyUI: converts literal inputs in place (the queued prompt is the
 * mutated one), and returns either the outputs to execute or ComfyUI's error and node_errors.
 * `fileExists(name)` answers LoadImage-style custom validation.
 */
export function validatePrompt(
  prompt: Prompt,
  objectInfo: Record<string, NodeDefinition>,
  partialTargets: string[] | undefined,
  fileExists: (name: string) => boolean,
): ValidationResult {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    if (typeof node !== 'object' || node === null || !('class_type' in node)) {
      return {
        ok: false,
        error: {
          type: 'invalid_prompt',
          message: 'Cannot execute because a node is missing the class_type property.',
          details: `Node ID '#${id}'`,
          extra_info: {},
        },
        nodeErrors: {},
      };
    }
    const def = objectInfo[String(node.class_type)];
    if (!def) {
      return {
        ok: false,
        error: {
          type: 'invalid_prompt',
          message: `Cannot execute because node ${pyStr(node.class_type)} does not exist.`,
          details: `Node ID '#${id}'`,
          extra_info: {},
        },
        nodeErrors: {},
      };
    }
    if (def.output_node === true && (partialTargets === undefined || partialTargets.includes(id))) outputs.push(id);
  }
  if (outputs.length === 0)
    return {
      ok: false,
      error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} },
      nodeErrors: {},
    };

  const validated: Validated = new Map();
  const good: string[] = [];
  const failed: Array<[string, ValidationError[]]> = [];
  const nodeErrors: Record<string, NodeErrorEntry> = {};
  for (const output of outputs) {
    let valid: boolean;
    let reasons: ValidationError[];
    try {
      [valid, reasons] = validateInputs(prompt, output, validated, objectInfo, fileExists);
    } catch (error) {
      const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
      valid = false;
      reasons = [
        {
          type: 'exception_during_validation',
          message: 'Exception when validating node',
          details: ex.pyMessage,
          extra_info: {
            exception_type: ex.pyType,
            traceback: traceback('m = await validate_inputs(prompt_id, prompt, o, validated)'),
          },
        },
      ];
      validated.set(output, [false, reasons, output]);
    }
    if (valid) {
      good.push(output);
      continue;
    }
    failed.push([output, reasons]);
    for (const [nodeId, [isValid, nodeReasons]] of validated) {
      if (isValid || nodeReasons.length === 0) continue;
      nodeErrors[nodeId] ??= {
        errors: nodeReasons,
        dependent_outputs: [],
        class_type: String(prompt[nodeId]?.class_type),
      };
      nodeErrors[nodeId].dependent_outputs.push(output);
    }
  }
  if (good.length === 0) {
    const details = failed
      .flatMap(([, reasons]) => reasons.map((reason) => `${reason.message}: ${reason.details}`))
      .join('\n');
    return {
      ok: false,
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details,
        extra_info: {},
      },
      nodeErrors,
    };
  }
  return { ok: true, outputs: good, nodeErrors };
}

function validateInputs(
  prompt: Prompt,
  id: string,
  validated: Validated,
  objectInfo: Record<string, NodeDefinition>,
  fileExists: (name: string) => boolean,
): [boolean, ValidationError[]] {
  const done = validated.get(id);
  if (done) return [done[0], done[1]];
  const node = prompt[id];
  // A link to a node that does not exist fails here, before any try: Python's KeyError surfaces in the caller (§4.5).
  if (!node) throw new PyException('KeyError', pyRepr(id));
  const inputs = (node.inputs ??= {});
  const classType = String(node.class_type);
  const def = objectInfo[classType]!;
  const customInputs = CUSTOM_VALIDATED_INPUTS[classType] ?? [];
  const names = [...Object.keys(def.input.required ?? {}), ...Object.keys(def.input.optional ?? {})];
  const errors: ValidationError[] = [];
  let valid = true;

  for (const name of names) {
    const spec = inputSpec(def, name)!;
    const info = [spec.type, spec.options];
    if (!(name in inputs)) {
      if (spec.category === 'required')
        errors.push({
          type: 'required_input_missing',
          message: 'Required input is missing',
          details: name,
          extra_info: { input_name: name },
        });
      continue;
    }
    let value = inputs[name];
    if (Array.isArray(value)) {
      if (value.length !== 2) {
        errors.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: name,
          extra_info: { input_name: name, input_config: info, received_value: value },
        });
        continue;
      }
      const [sourceId, slot] = value as [unknown, unknown];
      const source = prompt[String(sourceId)];
      if (typeof sourceId !== 'string' || !source) throw new PyException('KeyError', pyRepr(sourceId));
      const sourceDef = objectInfo[String(source.class_type)]!;
      const received = sourceDef.output[Number(slot)];
      if (received === undefined) throw new PyException('IndexError', 'tuple index out of range');
      if (!typeMatches(received, spec.type)) {
        errors.push({
          type: 'return_type_mismatch',
          message: 'Return type mismatch between linked nodes',
          details: `${name}, received_type(${pyStr(received)}) mismatch input_type(${pyStr(spec.type)})`,
          extra_info: { input_name: name, input_config: info, received_type: received, linked_node: value },
        });
        continue;
      }
      try {
        const [isValid] = validateInputs(prompt, sourceId, validated, objectInfo, fileExists);
        if (!isValid) valid = false;
      } catch (error) {
        const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
        valid = false;
        validated.set(sourceId, [
          false,
          [
            {
              type: 'exception_during_inner_validation',
              message: 'Exception when validating inner node',
              details: ex.pyMessage,
              extra_info: {
                input_name: name,
                input_config: info,
                exception_message: ex.pyMessage,
                exception_type: ex.pyType,
                traceback: traceback('r = await validate_inputs(prompt_id, prompt, o_id, validated)'),
                linked_node: value,
              },
            },
          ],
          sourceId,
        ]);
      }
      continue;
    }
    try {
      if (typeof value === 'object' && value !== null && '__value__' in value) {
        value = value.__value__;
        inputs[name] = value;
      }
      if (typeof spec.type === 'string') {
        value = convert(spec.type, value);
        inputs[name] = value;
      }
    } catch (error) {
      const ex = error as PyException;
      errors.push({
        type: 'invalid_input_type',
        message: `Failed to convert an input value to a ${pyStr(spec.type)} value`,
        details: `${name}, ${pyStr(value)}, ${ex.pyMessage}`,
        extra_info: { input_name: name, input_config: info, received_value: value, exception_message: ex.pyMessage },
      });
      continue;
    }
    if (customInputs.includes(name)) continue;
    if (typeof spec.options.min === 'number' && typeof value === 'number' && value < spec.options.min) {
      errors.push({
        type: 'value_smaller_than_min',
        message: `Value ${pyStr(value)} smaller than min of ${pyStr(spec.options.min)}`,
        details: name,
        extra_info: { input_name: name, input_config: info, received_value: value },
      });
      continue;
    }
    if (typeof spec.options.max === 'number' && typeof value === 'number' && value > spec.options.max) {
      errors.push({
        type: 'value_bigger_than_max',
        message: `Value ${pyStr(value)} bigger than max of ${pyStr(spec.options.max)}`,
        details: name,
        extra_info: { input_name: name, input_config: info, received_value: value },
      });
      continue;
    }
    if (Array.isArray(spec.type) && !spec.type.some((option) => option === value)) {
      const isLong = spec.type.length > 20;
      errors.push({
        type: 'value_not_in_list',
        message: 'Value not in list',
        details: `${name}: '${pyStr(value)}' not in ${isLong ? `(list of length ${spec.type.length})` : pyStr(spec.type)}`,
        extra_info: { input_name: name, input_config: isLong ? null : info, received_value: value },
      });
    }
  }

  for (const name of customInputs) {
    const value = inputs[name];
    if (typeof value === 'string' && !fileExists(value)) {
      errors.push({
        type: 'custom_validation_failed',
        message: 'Custom validation failed for node',
        details: `${name} - Invalid image file: ${value}`,
        extra_info: { input_name: name },
      });
    }
  }

  const result: [boolean, ValidationError[], string] =
    errors.length > 0 || !valid ? [false, errors, id] : [true, [], id];
  validated.set(id, result);
  return [result[0], result[1]];
}
