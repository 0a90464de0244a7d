import type { ApiClient } from '../api';
import { errorMessage } from '../api';

/** How Open in ComfyUI went, for the line beside its button. */
export type OpenInComfyStatus =
  { state: 'working' } | { state: 'done'; message: string; url: string } | { state: 'failed'; message: string };

/**
 * Open in ComfyUI: the workflow with the values set is saved into the server's own workflows
 * (`generation.openInComfy`) and its page opens (a window in the desktop app, a tab here).
 */
export class OpenInComfy {
  #status = $state.raw<OpenInComfyStatus | undefined>(undefined);
  readonly #api: ApiClient;
  readonly #openTab: (url: string) => void;

  constructor(api: ApiClient, openTab: (url: string) => void) {
    this.#api = api;
    this.#openTab = openTab;
  }

  get status(): OpenInComfyStatus | undefined {
    return this.#status;
  }

  clear(): void {
    this.#status = undefined;
  }

  async open(workflowId: string, serverId: string, values: Record<string, unknown>): Promise<void> {
    this.#status = { state: 'working' };
    try {
      const result = await this.#api.call(
        'generation.openInComfy',
        { workflowId, serverId, values },
        { timeoutMs: 120_000 },
      );
      if (result.openedBy === 'client') this.#openTab(result.url);
      const where = result.savedAs.replace(/^workflows\//, '');
      this.#status = {
        state: 'done',
        url: result.url,
        message: `Saved as “${where}” in ComfyUI's workflows (the Workflows panel there lists it).${result.note ? ` ${result.note}` : ''}`,
      };
    } catch (error) {
      this.#status = { state: 'failed', message: errorMessage(error) };
    }
  }
}
