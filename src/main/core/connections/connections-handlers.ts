import { AppError } from '../lib/errors';
import type { Handlers } from '../router';
import type { ConnectionManager } from './connection-manager';

type ConnectionCommands =
  | 'connections.pickKeyFile'
  | 'connections.list'
  | 'connections.save'
  | 'connections.delete'
  | 'connections.setActive'
  | 'connections.setOnline'
  | 'connections.setGeneration'
  | 'connections.test'
  | 'connections.openSession'
  | 'connections.trustHostKey'
  | 'connections.open'
  | 'models.list';

/** `pickFile` is the desktop shell's file dialog; absent in serve mode and the CLI. */
export function connectionsHandlers(
  manager: ConnectionManager,
  pickFile?: (options: { title: string }) => Promise<string | null>,
): Pick<Handlers, ConnectionCommands> {
  return {
    'connections.list': () => manager.snapshot(),
    'connections.save': ({ profile, secrets }) => manager.save(profile, secrets),
    'connections.delete': ({ id }) => manager.delete(id),
    'connections.setActive': ({ id }) => manager.setActive(id),
    'connections.setOnline': ({ id, online }) => manager.setOnline(id, online),
    'connections.setGeneration': ({ id, use }) => manager.setGeneration(id, use),
    'connections.test': (input) => manager.test(input),
    'connections.openSession': (target) => ({ id: manager.openSession(target) }),
    'connections.trustHostKey': ({ id, fingerprint }) => manager.trustHostKey(id, fingerprint),
    // Only a desktop window (IPC) can have ComfyUI opened beside it; a browser opens the URL in a tab itself.
    'connections.open': ({ id }, context) => manager.open(id, { canOpenWindow: context.transport === 'ipc' }),
    'connections.pickKeyFile': async (_input, context) => {
      if (!pickFile || context.transport !== 'ipc')
        throw new AppError(
          'invalid_input',
          "Choosing a file works in the desktop app only. Type the key file's path on the machine running ComfyDesk instead.",
        );
      return { path: await pickFile({ title: 'Choose your SSH private key' }) };
    },
    'models.list': ({ serverId, refresh }) => manager.models(serverId, refresh),
  };
}
