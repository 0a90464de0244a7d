import type { ServerInventory } from '@shared/domain/inventory';
import type { ComfyClient } from '../comfy/comfy-client';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import type { ConnectionManager } from '../connections/connection-manager';

/**
 * Where jobs find their ComfyUI servers. The app uses its connection profiles; `comfydesk run
 * --server URL` uses one client of its own. Jobs only need a client per server id and to hear when
 * a server (re)appears, so they can release held jobs and reconcile their state.
 */
export interface ServerDirectory {
  /** The client of an online server, or undefined while it is not reachable. */
  client(serverId: string): ComfyClient | undefined;
  /** The server jobs go to when the user does not pick one. */
  defaultId(): string | null;
  /** The servers jobs are spread over when they are not pinned (the farm): online or not. */
  generationIds(): string[];
  /** Servers kept online now (their queues are shown, whether or not they take our jobs). */
  onlineIds(): string[];
  /** What an online server has installed (node types, model files), once read; undefined until then. */
  inventory(serverId: string): ServerInventory | undefined;
  /** A name for messages ("Local", "RunPod A100"). */
  label(serverId: string): string;
  /** Called with a server id whenever its client appears, changes, its health or its inventory changes. */
  onChange(listener: (serverId: string) => void): Unsubscribe;
}

/** The app's servers: its connection profiles, through the connection manager. */
export function connectionDirectory(connections: ConnectionManager): ServerDirectory & { dispose(): void } {
  const emitter = new Emitter<{ change: string }>();
  let online = connections.snapshot().online;
  const offs = [
    connections.on('health', (health) => emitter.emit('change', health.serverId)),
    connections.on('inventory', (inventory) => emitter.emit('change', inventory.serverId)),
    connections.on('changed', (snapshot) => {
      online = snapshot.online;
      for (const id of new Set([...snapshot.online, ...(snapshot.generation ?? [])])) emitter.emit('change', id);
    }),
  ];
  return {
    client: (serverId) => (connections.health(serverId).state === 'online' ? connections.client(serverId) : undefined),
    defaultId: () => connections.activeId,
    generationIds: () => connections.generationIds(),
    onlineIds: () => online,
    inventory: (serverId) => connections.inventory(serverId),
    label: (serverId) => connections.snapshot().profiles.find((profile) => profile.id === serverId)?.name ?? serverId,
    onChange: (listener) => emitter.on('change', listener),
    dispose: () => offs.forEach((off) => off()),
  };
}

/** One fixed server (tests of one area): online whenever its client is; its inventory is not read. */
export function singleServerDirectory(
  serverId: string,
  client: ComfyClient,
  label: string,
): ServerDirectory & { notify(): void } {
  const emitter = new Emitter<{ change: string }>();
  client.on('open', () => emitter.emit('change', serverId));
  return {
    client: (id) => (id === serverId ? client : undefined),
    defaultId: () => serverId,
    generationIds: () => [serverId],
    onlineIds: () => [serverId],
    inventory: () => undefined,
    label: () => label,
    onChange: (listener) => emitter.on('change', listener),
    notify: () => emitter.emit('change', serverId),
  };
}
