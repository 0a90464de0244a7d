import { InvalidArgumentError, type Command } from 'commander';
import type { ConnectionHealth, ConnectionProfile } from '@shared/domain/connection';
import { defaultKnownHostsPath, readKnownHostsFile } from '../../core/connections/known-hosts';
import { ServerConnection } from '../../core/connections/server-connection';
import type { CommandContext } from '../command';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { cliLogger } from '../runtime';
import {
  confirm,
  parseFingerprint,
  parseRemote,
  parseServerUrl,
  parseSshTarget,
  targetProfile,
  type SshTarget,
} from '../server-target';

interface StatusFlags {
  server?: string;
  ssh?: SshTarget;
  key?: string;
  remote?: { host: string; port: number };
  acceptHostKey?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk status (--server URL | --ssh USER@HOST[:PORT] …) [--json]`: one health check, with the app's host-key rules. */
export function registerStatus(program: Command, context: CommandContext): void {
  program
    .command('status')
    .description('check a ComfyUI server: online, offline or error, with latency, version, GPU and free VRAM')
    .option(
      '--server <url>',
      "ComfyUI's address, e.g. http://127.0.0.1:8188 or https://POD-8188.proxy.runpod.net",
      parseServerUrl,
    )
    .option('--ssh <user@host[:port]>', 'reach ComfyUI through an SSH tunnel to this host', parseSshTarget)
    .option(
      '--key <path>',
      'private key for --ssh (default: the ssh-agent); a passphrase is read from COMFYDESK_SSH_PASSPHRASE',
    )
    .option('--remote <host:port>', 'where ComfyUI listens as seen from the SSH host', parseRemote)
    .option(
      '--accept-host-key <SHA256:…>',
      'trust this host key fingerprint when the host is not in ~/.ssh/known_hosts (needed without a terminal)',
      parseFingerprint,
    )
    .option('--timeout <seconds>', 'give up on a server that does not answer after this long', parseSeconds, 5)
    .option('--json', 'print the health as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: StatusFlags) => context.run(flags.json, () => status(context.io, flags)));
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300)
    throw new InvalidArgumentError('must be a number of seconds from 0.1 to 300.');
  return seconds;
}

async function probe(io: CliIo, profile: ConnectionProfile, flags: StatusFlags): Promise<ConnectionHealth> {
  const timeoutMs = Math.round(flags.timeout * 1000);
  const connection = new ServerConnection({
    profile,
    secrets: io.env.COMFYDESK_SSH_PASSPHRASE ? { passphrase: io.env.COMFYDESK_SSH_PASSPHRASE } : {},
    log: cliLogger(io, flags.verbose, 'status'),
    readKnownHosts: () => readKnownHostsFile(io.env.COMFYDESK_KNOWN_HOSTS ?? defaultKnownHostsPath()),
    agentSocket: io.env.SSH_AUTH_SOCK,
    checkTimeoutMs: timeoutMs,
    connectTimeoutMs: timeoutMs,
    readInventory: false,
  });
  return connection.probe();
}

async function status(io: CliIo, flags: StatusFlags): Promise<number> {
  let profile = targetProfile(flags, io.cwd);
  let health = await probe(io, profile, flags);
  const hostKey = health.hostKey;
  if (profile.kind === 'ssh' && health.code === 'ssh_host_key_unknown' && hostKey) {
    // Unknown host: a person at a terminal may confirm it; a script must name it with --accept-host-key.
    if (io.stdin.isTTY && !flags.json) {
      writeLine(io.stderr, `The authenticity of host ${hostKey.host}:${hostKey.port} can't be established.`);
      writeLine(io.stderr, `${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}.`);
      if (await confirm(io, 'Trust this host for this check?')) {
        profile = { ...profile, pinnedHostKey: hostKey.fingerprint };
        health = await probe(io, profile, flags);
      }
    } else {
      health = {
        ...health,
        reason: `${hostKey.host}:${hostKey.port} is not in ~/.ssh/known_hosts. Its ${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}; if that is right, run again with --accept-host-key ${hostKey.fingerprint}.`,
      };
    }
  } else if (
    profile.kind === 'ssh' &&
    health.code === 'ssh_host_key_changed' &&
    flags.acceptHostKey &&
    hostKey?.expectedFingerprint === flags.acceptHostKey
  ) {
    health = {
      ...health,
      code: 'ssh_host_key_unknown',
      reason: `The host presents ${hostKey.fingerprint}, not the ${flags.acceptHostKey} given with --accept-host-key. Refused.`,
    };
  }
  const target =
    profile.kind === 'ssh'
      ? {
          ssh: `${profile.username}@${profile.host}:${profile.port}`,
          remote: `${profile.remoteHost}:${profile.remotePort}`,
        }
      : { url: profile.kind === 'runpod' ? profile.podId : profile.url };
  if (flags.json) {
    writeJson(io, {
      state: health.state,
      ...(health.reason ? { reason: health.reason } : {}),
      ...(health.code ? { code: health.code } : {}),
      ...(health.latencyMs !== undefined ? { latencyMs: health.latencyMs } : {}),
      server: { ...target, ...(health.facts ?? {}) },
      ...(hostKey ? { hostKey } : {}),
    });
  } else if (health.state === 'online') {
    const facts = health.facts;
    const vram =
      facts?.vramFreeBytes != null
        ? ` · ${formatBytes(facts.vramFreeBytes)} VRAM free${facts.vramTotalBytes ? ` of ${formatBytes(facts.vramTotalBytes)}` : ''}`
        : '';
    writeLine(
      io.stdout,
      `online — ComfyUI ${facts?.comfyuiVersion ?? '(version unknown)'} at ${'url' in target ? target.url : `${target.ssh} → ${target.remote}`} (${health.latencyMs} ms)`,
    );
    writeLine(io.stdout, `device: ${facts?.gpuName ?? 'unknown'}${vram}`);
  } else {
    writeLine(io.stdout, `${health.state} — ${health.reason ?? 'no answer'}`);
  }
  return health.state === 'online' ? ExitCode.ok : ExitCode.failed;
}

/** Bytes as a person reads them (GB with one decimal). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`;
  return `${bytes} B`;
}
