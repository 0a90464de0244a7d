import type { ConnectionProfile } from '@shared/domain/connection';
import type { ServerInventory } from '@shared/domain/inventory';
import type { WorkflowRecord } from '@shared/domain/workflow';
import type { ComfyClient } from '../comfy/comfy-client';
import type { ConnectionManager } from '../connections/connection-manager';
import type { ConnectionTarget, ServerConnection } from '../connections/server-connection';
import type { RemoteShell } from '../connections/ssh-tunnel';
import type { Unsubscribe } from '../lib/emitter';

/** A server a transfer can reach now. */
export interface TransferTarget {
  id: string;
  profile: ConnectionProfile;
  /** Where the connection goes now: the profile itself, or the SSH host or proxy URL a RunPod pod resolved to. */
  route: ConnectionTarget;
  client: ComfyClient;
  /** Commands and SFTP on the SSH server (SSH profiles, while the tunnel is open). */
  shell: RemoteShell | undefined;
  /** Its node types and model files as last read. */
  inventory(): ServerInventory | undefined;
  /** Reads `object_info` and the model lists again (after a file lands) and tells everyone. */
  refreshInventory(): Promise<ServerInventory>;
}

/** The servers transfers go to: the app's connections, or the one server of a CLI run. */
export interface TransferServers {
  /** The default server. */
  activeId(): string | null;
  profile(serverId: string): ConnectionProfile | undefined;
  /** The server while it is online (and, for SSH, its tunnel open); undefined otherwise. */
  target(serverId: string): TransferTarget | undefined;
  /** Told when a server's health or inventory changes (it came back, restarted, was re-read). */
  onChange(listener: (serverId: string) => void): Unsubscribe;
}

/** The workflows transfers are for. */
export interface TransferWorkflows {
  record(id: string): WorkflowRecord | undefined;
}

/** A live connection as a transfer target, while it is online (and its SSH tunnel open). */
export function connectionTarget(connection: ServerConnection | undefined): TransferTarget | undefined {
  const client = connection?.client;
  const route = connection?.target;
  if (!connection || !client || !route || connection.health.state !== 'online') return undefined;
  if (route.kind === 'ssh' && !connection.shell) return undefined;
  return {
    id: connection.profile.id,
    profile: connection.profile,
    route,
    client,
    shell: connection.shell,
    inventory: () => connection.inventory,
    refreshInventory: () => connection.refreshInventory(),
  };
}

/** One connection as the only server (a CLI run). */
export function singleServer(connection: ServerConnection): TransferServers {
  return {
    activeId: () => connection.profile.id,
    profile: (id) => (id === connection.profile.id ? connection.profile : undefined),
    target: (id) => (id === connection.profile.id ? connectionTarget(connection) : undefined),
    onChange: (listener) => {
      const offs = [
        connection.on('health', () => listener(connection.profile.id)),
        connection.on('inventory', () => listener(connection.profile.id)),
      ];
      return () => {
        for (const off of offs) off();
      };
    },
  };
}

/** The app's connections as transfer targets. */
export function connectionServers(connections: ConnectionManager): TransferServers {
  return {
    activeId: () => connections.activeId,
    profile: (id) => connections.snapshot().profiles.find((profile) => profile.id === id),
    target: (id) => connectionTarget(connections.connection(id)),
    onChange: (listener) => {
      const offs = [
        connections.on('health', (health) => listener(health.serverId)),
        connections.on('inventory', (inventory) => listener(inventory.serverId)),
      ];
      return () => {
        for (const off of offs) off();
      };
    },
  };
}
