import type { ConnectionHealth, ConnectionProfile } from '@shared/domain/connection';
import { defaultKnownHostsPath, readKnownHostsFile } from '../core/connections/known-hosts';
import { ServerConnection } from '../core/connections/server-connection';
import type { Logger } from '../core/lib/logger';
import { CliError, ExitCode, writeLine, type CliIo } from './io';
import { confirm, targetProfile, type SshTarget } from './server-target';

/** The flags that name a server: `--server URL`, or `--ssh USER@HOST[:PORT]` with its key, remote and host key. */
export interface ServerFlags {
  server?: string;
  ssh?: SshTarget;
  key?: string;
  remote?: { host: string; port: number };
  acceptHostKey?: string;
  json?: boolean;
  /** Seconds to wait for the server to come online. @default 20 */
  timeout?: number;
}

/** An online server for one command: its connection (tunnel, client, SSH shell and inventory) kept open until `stop`. */
export interface ServerSession {
  profile: ConnectionProfile;
  connection: ServerConnection;
  stop(): Promise<void>;
}

/**
 * Connects to the server a command names and waits until it is online with its node types and
 * models read. Host keys follow the app's rules: known → go on; unknown → asked on a terminal,
 * else refused with its fingerprint unless `--accept-host-key` names it; changed → refused.
 */
export async function openServerSession(io: CliIo, flags: ServerFlags, log: Logger): Promise<ServerSession> {
  let profile = targetProfile(
    { ...flags, server: flags.server ? [flags.server] : undefined, ssh: flags.ssh ? [flags.ssh] : undefined },
    io,
  );
  for (let attempt = 0; ; attempt += 1) {
    const connection = new ServerConnection({
      profile,
      secrets: io.env.COMFYDESK_SSH_PASSPHRASE ? { passphrase: io.env.COMFYDESK_SSH_PASSPHRASE } : {},
      log,
      readKnownHosts: () => readKnownHostsFile(io.env.COMFYDESK_KNOWN_HOSTS ?? defaultKnownHostsPath()),
      agentSocket: io.env.SSH_AUTH_SOCK,
      readInventory: true,
    });
    const health = await online(connection, (flags.timeout ?? 20) * 1000);
    if (health.state === 'online') return { profile, connection, stop: () => connection.stop() };
    await connection.stop();
    const hostKey = health.hostKey;
    if (profile.kind === 'ssh' && health.code === 'ssh_host_key_unknown' && hostKey && attempt === 0) {
      if (io.stdin.isTTY && !flags.json) {
        writeLine(io.stderr, `The authenticity of host ${hostKey.host}:${hostKey.port} can't be established.`);
        writeLine(io.stderr, `${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}.`);
        if (await confirm(io, 'Trust this host for this command?')) {
          profile = { ...profile, pinnedHostKey: hostKey.fingerprint };
          continue;
        }
      }
      throw new CliError(
        `${hostKey.host}:${hostKey.port} is not in ~/.ssh/known_hosts. Its ${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}; if that is right, run again with --accept-host-key ${hostKey.fingerprint}.`,
        { code: 'ssh_host_key_unknown', details: { hostKey } },
      );
    }
    throw new CliError(health.reason ?? 'The server is not online.', {
      code: health.code ?? 'comfy_unreachable',
      exitCode: ExitCode.failed,
    });
  }
}

/** Starts the connection and resolves with its health once it is online with an inventory, failed, or timed out. */
function online(connection: ServerConnection, timeoutMs: number): Promise<ConnectionHealth> {
  return new Promise((resolve) => {
    const finish = (health: ConnectionHealth) => {
      clearTimeout(timer);
      offHealth();
      offInventory();
      resolve(health);
    };
    const timer = setTimeout(
      () =>
        finish({
          ...connection.health,
          state: 'error',
          code: connection.health.code ?? 'comfy_timeout',
          reason: `${connection.health.reason ?? 'The server did not come online'} (gave up after ${Math.round(timeoutMs / 1000)} s).`,
        }),
      timeoutMs,
    );
    const offHealth = connection.on('health', (health) => {
      // A command does not wait out retries: unreachable now is an answer.
      if (health.state === 'error' || health.state === 'offline') finish(health);
    });
    const offInventory = connection.on('inventory', () => {
      if (connection.health.state === 'online') finish(connection.health);
    });
    connection.start();
  });
}
