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
