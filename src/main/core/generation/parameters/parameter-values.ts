import {
  isApiLink,
  type ApiPrompt,
  type ControlMode,
  type Parameter,
  type ParameterAssignment,
  type ParameterIssue,
  type ParameterValues,
} from '@shared/domain/generation';
import { checkParameterValue } from '@shared/parameter-check';
import { AppError } from '../../lib/errors';
import { nextControlledValue, type RandomSource } from '../convert/transforms';
import { PRIMITIVE_VALUE_NODES } from './prompt-graph';

/**
 * Checking, injecting and multiplying the values a person chose (protocol doc §6.8 steps 16–17):
 * values are validated against object_info's constraints, injected by (node id, input name) —
 * never by position — and a batch becomes N prompts with their seeds moved per run.
 */

/**
 * Checks chosen values against the parameters' constraints: types, min/max and combo options,
 * with messages that name the field and what it accepts. An empty list means every value fits.
 */
export function validateParameterValues(parameters: readonly Parameter[], values: ParameterValues): ParameterIssue[] {
  const byId = new Map(parameters.map((parameter) => [parameter.id, parameter]));
  const issues: ParameterIssue[] = [];
  for (const [id, value] of Object.entries(values)) {
    const parameter = byId.get(id);
    if (!parameter) {
      issues.push({ parameterId: id, code: 'unknown_parameter', message: `This workflow has no parameter "${id}".` });
      continue;
    }
    const issue = checkParameterValue(parameter, value);
    if (issue) issues.push(issue);
  }
  return issues;
}

/** Throws `parameter_invalid` listing every problem, so nothing is queued with a bad value. */
export function assertValidParameterValues(parameters: readonly Parameter[], values: ParameterValues): void {
  const issues = validateParameterValues(parameters, values);
  if (issues.length === 0) return;
  throw new AppError(
    'parameter_invalid',
    `${issues.map((issue) => issue.message).join(' ')} Correct ${issues.length === 1 ? 'it' : 'them'} and try again; nothing was sent.`,
    { details: { issues } },
  );
}

/**
 * Writes values into a copy of the prompt by (node id, input name). When a target input is fed by
 * a primitive node (a seed from PrimitiveInt), the primitive's value is set; when it is fed by any
 * other node, the link is replaced by the literal. Returns what was written where, for the UI
 * workflow kept with the outputs.
 */
export function applyParameterValues(
  prompt: ApiPrompt,
  parameters: readonly Parameter[],
  values: ParameterValues,
): { prompt: ApiPrompt; assignments: ParameterAssignment[] } {
  const result = structuredClone(prompt);
  const assignments: ParameterAssignment[] = [];
  for (const parameter of parameters) {
    if (!Object.hasOwn(values, parameter.id)) continue;
    const value = values[parameter.id];
    for (const target of parameter.targets) {
      const node = result[target.nodeId];
      if (!node) continue;
      const current = node.inputs[target.inputName];
      const source = isApiLink(current) ? result[current[0]] : undefined;
      if (isApiLink(current) && source && PRIMITIVE_VALUE_NODES.has(source.class_type)) {
        source.inputs.value = value;
        assignments.push({ nodeId: current[0], inputName: 'value', value });
      } else {
        node.inputs[target.inputName] = Array.isArray(value) ? { __value__: value } : value;
        assignments.push({ nodeId: target.nodeId, inputName: target.inputName, value });
      }
    }
  }
  return { prompt: result, assignments };
}

/** One run of a batch: its prompt, the values it used (seeds included) and where they were written. */
export interface PlannedRun {
  prompt: ApiPrompt;
  values: ParameterValues;
  assignments: ParameterAssignment[];
}

/** What {@link planRuns} needs: the converted prompt, its parameters and the person's choices. */
export interface PlanRunsOptions {
  prompt: ApiPrompt;
  parameters: readonly Parameter[];
  /** The person's values; seeds they set are the starting point of increment/decrement/fixed. */
  values: ParameterValues;
  /** How many runs. @default 1 */
  count?: number;
  /** Per seed parameter id, a mode overriding the workflow's. */
  seedControls?: Record<string, ControlMode>;
  /** Uniform in [0, 1), for randomized seeds. @default Math.random */
  random?: RandomSource;
}

/**
 * Turns one set of values into N prompts (a batch). Each seed parameter moves by its control mode:
 * `randomize` draws a fresh seed for every run (including the first), `increment`/`decrement` add or
 * subtract the run index times the step, `fixed` repeats the value. Values are validated first;
 * throws `parameter_invalid` when one does not fit.
 */
export function planRuns(options: PlanRunsOptions): PlannedRun[] {
  const count = options.count ?? 1;
  if (!Number.isInteger(count) || count < 1)
    throw new AppError('parameter_invalid', `A batch needs a whole number of runs of 1 or more (got ${count}).`);
  assertValidParameterValues(options.parameters, options.values);
  const random = options.random ?? Math.random;
  const runs: PlannedRun[] = [];
  for (let index = 0; index < count; index += 1) {
    const values: ParameterValues = { ...options.values };
    for (const parameter of options.parameters) {
      if (parameter.kind !== 'seed') continue;
      const mode = options.seedControls?.[parameter.id] ?? parameter.seedControl ?? 'fixed';
      const base =
        typeof options.values[parameter.id] === 'number'
          ? (options.values[parameter.id] as number)
          : typeof parameter.value === 'number'
            ? parameter.value
            : 0;
      const range = {
        min: parameter.constraints.min,
        max: parameter.constraints.max,
        step: parameter.constraints.step,
      };
      values[parameter.id] = seedForRun(base, mode, index, range, random);
    }
    runs.push({ ...applyParameterValues(options.prompt, options.parameters, values), values });
  }
  return runs;
}

function seedForRun(
  base: number,
  mode: ControlMode,
  index: number,
  range: { min?: number; max?: number; step?: number },
  random: RandomSource,
): number {
  if (mode === 'randomize') return nextControlledValue(base, 'randomize', range, random);
  let value = base;
  for (let step = 0; step < index; step += 1) value = nextControlledValue(value, mode, range, random);
  return value;
}
