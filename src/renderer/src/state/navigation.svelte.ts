export const PAGES = ['generate', 'workflows', 'models', 'downloads', 'settings'] as const;
export type Page = (typeof PAGES)[number];

/** Parses `#/page?key=value` into a page and its parameters. */
export function parseHash(hash: string): { page: Page; params: URLSearchParams } {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const page = (PAGES as readonly string[]).includes(path) ? (path as Page) : 'generate';
  return { page, params: new URLSearchParams(query) };
}

/**
 * Which page is shown, kept in the URL hash so reloads and links (`#/generate?workflow=ID`) land
 * on the same page. The hash never carries the serve token; that stays in the query string.
 */
export class Navigation {
  #page = $state<Page>('generate');
  #params = $state.raw(new URLSearchParams());
  /** The workflow last shown on the Generate page: coming back without one in the URL lands on it again. */
  #lastWorkflow: string | undefined;

  get page(): Page {
    return this.#page;
  }

  get params(): URLSearchParams {
    return this.#params;
  }

  connect(target: Window): () => void {
    const sync = () => {
      const { page, params } = parseHash(target.location.hash);
      if (page === 'generate') {
        const workflow = params.get('workflow');
        if (workflow) this.#lastWorkflow = workflow;
        else if (this.#lastWorkflow) {
          // The sidebar's Generate (or Back) after a visit to Settings: the selection is still there.
          params.set('workflow', this.#lastWorkflow);
          target.history.replaceState(target.history.state, '', `#/generate?${params.toString()}`);
        }
      }
      this.#page = page;
      this.#params = params;
    };
    sync();
    target.addEventListener('hashchange', sync);
    return () => target.removeEventListener('hashchange', sync);
  }

  go(page: Page, params?: Record<string, string>): void {
    const query = params ? `?${new URLSearchParams(params).toString()}` : '';
    window.location.hash = `#/${page}${query}`;
  }
}
