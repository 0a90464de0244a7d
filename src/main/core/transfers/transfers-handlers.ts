import type { Handlers } from '../router';
import type { TransferService } from './transfer-service';

/** The `transfers.*` commands: thin calls into the transfer service. */
export function transfersHandlers(
  transfers: TransferService,
): Pick<
  Handlers,
  | 'transfers.missing'
  | 'transfers.packs'
  | 'transfers.start'
  | 'transfers.installPack'
  | 'transfers.restartServer'
  | 'transfers.list'
  | 'transfers.pause'
  | 'transfers.resume'
  | 'transfers.cancel'
  | 'transfers.clear'
  | 'transfers.probeUrl'
  | 'transfers.tokens'
  | 'transfers.setToken'
  | 'transfers.sources'
> {
  return {
    'transfers.missing': ({ workflowId, serverId }) => transfers.missing(workflowId, serverId),
    'transfers.packs': ({ nodeTypes }) => transfers.packsFor(nodeTypes),
    'transfers.start': async (input) => ({ ids: await transfers.enqueue(input) }),
    'transfers.installPack': (input) => transfers.installPack(input),
    'transfers.restartServer': async ({ serverId }) => {
      await transfers.restartServer(serverId);
      return {};
    },
    'transfers.list': () => transfers.list(),
    'transfers.pause': ({ id }) => transfers.pause(id),
    'transfers.resume': ({ id }) => transfers.resume(id),
    'transfers.cancel': ({ id }) => transfers.cancel(id),
    'transfers.clear': () => transfers.clear(),
    'transfers.probeUrl': ({ url }) => transfers.probeUrl(url),
    'transfers.tokens': () => transfers.tokens(),
    'transfers.setToken': ({ provider, token }) => transfers.setToken(provider, token),
    'transfers.sources': ({ refresh }) => (refresh ? transfers.refreshSources() : transfers.sources()),
  };
}
