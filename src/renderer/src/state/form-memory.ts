import type { SeedMode } from '@shared/domain/job';
import type { StagedFile } from './field-checks';

/** What a workflow's form holds: the values a person set, the seed mode and the dropped files. */
export interface FormHeld {
  edits: Readonly<Record<string, unknown>>;
  seedMode: SeedMode | undefined;
  staged: Readonly<Record<string, StagedFile>>;
}

/**
 * What each workflow's form keeps while another one is shown, so coming back finds it as it was
 * left. The values named in `carried` (what a person wrote, not how a graph is set up) are not kept:
 * they follow the person to the next workflow.
 */
export class FormMemory {
  readonly #byWorkflow = new Map<string, FormHeld>();
  readonly #carried: readonly string[];

  constructor(carried: readonly string[]) {
    this.#carried = carried;
  }

  /** Leaves one workflow's form (`from`, holding `current`) for another's; answers what that one holds. */
  switch(from: string | undefined, to: string | undefined, current: FormHeld): FormHeld {
    const isCarried = (id: string): boolean => this.#carried.includes(id);
    const carried = Object.fromEntries(Object.entries(current.edits).filter(([id]) => isCarried(id)));
    if (from !== undefined) {
      const own = Object.fromEntries(Object.entries(current.edits).filter(([id]) => !isCarried(id)));
      this.#byWorkflow.set(from, { edits: own, seedMode: current.seedMode, staged: current.staged });
    }
    const remembered = to === undefined ? undefined : this.#byWorkflow.get(to);
    return {
      edits: { ...remembered?.edits, ...carried },
      seedMode: remembered?.seedMode,
      staged: remembered?.staged ?? {},
    };
  }

  /** Forgets every workflow's form; answers the dropped files they held (their previews are to be released). */
  clear(): StagedFile[] {
    const files = [...this.#byWorkflow.values()].flatMap((held) => Object.values(held.staged));
    this.#byWorkflow.clear();
    return files;
  }
}

/** The prompt the intent bar put in, and what the Prompt box held before it did. */
export interface OfferedPrompt {
  text: string;
  before: unknown;
}

/**
 * The intent bar offers a prompt (`null` takes its offer back): the edits and the standing offer
 * after it. An offer the person has since changed is dropped, and their own prompt stays as it is.
 */
export function offeredPrompt(
  edits: Readonly<Record<string, unknown>>,
  offered: OfferedPrompt | undefined,
  text: string | null,
): { edits: Readonly<Record<string, unknown>>; offered: OfferedPrompt | undefined; isChanged: boolean } {
  const current = edits.prompt;
  const standing = offered && current === offered.text ? offered : undefined;
  const isUntouched = standing !== undefined || current === undefined || current === '';
  if (!isUntouched || (text === null && !standing)) return { edits, offered: standing, isChanged: false };
  const before = standing ? standing.before : current;
  if (text === null) {
    const { prompt: _dropped, ...rest } = edits;
    return { edits: before === undefined ? rest : { ...rest, prompt: before }, offered: undefined, isChanged: true };
  }
  return { edits: { ...edits, prompt: text }, offered: { text, before }, isChanged: true };
}

/** The values the person set that this form has (what Generate and Open in ComfyUI send). */
export function formValues(
  form: { parameters: ReadonlyArray<{ id: string }> },
  edits: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const known = new Set(form.parameters.map((parameter) => parameter.id));
  return Object.fromEntries(Object.entries(edits).filter(([id]) => known.has(id)));
}

/** A field's value as text (a prompt box shows nothing for a value that is not text). */
export function asText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
