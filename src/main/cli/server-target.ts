import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError } from 'commander';
import {
  BaseUrl,
  ConnectionProfile,
  DEFAULT_REMOTE_HOST,
  DEFAULT_REMOTE_PORT,
  HostKeyFingerprint,
} from '@shared/domain/connection';
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

/** The one-off profile a command checks: a URL, or an SSH tunnel (key file, else ssh-agent). */
export function targetProfile(
  flags: {
    server?: string;
    ssh?: SshTarget;
    key?: string;
    remote?: { host: string; port: number };
    acceptHostKey?: string;
  },
  cwd: string,
): ConnectionProfile {
  if (flags.server && flags.ssh)
    throw new CliError('Give either --server or --ssh, not both.', { exitCode: ExitCode.usage, code: 'invalid_input' });
  if (flags.server) return ConnectionProfile.parse({ id: 'cli', name: flags.server, kind: 'url', url: flags.server });
  if (!flags.ssh)
    throw new CliError('Say which server: --server URL or --ssh USER@HOST[:PORT].', {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  return ConnectionProfile.parse({
    id: 'cli',
    name: `${flags.ssh.username}@${flags.ssh.host}`,
    kind: 'ssh',
    host: flags.ssh.host,
    port: flags.ssh.port,
    username: flags.ssh.username,
    auth: flags.key ? 'key' : 'agent',
    keyPath: flags.key ? resolve(cwd, flags.key) : undefined,
    remoteHost: flags.remote?.host ?? DEFAULT_REMOTE_HOST,
    remotePort: flags.remote?.port ?? DEFAULT_REMOTE_PORT,
    pinnedHostKey: flags.acceptHostKey,
  });
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
