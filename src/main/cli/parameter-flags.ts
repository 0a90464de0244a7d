import { InvalidArgumentError } from 'commander';
import type { Parameter, ParameterValues } from '@shared/domain/generation';
import { CliError, ExitCode } from './io';

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

/** What the core says about values a workflow refuses (`parameter_invalid` with its issues). */
interface ParameterIssueLike {
  code: string;
  message: string;
}

/**
 * Values given with `--set` (or `--seed`, `--prompt`) that the workflow refuses are a usage error:
 * one sentence with every problem, how to list the parameter ids when one is unknown, and that
 * nothing was sent. Undefined for any other error.
 */
export function refusedValuesError(error: unknown, listCommand: string): CliError | undefined {
  const failure = error as { code?: unknown; details?: { issues?: unknown } } | undefined;
  const issues = failure?.details?.issues;
  if (failure?.code !== 'parameter_invalid' || !Array.isArray(issues) || issues.length === 0) return undefined;
  const said = (issues as ParameterIssueLike[]).map((issue, index) => {
    const text = issue.message.replace(/\.$/, '');
    return index > 0 && /^[A-Z][a-z]/.test(text) ? `${text[0]!.toLowerCase()}${text.slice(1)}` : text;
  });
  const hint = (issues as ParameterIssueLike[]).some((issue) => issue.code === 'unknown_parameter')
    ? ` ("${listCommand}" lists the parameter ids)`
    : '';
  return new CliError(`${said.join('; ')}${hint}; nothing was sent.`, {
    exitCode: ExitCode.usage,
    code: 'parameter_invalid',
  });
}
