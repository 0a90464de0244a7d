import { InvalidArgumentError } from 'commander';
import type { Parameter, ParameterValues } from '@shared/domain/generation';

/** Commander collector for repeatable `--set NAME=VALUE` options, refusing anything without `=`. */
export function collectAssignments(value: string, previous: string[]): string[] {
  if (!value.includes('=')) throw new InvalidArgumentError('must look like NAME=VALUE (e.g. steps=30).');
  return [...previous, value];
}

/**
 * `--set NAME=VALUE` assignments as parameter values, typed by what each parameter holds (numbers,
 * booleans, combo options). Unknown names are kept as text so validation can say what is wrong.
 */
export function parseSetValues(assignments: readonly string[], parameters: readonly Parameter[]): ParameterValues {
  const values: ParameterValues = {};
  for (const assignment of assignments) {
    const equals = assignment.indexOf('=');
    const name = assignment.slice(0, equals);
    const raw = assignment.slice(equals + 1);
    const parameter = parameters.find((candidate) => candidate.id === name);
    values[name] = parameter ? typedValue(parameter, raw) : raw;
  }
  return values;
}

function typedValue(parameter: Parameter, raw: string): unknown {
  const { type, options } = parameter.constraints;
  const number = raw.trim() === '' ? Number.NaN : Number(raw);
  switch (type) {
    case 'INT':
    case 'FLOAT':
      // A value that is not a number is passed on as text, so validation can say what was wrong.
      return Number.isFinite(number) ? number : raw;
    case 'BOOLEAN':
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      return raw;
    case 'COMBO':
      return options?.includes(raw) || !Number.isFinite(number) || !options?.includes(number) ? raw : number;
    default:
      return raw;
  }
}
