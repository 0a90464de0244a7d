import type { Handlers } from '../router';
import type { ConnectionManager } from './connection-manager';

type ConnectionCommands = 'connections.list' | 'connections.save' | 'connections.delete' | 'connections.setActive' | 'connections.setOnline' | 'connections.test' | 'connections.trustHostKey' | 'connections.open' | 'models.list';

export function connectionsHandlers(manager: ConnectionManager): Pick<Handlers, ConnectionCommands> {
  return {
    'connections.list': () => manager.snapshot(),
    'connections.save': ({ profile, secrets }) => manager.save(profile, secrets),
    'connections.delete': ({ id }) => manager.delete(id),
    'connections.setActive': ({ id }) => manager.setActive(id),
    'connections.setOnline': ({ id, online }) => manager.setOnline(id, online),
    'connections.test': (input) => manager.test(input),
    'connections.trustHostKey': ({ id, fingerprint }) => manager.trustHostKey(id, fingerprint),
    // Only a desktop window (IPC) can have ComfyUI opened beside it; a browser opens the URL in a tab itself.
    'connections.open': ({ id }, context) => manager.open(id, { canOpenWindow: context.transport === 'ipc' }),
    'models.list': ({ serverId, refresh }) => manager.models(serverId, refresh),
  };
}
