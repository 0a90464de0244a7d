import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ConnectionDraft, ConnectionHealth, ServerFacts } from '@shared/domain/connection';
import { formatBytes } from '@shared/format';
import { parseSeconds, type CommandContext } from '../command';
import type { ApiClient } from '../contract-client';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import type { SessionTarget } from '../../core/connections/profile-targets';
import { addServerOptions, confirm, describeTarget, sessionTargetsOf, type ServerTargetFlags } from '../server-target';
import { openSession } from '../session';

interface StatusFlags extends ServerTargetFlags {
  dataDir?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

/** `comfydesk status [--server URL | --ssh USER@HOST[:PORT] …] [--json]`: one health check, with the app's host-key rules. */
export function registerStatus(program: Command, context: CommandContext): void {
  const command = program
    .command('status')
    .description(
      'check a ComfyUI server (default: the default connection): online, offline or error, with latency, version, device and free memory',
    );
  addServerOptions(command)
    .option('--data-dir <dir>', "ComfyDesk's data folder, for its default connection (default: the app's)")
    .option('--timeout <seconds>', 'give up on a server that does not answer after this long', parseSeconds, 5)
    .option('--json', 'print the health as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: StatusFlags) => context.run(flags.json, () => status(context.io, flags)));
}

/** The profile a check is about, and a way to check it again with a host key the user confirmed. */
interface Subject {
  draft: ConnectionDraft;
  secrets?: { passphrase?: string; headerValue?: string };
}

async function probe(api: ApiClient, subject: Subject, timeoutMs: number): Promise<ConnectionHealth> {
  return api.call(
    'connections.test',
    { profile: subject.draft, ...(subject.secrets ? { secrets: subject.secrets } : {}), timeoutMs },
    { timeoutMs: timeoutMs * 3 + 5000 },
  );
}

async function status(io: CliIo, flags: StatusFlags): Promise<number> {
  const targets = sessionTargetsOf(flags, io);
  if (targets.length > 1) return statusOfMany(io, flags, targets);
  const target = targets[0];
  const timeoutMs = Math.round(flags.timeout * 1000);
  const session = await openSession(io, {
    command: 'status',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
    checkTimeoutMs: timeoutMs,
  });
  try {
    let subject: Subject;
    if (target) subject = { draft: target.profile, ...(target.secrets ? { secrets: target.secrets } : {}) };
    else {
      // The default connection, checked with its own saved secrets (its id makes the core use them).
      const snapshot = await session.api.call('connections.list', {});
      const profile = snapshot.profiles.find((item) => item.id === snapshot.activeId);
      if (!profile)
        throw new CliError('No ComfyUI server is set up. Say which server: --server URL or --ssh USER@HOST[:PORT].', {
          exitCode: ExitCode.usage,
          code: 'invalid_input',
        });
      subject = { draft: profile };
    }
    return await report(io, flags, session.api, subject, timeoutMs);
  } finally {
    await session.close();
  }
}

async function report(
  io: CliIo,
  flags: StatusFlags,
  api: ApiClient,
  subject: Subject,
  timeoutMs: number,
): Promise<number> {
  let { draft } = subject;
  let health = await probe(api, subject, timeoutMs);
  const hostKey = health.hostKey;
  if (draft.kind === 'ssh' && health.code === 'ssh_host_key_unknown' && hostKey) {
    // Unknown host: a person at a terminal may confirm it; a script must name it with --accept-host-key.
    if (io.stdin.isTTY && !flags.json) {
      writeLine(io.stderr, `The authenticity of host ${hostKey.host}:${hostKey.port} can't be established.`);
      writeLine(io.stderr, `${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}.`);
      if (await confirm(io, 'Trust this host for this check?')) {
        draft = { ...draft, pinnedHostKey: hostKey.fingerprint };
        health = await probe(api, { ...subject, draft }, timeoutMs);
      }
    } else {
      health = {
        ...health,
        reason: `${hostKey.host}:${hostKey.port} is not in ~/.ssh/known_hosts. Its ${hostKey.keyType} key fingerprint is ${hostKey.fingerprint}; if that is right, run again with --accept-host-key ${hostKey.fingerprint}.`,
      };
    }
  } else if (
    draft.kind === 'ssh' &&
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
  const where =
    draft.kind === 'ssh'
      ? { ssh: `${draft.username}@${draft.host}:${draft.port}`, remote: `${draft.remoteHost}:${draft.remotePort}` }
      : { url: draft.kind === 'runpod' ? draft.podId : draft.url };
  if (flags.json) {
    writeJson(io, {
      state: health.state,
      ...(health.reason ? { reason: health.reason } : {}),
      ...(health.code ? { code: health.code } : {}),
      ...(health.latencyMs !== undefined ? { latencyMs: health.latencyMs } : {}),
      server: { ...where, ...(health.facts ?? {}) },
      ...(health.hostKey ? { hostKey: health.hostKey } : {}),
    });
  } else if (health.state === 'online') {
    const shown = 'url' in where ? where.url : `${where.ssh} → ${where.remote}`;
    writeLine(
      io.stdout,
      `online — ComfyUI ${health.facts?.comfyuiVersion ?? '(version unknown)'} at ${shown} (${health.latencyMs} ms)`,
    );
    writeLine(io.stdout, `device: ${health.facts?.gpuName ?? 'unknown'}${memoryOf(health.facts)}`);
  } else {
    writeLine(io.stdout, `${health.state} — ${health.reason ?? 'no answer'}`);
  }
  return health.state === 'online' ? ExitCode.ok : ExitCode.failed;
}

/** Several servers checked at once: one line each (one JSON object each with --json), in the order given. */
async function statusOfMany(io: CliIo, flags: StatusFlags, targets: SessionTarget[]): Promise<number> {
  const timeoutMs = Math.round(flags.timeout * 1000);
  const session = await openSession(io, {
    command: 'status',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
    checkTimeoutMs: timeoutMs,
  });
  try {
    const checks = await Promise.all(
      targets.map((target) =>
        probe(
          session.api,
          { draft: target.profile, ...(target.secrets ? { secrets: target.secrets } : {}) },
          timeoutMs,
        ),
      ),
    );
    for (const [index, health] of checks.entries()) {
      const where = describeTarget(targets[index]!);
      if (flags.json)
        writeJson(io, {
          server: where,
          state: health.state,
          ...(health.reason ? { reason: health.reason } : {}),
          ...(health.code ? { code: health.code } : {}),
          ...(health.latencyMs !== undefined ? { latencyMs: health.latencyMs } : {}),
          ...(health.facts ? { facts: health.facts } : {}),
        });
      else if (health.state === 'online')
        writeLine(
          io.stdout,
          `${where}  online — ComfyUI ${health.facts?.comfyuiVersion ?? '(version unknown)'} (${health.latencyMs} ms) · ${health.facts?.gpuName ?? 'device unknown'}${memoryOf(health.facts)}`,
        );
      else writeLine(io.stdout, `${where}  ${health.state} — ${health.reason ?? 'no answer'}`);
    }
    return checks.every((health) => health.state === 'online') ? ExitCode.ok : ExitCode.failed;
  } finally {
    await session.close();
  }
}

/**
 * " · 24.6 GB VRAM free of 25.3 GB" — or RAM on a server that runs on the CPU: ComfyUI then reports
 * the machine's memory in the same fields (`/system_stats` device type "cpu").
 */
export function memoryOf(facts: ServerFacts | undefined): string {
  if (facts?.vramFreeBytes == null) return '';
  const kind = facts.deviceType === 'cpu' ? 'RAM' : 'VRAM';
  return ` · ${formatBytes(facts.vramFreeBytes)} ${kind} free${facts.vramTotalBytes ? ` of ${formatBytes(facts.vramTotalBytes)}` : ''}`;
}
