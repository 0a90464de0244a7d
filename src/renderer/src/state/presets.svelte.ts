import type { Parameter, ParameterValues, Preset } from '@shared/domain/generation';
import type { SeedMode } from '@shared/domain/job';
import type { ApiClient } from '../api';
import { errorMessage } from '../api';
import { isStagedRef } from './field-checks';

/**
 * The presets of the workflow the form shows: read when it is chosen, saved and deleted through the
 * core (`presets.*`). An answer about a workflow no longer shown is dropped.
 */
export class PresetsState {
  #items = $state.raw<Preset[]>([]);
  #error = $state<string | undefined>(undefined);
  #workflowId: string | undefined;
  #loadedFor: string | undefined;
  readonly #api: ApiClient;

  constructor(api: ApiClient) {
    this.#api = api;
  }

  /** By name. */
  get items(): Preset[] {
    return this.#items;
  }

  /** Why presets could not be read or saved, if they could not. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Follows the form to a workflow (or none): its presets are read once, when the core can be asked. */
  follow(workflowId: string | undefined, canRead: boolean): void {
    if (workflowId !== this.#workflowId) {
      this.#workflowId = workflowId;
      this.#items = [];
      this.#error = undefined;
      this.#loadedFor = undefined;
    }
    if (workflowId === undefined || this.#loadedFor === workflowId || !canRead) return;
    this.#loadedFor = workflowId;
    void this.#run(workflowId, () => this.#api.call('presets.list', { workflowId }), true);
  }

  save(workflowId: string, name: string, values: ParameterValues, seedMode: SeedMode | undefined): Promise<boolean> {
    return this.#run(workflowId, () =>
      this.#api.call('presets.save', { workflowId, name, values, ...(seedMode ? { seedMode } : {}) }),
    );
  }

  delete(workflowId: string, name: string): Promise<boolean> {
    return this.#run(workflowId, () => this.#api.call('presets.delete', { workflowId, name }));
  }

  async #run(workflowId: string, call: () => Promise<{ presets: Preset[] }>, isRead = false): Promise<boolean> {
    try {
      const { presets } = await call();
      if (this.#workflowId === workflowId) {
        this.#items = presets;
        this.#error = undefined;
      }
      return true;
    } catch (error) {
      if (this.#workflowId !== workflowId) return false;
      this.#error = errorMessage(error);
      if (isRead) this.#loadedFor = undefined; // read them again next time
      return false;
    }
  }
}

/**
 * What a preset of the form keeps: its settings, not the prompts (`prompts` are the ids that follow the
 * person between workflows), dropped files or media the person did not choose.
 */
export function presetValues(
  parameters: readonly Parameter[],
  valueOf: (parameter: Parameter) => unknown,
  isEdited: (parameterId: string) => boolean,
  prompts: readonly string[],
): ParameterValues {
  const values: Record<string, unknown> = {};
  for (const parameter of parameters) {
    if (prompts.includes(parameter.id) || parameter.kind === 'prompt' || parameter.kind === 'negative_prompt') continue;
    const value = valueOf(parameter);
    if (isStagedRef(value) || (parameter.constraints.media && !isEdited(parameter.id))) continue;
    values[parameter.id] = value;
  }
  return values;
}

/** The values of a preset this form has fields for (the workflow may have changed since it was saved). */
export function presetEdits(preset: Preset, parameters: readonly Parameter[]): Record<string, unknown> {
  const known = new Set(parameters.map((parameter) => parameter.id));
  return Object.fromEntries(Object.entries(preset.values).filter(([id]) => known.has(id)));
}
