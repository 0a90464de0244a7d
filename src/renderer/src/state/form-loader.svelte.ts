import type { GenerationForm } from '@shared/contract/jobs';
import type { ApiClient } from '../api';
import { errorMessage } from '../api';
import { type GenerationTarget, loadKey } from './form-target';

/**
 * The selected workflow converted for the default server (`generation.form`): read again when the
 * workflow, the connection, its state or what the server has changes; an answer that comes after a
 * newer request is dropped.
 */
export class FormLoader {
  #form = $state.raw<GenerationForm | undefined>(undefined);
  #isLoading = $state(false);
  #error = $state<string | undefined>(undefined);
  #loadedKey = '';
  #seq = 0;
  readonly #api: ApiClient;
  readonly #onLoaded: (form: GenerationForm) => void;

  /** `onLoaded` runs as each new form is taken (before anything reads it). */
  constructor(api: ApiClient, onLoaded: (form: GenerationForm) => void) {
    this.#api = api;
    this.#onLoaded = onLoaded;
  }

  get form(): GenerationForm | undefined {
    return this.#form;
  }

  get isLoading(): boolean {
    return this.#isLoading;
  }

  /** Why the form could not be read (the core's words), if it could not. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Another workflow is chosen: the last one's form and error no longer apply. */
  forget(workflowId: string | undefined): void {
    if (this.#form && this.#form.workflowId !== workflowId) this.#form = undefined;
    this.#error = undefined;
  }

  /** Reads the form when the target differs in what it depends on; stops waiting when it cannot be read now. */
  follow(target: GenerationTarget): void {
    const key = loadKey(target);
    if (key === undefined) {
      this.#loadedKey = '';
      this.#seq += 1;
      this.#isLoading = false;
      return;
    }
    if (key === this.#loadedKey) return;
    this.#loadedKey = key;
    void this.load(target.workflowId!, target.serverId!);
  }

  async load(workflowId: string, serverId: string): Promise<void> {
    const seq = ++this.#seq;
    this.#isLoading = true;
    try {
      const form = await this.#api.call('generation.form', { workflowId, serverId }, { timeoutMs: 60_000 });
      if (seq !== this.#seq) return;
      this.#form = form;
      this.#error = undefined;
      this.#onLoaded(form);
    } catch (error) {
      if (seq !== this.#seq) return;
      this.#form = undefined;
      this.#error = errorMessage(error);
      // Let the next change (or Try again) load it again.
      this.#loadedKey = '';
    } finally {
      if (seq === this.#seq) this.#isLoading = false;
    }
  }
}
