import type { Handlers } from '../router';
import type { PodService } from './pod-service';

type PodCommands = 'pods.list' | 'pods.status' | 'pods.start' | 'pods.stop' | 'pods.cancelAutoStop';

export function podsHandlers(pods: PodService): Pick<Handlers, PodCommands> {
  return {
    'pods.list': async (input) => ({ pods: await pods.list(input) }),
    'pods.status': () => pods.snapshot(),
    'pods.start': ({ serverId }) => pods.startPod(serverId),
    'pods.stop': ({ serverId, force }) => pods.stopPod(serverId, { force }),
    'pods.cancelAutoStop': ({ serverId }) => pods.cancelAutoStop(serverId),
  };
}
