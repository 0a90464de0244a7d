import type { Handlers } from '../router';
import type { LibraryService } from './library-service';

/** The workflow library's commands (workflows.*, intent.match), each answered by the library service. */
export function workflowsHandlers(
  library: LibraryService,
): Pick<
  Handlers,
  | 'workflows.list'
  | 'workflows.get'
  | 'workflows.search'
  | 'workflows.roots'
  | 'workflows.addRoot'
  | 'workflows.removeRoot'
  | 'workflows.thumbnail'
  | 'workflows.reveal'
  | 'intent.match'
> {
  return {
    'workflows.list': () => library.snapshot(),
    'workflows.get': ({ id }) => library.details(id),
    'workflows.search': (query) => library.search(query),
    'workflows.roots': () => library.roots(),
    'workflows.addRoot': ({ path }) => library.addRoot(path),
    'workflows.removeRoot': ({ path }) => library.removeRoot(path),
    'workflows.thumbnail': async ({ id }) => ({ dataUrl: await library.thumbnail(id) }),
    'workflows.reveal': ({ id }) => library.reveal(id),
    'intent.match': ({ text }) => library.matchIntent(text),
  };
}
