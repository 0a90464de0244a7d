import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import {
  BaseUrl,
  ConnectionDraft,
  ConnectionProfile,
  DEFAULT_REMOTE_HOST,
  DEFAULT_REMOTE_PORT,
  HostKeyFingerprint,
} from '@shared/domain/connection';
import type { SessionTarget } from '../core/connections/profile-targets';
import { ExitCode, CliError, type CliIo } from './io';

/** `--ssh USER@HOST[:PORT]` parsed. */
export interface SshTarget {
  username: string;
  host: string;
  port: number;
}

/** Commander parser for `--server`: an http(s) base URL. */
export function parseServerUrl(value: string): string {
  const parsed = BaseUrl.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'is not an http(s) URL.');
  return parsed.data;
}

/** Commander parser for `--ssh USER@HOST[:PORT]` (port 22 when absent). */
export function parseSshTarget(value: string): SshTarget {
  const match = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match) throw new InvalidArgumentError('must look like USER@HOST or USER@HOST:PORT.');
  const port = match[3] ? Number(match[3]) : 22;
  if (port < 1 || port > 65535) throw new InvalidArgumentError('has a port outside 1–65535.');
  return { username: match[1]!, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

/** Commander parser for `--remote HOST:PORT`. */
export function parseRemote(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new InvalidArgumentError('must look like HOST:PORT, e.g. 127.0.0.1:8188.');
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Commander parser for `--accept-host-key SHA256:…`. */
export function parseFingerprint(value: string): string {
  const parsed = HostKeyFingerprint.safeParse(value);
  if (!parsed.success)
    throw new InvalidArgumentError('must be a fingerprint like SHA256:… (as ssh-keygen -lf prints it).');
  return parsed.data;
}

/** Commander collector for repeatable `--server`. */
function collectUrls(value: string, previous: string[] = []): string[] {
  return [...previous, parseServerUrl(value)];
}

/** Commander collector for repeatable `--ssh`. */
function collectSsh(value: string, previous: SshTarget[] = []): SshTarget[] {
  return [...previous, parseSshTarget(value)];
}

/** The flags that name the servers of one command (or one serve mode run); `run` and `status` take several. */
export interface ServerTargetFlags {
  server?: string[];
  ssh?: SshTarget[];
  key?: string;
  remote?: { host: string; port: number };
  acceptHostKey?: string;
}

/**
 * Adds `--server URL` and the `--ssh USER@HOST[:PORT]` family (`--key`, `--remote`,
 * `--accept-host-key`) to a command. Without either, the command uses the default connection.
 * `several` says in the help what a command that takes more than one server does with them.
 */
export function addServerOptions(command: Command, options: { several?: string } = {}): Command {
  const several = options.several ? `; repeatable: ${options.several}` : '';
  return command
    .option(
      '--server <url>',
      `ComfyUI's address, e.g. http://127.0.0.1:8188 or https://POD-8188.proxy.runpod.net (default: the default connection)${several}`,
      collectUrls,
    )
    .option('--ssh <user@host[:port]>', `reach ComfyUI through an SSH tunnel to this host${several}`, collectSsh)
    .option(
      '--key <path>',
      'private key for --ssh (default: the ssh-agent); a passphrase is read from COMFYDESK_SSH_PASSPHRASE',
    )
    .option(
      '--remote <host:port>',
      'where ComfyUI listens as seen from the SSH host (default: 127.0.0.1:8188)',
      parseRemote,
    )
    .option(
      '--accept-host-key <SHA256:…>',
      'trust this host key fingerprint when the host is not in ~/.ssh/known_hosts (needed without a terminal)',
      parseFingerprint,
    );
}

/**
 * The server `--server` or `--ssh` name, as a session connection (online for this run, never saved),
 * or undefined when neither is given and the default connection applies. Commands that work with one
 * server refuse several.
 */
export function sessionTargetOf(flags: ServerTargetFlags, io: Pick<CliIo, 'cwd' | 'env'>): SessionTarget | undefined {
  const targets = sessionTargetsOf(flags, io);
  if ((flags.server?.length ?? 0) > 0 && (flags.ssh?.length ?? 0) > 0)
    throw new CliError('Give either --server or --ssh, not both.', { exitCode: ExitCode.usage, code: 'invalid_input' });
  if (targets.length > 1)
    throw new CliError('This command works with one server: give --server or --ssh once.', {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  return targets[0];
}

/**
 * Every server `--server` and `--ssh` name (URLs first, then SSH hosts, each in the order given),
 * as session connections; empty when neither is given. `--key`, `--remote` and `--accept-host-key`
 * apply to every `--ssh`.
 */
export function sessionTargetsOf(flags: ServerTargetFlags, io: Pick<CliIo, 'cwd' | 'env'>): SessionTarget[] {
  const ssh = flags.ssh ?? [];
  if (ssh.length === 0 && (flags.key || flags.remote || flags.acceptHostKey))
    throw new CliError('--key, --remote and --accept-host-key go with --ssh USER@HOST[:PORT].', {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  const urls: SessionTarget[] = (flags.server ?? []).map((url) => ({ profile: { kind: 'url', name: url, url } }));
  const passphrase = io.env.COMFYDESK_SSH_PASSPHRASE;
  const tunnels = ssh.map((target): SessionTarget => {
    const profile: ConnectionDraft = {
      kind: 'ssh',
      name: `${target.username}@${target.host}`,
      host: target.host,
      port: target.port,
      username: target.username,
      auth: flags.key ? 'key' : 'agent',
      keyPath: flags.key ? resolve(io.cwd, flags.key) : undefined,
      remoteHost: flags.remote?.host ?? DEFAULT_REMOTE_HOST,
      remotePort: flags.remote?.port ?? DEFAULT_REMOTE_PORT,
      localPort: 0,
      pinnedHostKey: flags.acceptHostKey,
    };
    return { profile: ConnectionDraft.parse(profile), ...(passphrase ? { secrets: { passphrase } } : {}) };
  });
  return [...urls, ...tunnels];
}

/** How a session target is named in messages: its URL, `user@host:port → remote`, or the pod. */
export function describeTarget(target: SessionTarget): string {
  const { profile } = target;
  if (profile.kind === 'ssh')
    return `${profile.username}@${profile.host}:${profile.port} → ${profile.remoteHost}:${profile.remotePort}`;
  return profile.kind === 'runpod' ? `RunPod pod ${profile.podId}` : profile.url;
}

/** The one server a command that must have one names (`--server` or `--ssh`), as a profile of its own. */
export function targetProfile(flags: ServerTargetFlags, io: Pick<CliIo, 'cwd' | 'env'>): ConnectionProfile {
  const target = sessionTargetOf(flags, io);
  if (!target)
    throw new CliError('Say which server: --server URL or --ssh USER@HOST[:PORT].', {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  return ConnectionProfile.parse({ ...target.profile, id: 'cli' });
}

/** Asks a yes/no question on the terminal (stderr, so stdout stays the result). */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
