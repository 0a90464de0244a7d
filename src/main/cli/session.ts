import type { ConnectionHealth } from '@shared/domain/connection';
import { describeOwner, readOwner, type OwnerRecord } from '../core/app/owner-lock';
import type { SessionTarget } from '../core/connections/profile-targets';
import type { CoreOptions } from '../core/create-core';
import { isAppError } from '../core/lib/errors';
import type { Logger } from '../core/lib/logger';
import type { Paths } from '../core/paths';
import { LocalEndpoint } from '../serve/local-endpoint';
import { connectToCore, connectToOwner, type ApiClient } from './contract-client';
import { CliError, ExitCode, writeLine, type CliIo } from './io';
import { cliLogger, cliPaths, openCore } from './runtime';

/** How long a command waits for an owner that is still starting before it gives up. */
const OWNER_START_WAIT_MS = 30_000;
/** How long a command waits for the owner's endpoint to accept it. */
const ATTACH_WAIT_MS = 5000;

/** What a command needs from ComfyDesk. */
export interface SessionOptions {
  /** The subcommand (`run`, `history`…), named to other processes that find this one owning the folder. */
  command: string;
  /** The data folder (absolute); the default one when absent. */
  dataDir?: string;
  verbose?: boolean;
  /** `--server`/`--ssh`: a connection for this command only. */
  server?: SessionTarget;
  /** Several `--server`/`--ssh` (`run` spreads its runs over them): connections for this command only. */
  servers?: SessionTarget[];
  /** The held queue stays paused when this command starts its own core (commands that only read). @default false */
  isQueueHeld?: boolean;
  /** Library options for a core of its own (extra workflow folders). */
  library?: CoreOptions['library'];
  /** Deadline of one server check in a core of its own, ms. */
  checkTimeoutMs?: number;
  /** The built engine process, for a core of its own that enhances prompts. */
  llmWorkerPath?: string;
}

/** A command's link to ComfyDesk: its own lean core, or the process that owns the data folder. */
export interface Session {
  /** The contract, exactly as a window uses it. */
  api: ApiClient;
  /** The process this command attached to; undefined when the command owns the data folder itself. */
  owner: OwnerRecord | undefined;
  /** The `--server`/`--ssh` connection's profile id (undefined without those flags). */
  serverId: string | undefined;
  /** Every `--server`/`--ssh` connection's profile id, in order (empty without those flags). */
  serverIds: string[];
  paths: Paths;
  log: Logger;
  /** Resolves if the owner this command attached to stops (it never resolves for a command that owns the folder). */
  ownerLost: Promise<void>;
  /** Leaves: detaches, or (as the owner) waits for attached commands to finish, then stops the core. */
  close(): Promise<void>;
}

/**
 * Connects a command to ComfyDesk. When another process owns the data folder (the desktop app,
 * serve mode, another command), the command becomes its client over the local endpoint named in
 * the lock file; otherwise it starts a lean core of its own through `createCore` and is the owner
 * for its lifetime, with its own endpoint so commands started meanwhile attach to it.
 */
export async function openSession(io: CliIo, options: SessionOptions): Promise<Session> {
  const paths = cliPaths(io, options.dataDir);
  const log = cliLogger(io, options.verbose, options.command);
  const deadline = Date.now() + OWNER_START_WAIT_MS;
  for (;;) {
    const owner = readOwner(paths.dataDir);
    if (owner?.endpoint) {
      const attached = await attach(owner, paths, log);
      if (attached) return withServer(attached, options);
      continue; // it stopped between reading the lock and connecting: look again
    }
    if (owner) {
      if (Date.now() > deadline)
        throw new CliError(`${describeOwner(owner)} and has not finished starting. Try again in a moment.`, {
          code: 'already_running',
        });
      await pause(100);
      continue;
    }
    try {
      return await withServer(await own(io, options), options);
    } catch (error) {
      // Another command took the folder a moment before us: become its client instead.
      if (isAppError(error) && error.code === 'already_running') continue;
      throw error;
    }
  }
}

async function withServer(session: Session, options: SessionOptions): Promise<Session> {
  const targets = [...(options.server ? [options.server] : []), ...(options.servers ?? [])];
  if (targets.length === 0) return session;
  try {
    const serverIds: string[] = [];
    for (const target of targets) serverIds.push((await session.api.call('connections.openSession', target)).id);
    return { ...session, serverId: serverIds[0], serverIds: [...new Set(serverIds)] };
  } catch (error) {
    await session.close();
    throw error;
  }
}

async function own(io: CliIo, options: SessionOptions): Promise<Session> {
  const { core, paths, log } = await openCore(io, {
    mode: 'cli',
    command: options.command,
    dataDir: options.dataDir,
    verbose: options.verbose,
    lean: true,
    isQueueHeld: options.isQueueHeld,
    sessionServer: options.server ?? options.servers?.[0],
    library: options.library,
    llmWorkerPath: options.llmWorkerPath,
    connections: {
      // Nothing comes online by itself: the command brings up the one server it needs (`serverFor`).
      autoConnect: false,
      ...(io.env.COMFYDESK_KNOWN_HOSTS ? { knownHostsPath: io.env.COMFYDESK_KNOWN_HOSTS } : {}),
      ...(io.env.SSH_AUTH_SOCK !== undefined ? { agentSocket: io.env.SSH_AUTH_SOCK } : {}),
      ...(options.checkTimeoutMs ? { checkTimeoutMs: options.checkTimeoutMs } : {}),
    },
  });
  const endpoint = new LocalEndpoint({ core, log: log.child('endpoint') });
  try {
    await endpoint.start();
    core.owner.publish(endpoint.published);
  } catch (error) {
    await endpoint.stop();
    await core.stop();
    throw error;
  }
  const api = connectToCore(core, log);
  return {
    api,
    owner: undefined,
    serverId: undefined,
    serverIds: [],
    paths,
    log,
    ownerLost: new Promise<void>(() => undefined),
    close: async () => {
      api.close();
      await linger(io, endpoint);
      await endpoint.stop();
      await core.stop();
    },
  };
}

/** An owner stays while commands that attached to it still work (their jobs run in its core). */
async function linger(io: CliIo, endpoint: LocalEndpoint): Promise<void> {
  if (endpoint.clientCount === 0) return;
  const others =
    endpoint.clientCount === 1 ? '1 other comfydesk command' : `${endpoint.clientCount} other comfydesk commands`;
  writeLine(io.stderr, `Waiting for ${others} using this ComfyDesk to finish (Ctrl+C stops now)…`);
  let off: (() => void) | undefined;
  const idle = new Promise<void>((resolve) => {
    off = endpoint.onClients((count) => {
      if (count === 0) resolve();
    });
  });
  await Promise.race([idle, io.interrupted]);
  off?.();
}

async function attach(owner: OwnerRecord, paths: Paths, log: Logger): Promise<Session | undefined> {
  const api = connectToOwner(owner.endpoint!, log);
  const isOpen = await new Promise<boolean>((resolve) => {
    if (api.linkState === 'open') return resolve(true);
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, ATTACH_WAIT_MS);
    const off = api.onLink((state) => {
      if (state !== 'open') return;
      clearTimeout(timer);
      off();
      resolve(true);
    });
  });
  if (!isOpen) {
    api.close();
    const now = readOwner(paths.dataDir);
    if (now?.nonce === owner.nonce)
      throw new CliError(
        `${describeOwner(owner)} but does not answer on its local endpoint. If it hangs, stop it (kill ${owner.pid}) and try again.`,
        { code: 'already_running' },
      );
    return undefined;
  }
  return {
    api,
    owner,
    serverId: undefined,
    serverIds: [],
    paths,
    log,
    ownerLost: watchOwner(api, owner, paths),
    close: async () => api.close(),
  };
}

/** Resolves once the owner is gone for good: the link dropped and the lock no longer names it. */
function watchOwner(api: ApiClient, owner: OwnerRecord, paths: Paths): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      if (readOwner(paths.dataDir)?.nonce === owner.nonce) return;
      clearInterval(timer);
      off();
      resolve();
    };
    const off = api.onLink((state) => {
      clearInterval(timer);
      timer = undefined;
      if (state === 'closed') return off(); // we closed it ourselves
      if (state === 'connecting') {
        timer = setInterval(check, 250);
        timer.unref();
        check();
      }
    });
  });
}

/**
 * The server a command works with: `--server`/`--ssh`, else the default connection (brought online
 * for a core of this command's own, which connects nothing by itself).
 */
export async function serverFor(session: Session): Promise<string> {
  if (session.serverId) return session.serverId;
  const snapshot = await session.api.call('connections.list', {});
  const profile = snapshot.profiles.find((item) => item.id === snapshot.activeId);
  if (!profile)
    throw new CliError('No ComfyUI server is set up. Pass --server URL (or --ssh USER@HOST), or add one in Settings.', {
      exitCode: ExitCode.usage,
      code: 'connection_not_found',
    });
  if (!snapshot.online.includes(profile.id)) await session.api.call('connections.openSession', { profile });
  return profile.id;
}

/** A connection's name as people know it (the profile's name, else its id). */
export async function serverLabel(session: Session, serverId: string): Promise<string> {
  const snapshot = await session.api.call('connections.list', {});
  return snapshot.profiles.find((profile) => profile.id === serverId)?.name ?? serverId;
}

/**
 * Waits for a connection to be online. A problem only the user can fix (a bad key, an unknown host
 * key, not ComfyUI) ends the wait at once; so does the first failed check when `isFailFast` (a
 * typo in an address should not wait out the whole timeout).
 */
export async function waitForServer(
  api: ApiClient,
  serverId: string,
  options: { timeoutMs: number; isFailFast?: boolean; label: string },
): Promise<ConnectionHealth> {
  return new Promise<ConnectionHealth>((resolve, reject) => {
    let last: ConnectionHealth | undefined;
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      off();
      outcome();
    };
    const consider = (health: ConnectionHealth) => {
      if (health.serverId !== serverId) return;
      last = health;
      if (health.state === 'online') return finish(() => resolve(health));
      if (health.state === 'error' || (health.state === 'offline' && options.isFailFast && health.code))
        finish(() => reject(healthError(health, options.label)));
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            last?.reason && last.state !== 'connecting'
              ? healthError(last, options.label)
              : new CliError(
                  `${options.label} did not answer within ${Math.round(options.timeoutMs / 1000)} s. Is the address right and ComfyUI running?`,
                  { code: 'comfy_timeout' },
                ),
          ),
        ),
      options.timeoutMs,
    );
    const off = api.on('connections.health', consider);
    api.call('connections.list', {}).then(
      (snapshot) => {
        const health = snapshot.health.find((item) => item.serverId === serverId);
        // A profile not yet brought online reports "Not connected": its first real check is on its way.
        if (health && snapshot.online.includes(serverId)) consider(health);
      },
      (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}

function healthError(health: ConnectionHealth, label: string): CliError {
  return new CliError(health.reason ?? `${label} is ${health.state}.`, {
    code: health.code ?? (health.state === 'error' ? 'comfy_not_comfyui' : 'comfy_unreachable'),
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
