import type { Parameter, ParameterIssue } from './domain/generation';

function listOptions(options: ReadonlyArray<string | number>): string {
  const shown = options
    .slice(0, 5)
    .map((option) => JSON.stringify(option))
    .join(', ');
  return options.length > 5 ? `${shown} (and ${options.length - 5} more)` : shown;
}

/**
 * Why one value does not fit its parameter (object_info's limits: type, min/max, choices), or
 * undefined when it does. The core checks every value with it before queueing; the renderer
 * checks fields with it as a person types, so both say the same thing.
 */
export function checkParameterValue(parameter: Parameter, value: unknown): ParameterIssue | undefined {
  const { constraints, label, id } = parameter;
  const issue = (code: ParameterIssue['code'], message: string): ParameterIssue => ({ parameterId: id, code, message });
  switch (constraints.type) {
    case 'INT':
    case 'FLOAT': {
      if (
        typeof value !== 'number' ||
        !Number.isFinite(value) ||
        (constraints.type === 'INT' && !Number.isInteger(value))
      ) {
        return issue(
          'wrong_type',
          `"${label}" must be ${constraints.type === 'INT' ? 'a whole number' : 'a number'} (got ${JSON.stringify(value)}).`,
        );
      }
      if (constraints.min !== undefined && value < constraints.min)
        return issue('below_min', `"${label}" must be at least ${constraints.min} (got ${value}).`);
      if (constraints.max !== undefined && value > constraints.max)
        return issue('above_max', `"${label}" must be at most ${constraints.max} (got ${value}).`);
      return undefined;
    }
    case 'STRING':
      return typeof value === 'string'
        ? undefined
        : issue('wrong_type', `"${label}" must be text (got ${JSON.stringify(value)}).`);
    case 'BOOLEAN':
      return typeof value === 'boolean'
        ? undefined
        : issue('wrong_type', `"${label}" must be true or false (got ${JSON.stringify(value)}).`);
    case 'COMBO': {
      if (typeof value !== 'string' && typeof value !== 'number')
        return issue('wrong_type', `"${label}" must be one of its choices (got ${JSON.stringify(value)}).`);
      if (constraints.media || constraints.acceptsAnyFile) {
        return typeof value === 'string' && value !== ''
          ? undefined
          : issue('wrong_type', `"${label}" needs a file name.`);
      }
      // Remote combos load their choices elsewhere; the server does not check them.
      if (constraints.isRemote || !constraints.options) return undefined;
      if (constraints.options.length === 0) {
        return issue(
          'no_options',
          `"${label}" has no choices on this server${constraints.folder ? ` (its ${constraints.folder} folder is empty)` : ''}; add the file there and refresh.`,
        );
      }
      return constraints.options.includes(value)
        ? undefined
        : issue(
            'not_an_option',
            `"${label}" must be one of ${listOptions(constraints.options)} (got ${JSON.stringify(value)}).`,
          );
    }
  }
}
