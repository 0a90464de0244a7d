import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TransferMethod } from '@shared/domain/transfer';
import type { Logger } from '../lib/logger';
import { ManagerApi } from './manager-api';
import type { TransferTarget } from './ports';
import { probeRemoteTools, type RemoteTools } from './remote-tools';
import { readFolderPaths, type FolderPaths } from './server-folders';

/** How files get onto one server, as learned from it. */
export interface ServerPlan {
  method: TransferMethod;
  /** One sentence for the user. */
  note: string;
  folders: FolderPaths;
  manager: ManagerApi | undefined;
  /** The SSH server's tools (SSH profiles). */
  tools?: RemoteTools;
  /** The server as named in messages. */
  host: string;
  /** Whether destination paths are this machine's (`local`) or the server's POSIX paths. */
  isLocal: boolean;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?)$/i;

/** The server's name in messages: `user@host:port` for SSH (a pod's too), else its address. */
export function hostName(target: TransferTarget): string {
  const route = target.route;
  return route.kind === 'ssh'
    ? `${route.username}@${route.host}${route.port === 22 ? '' : `:${route.port}`}`
    : route.url;
}

/**
 * Works out how files reach a server: a ComfyUI whose folders exist on this machine is written to
 * directly; an SSH server downloads them itself (curl or wget, else SFTP through this machine);
 * a web address uses ComfyUI-Manager when the server has it, else the user runs commands.
 */
export async function planFor(
  target: TransferTarget,
  options: { log: Logger; pathPrefix?: string },
): Promise<ServerPlan> {
  const host = hostName(target);
  const [folders, manager] = await Promise.all([readFolderPaths(target.client), ManagerApi.detect(target.client)]);
  if (target.route.kind === 'ssh') {
    if (!target.shell) throw new Error('the SSH connection is not open');
    const tools = await probeRemoteTools(target.shell, options.pathPrefix);
    if (tools.downloader)
      return {
        method: 'ssh',
        note: `Downloaded on ${host} itself with ${tools.downloader}, over the SSH connection: the files never pass through this computer.`,
        folders,
        manager,
        tools,
        host,
        isLocal: false,
      };
    return {
      method: 'sftp',
      note: `${host} has neither curl nor wget, so ComfyDesk downloads each file on this computer and streams it to the server over SFTP (it passes through this computer's connection).`,
      folders,
      manager,
      tools,
      host,
      isLocal: false,
    };
  }
  if (await isOnThisMachine(target.route.url, folders)) {
    return {
      method: 'local',
      note: 'ComfyUI runs on this computer: ComfyDesk downloads each file straight into its folder.',
      folders,
      manager,
      host,
      isLocal: true,
    };
  }
  if (manager) {
    return {
      method: 'manager',
      note: `ComfyUI-Manager ${manager.info.version} on the server downloads the files it knows (its model list); for any other file, run the command shown on the server.`,
      folders,
      manager,
      host,
      isLocal: false,
    };
  }
  return {
    method: 'manual',
    note: `ComfyDesk reaches this server only through its web address and the server has no ComfyUI-Manager, so it cannot place files there. Run the commands below on the server (for example in the pod's web terminal), or connect over SSH instead.`,
    folders,
    manager,
    host,
    isLocal: false,
  };
}

/**
 * A loopback address whose folders are on this disk is a ComfyUI on this machine. A fresh ComfyUI
 * creates its model folders only when something is put there, so the check is its base folder
 * (`<base>/models/checkpoints` → `<base>`), or any model folder itself.
 */
async function isOnThisMachine(url: string, folders: FolderPaths): Promise<boolean> {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return false;
  }
  if (!LOOPBACK.test(hostname)) return false;
  const candidates = [...(folders.checkpoints ?? []), ...Object.values(folders).flat()].slice(0, 8);
  for (const dir of candidates) {
    const base = dirname(dirname(dir));
    for (const candidate of [dir, base]) {
      if (candidate === dirname(candidate)) continue; // never the file system's root
      try {
        if ((await stat(candidate)).isDirectory()) return true;
      } catch {
        // not here
      }
    }
  }
  return false;
}
