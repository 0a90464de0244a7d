import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { RunPodProfile } from '@shared/domain/connection';
import { formatUsd, podReach, type Pod, type PodReach } from '@shared/domain/pod';
import { defaultKnownHostsPath, readKnownHostsFile } from '../../core/connections/known-hosts';
import { ServerConnection } from '../../core/connections/server-connection';
import { AppError } from '../../core/lib/errors';
import type { Logger } from '../../core/lib/logger';
import { describeRoute, PodDirectory, proxyUrlTemplate } from '../../core/pods/pod-directory';
import type { CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { cliLogger } from '../runtime';
import { parseFingerprint } from '../server-target';

interface PodsFlags {
  json?: boolean;
  verbose?: boolean;
  wait: boolean;
  timeout: number;
  poll: number;
  key?: string;
  acceptHostKey?: string;
}

/** `comfydesk pods [list] | stop POD | start POD`: the RunPod account's pods, with RUNPOD_API_KEY. */
export function registerPods(program: Command, context: CommandContext): void {
  const pods = program
    .command('pods')
    .description('list your RunPod pods with status and $/h, or stop or start one (needs RUNPOD_API_KEY)');
  const common = (command: Command) =>
    command.option('--json', 'print the result as JSON').option('-v, --verbose', 'log debug details to stderr');

  common(
    pods.command('list', { isDefault: true }).description('list the pods: status, GPU, $/h and how to reach ComfyUI'),
  ).action((flags: PodsFlags) => context.run(flags.json, () => list(context.io, flags)));

  const waiting = (command: Command, defaultTimeout: number) =>
    common(command)
      .argument('<pod>', 'the pod id (or its exact name)')
      .option('--no-wait', 'return once RunPod has accepted the request')
      .option('--timeout <seconds>', 'give up waiting after this long', parseSeconds, defaultTimeout)
      .option('--poll <seconds>', 'how often to ask RunPod and ComfyUI while waiting', parseSeconds, 5);

  waiting(pods.command('stop').description('stop a pod and wait until RunPod reports it stopped'), 300).action(
    (pod: string, flags: PodsFlags) => context.run(flags.json, () => stop(context.io, pod, flags)),
  );

  waiting(
    pods
      .command('start')
      .description('start a stopped pod and wait until its ComfyUI answers (full SSH or the HTTPS proxy)'),
    900,
  )
    .option(
      '--key <path>',
      'private key for full SSH to the pod (default: the ssh-agent when running, else the HTTPS proxy)',
    )
    .option(
      '--accept-host-key <SHA256:…>',
      "trust this host key fingerprint for the pod's SSH (pods are not in ~/.ssh/known_hosts)",
      parseFingerprint,
    )
    .action((pod: string, flags: PodsFlags) => context.run(flags.json, () => start(context.io, pod, flags)));
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400)
    throw new InvalidArgumentError('must be a number of seconds above 0.');
  return seconds;
}

function directory(io: CliIo, log: Logger): { directory: PodDirectory; apiKey: string } {
  const apiKey = io.env.RUNPOD_API_KEY?.trim();
  if (!apiKey)
    throw new CliError(
      'Set RUNPOD_API_KEY to your RunPod API key (RunPod › Settings › API Keys). It is read from the environment so it never shows in the process list.',
      { code: 'runpod_unauthorized' },
    );
  return {
    apiKey,
    directory: new PodDirectory({
      log,
      apiUrl: io.env.RUNPOD_API_URL || undefined,
      proxyUrl: proxyUrlTemplate(io.env.COMFYDESK_RUNPOD_PROXY_URL),
    }),
  };
}

/** The pod named by id, or by its exact name when exactly one has it. */
async function findPod(dir: PodDirectory, apiKey: string, wanted: string): Promise<Pod> {
  const pods = await dir.list(apiKey);
  const byId = pods.find((pod) => pod.id === wanted);
  if (byId) return byId;
  const byName = pods.filter((pod) => pod.name.toLowerCase() === wanted.toLowerCase());
  if (byName.length === 1) return byName[0]!;
  throw new AppError(
    'pod_not_found',
    byName.length > 1
      ? `${byName.length} pods are named ${wanted}; use the pod id (${byName.map((pod) => pod.id).join(', ')}).`
      : `No pod ${wanted} in this RunPod account. Run "comfydesk pods" to see them.`,
  );
}

/** The connection profile a CLI command reaches a pod's ComfyUI with. */
function cliProfile(io: CliIo, pod: Pod, flags: PodsFlags): RunPodProfile {
  const canSsh = Boolean(flags.key || io.env.SSH_AUTH_SOCK);
  return RunPodProfile.parse({
    id: 'cli',
    name: pod.name,
    kind: 'runpod',
    podId: pod.id,
    access: canSsh ? 'auto' : 'proxy',
    auth: flags.key ? 'key' : 'agent',
    ...(flags.key ? { keyPath: resolve(io.cwd, flags.key) } : {}),
    ...(flags.acceptHostKey ? { pinnedHostKey: flags.acceptHostKey } : {}),
  });
}

function status(pod: Pod): string {
  return pod.desiredStatus === 'RUNNING' ? 'running' : pod.desiredStatus === 'EXITED' ? 'stopped' : 'terminated';
}

function reachOf(pod: Pod, dir: PodDirectory | undefined): { ssh: string | null; proxyUrl: string | null } {
  const probe = (access: 'ssh' | 'proxy'): PodReach =>
    dir
      ? dir.reach(
          RunPodProfile.parse({ id: 'cli', name: pod.name, kind: 'runpod', podId: pod.id, access, auth: 'agent' }),
          pod,
        )
      : podReach(pod, { comfyPort: 8188, access });
  const ssh = probe('ssh');
  const proxy = probe('proxy');
  return {
    ssh: ssh.ok && ssh.route.kind === 'ssh' ? `${ssh.route.username}@${ssh.route.host} -p ${ssh.route.port}` : null,
    proxyUrl: proxy.ok && proxy.route.kind === 'proxy' ? proxy.route.url : null,
  };
}

async function list(io: CliIo, flags: PodsFlags): Promise<number> {
  const { directory: dir, apiKey } = directory(io, cliLogger(io, flags.verbose, 'pods'));
  const pods = await dir.list(apiKey);
  if (flags.json) {
    writeJson(
      io,
      pods.map((pod) => ({
        id: pod.id,
        name: pod.name,
        status: status(pod),
        desiredStatus: pod.desiredStatus,
        gpu: pod.gpuName,
        gpuCount: pod.gpuCount,
        costPerHr: pod.costPerHr,
        publicIp: pod.publicIp,
        portMappings: pod.portMappings,
        ports: pod.ports,
        ...reachOf(pod, dir),
      })),
    );
    return ExitCode.ok;
  }
  if (pods.length === 0) {
    writeLine(io.stdout, 'No pods in this RunPod account.');
    return ExitCode.ok;
  }
  const rows = pods.map((pod) => {
    const reach = reachOf(pod, dir);
    return [
      pod.id,
      pod.name,
      status(pod),
      pod.gpuName ? `${pod.gpuCount && pod.gpuCount > 1 ? `${pod.gpuCount}× ` : ''}${pod.gpuName}` : 'CPU',
      pod.costPerHr === null ? '—' : `${formatUsd(pod.costPerHr)}/h`,
      reach.ssh
        ? `ssh ${reach.ssh}`
        : (reach.proxyUrl ?? (pod.desiredStatus === 'RUNNING' ? 'no SSH or 8188/http exposed' : '')),
    ];
  });
  const header = ['ID', 'NAME', 'STATUS', 'GPU', 'COST', 'COMFYUI'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows])
    writeLine(
      io.stdout,
      row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '),
    );
  return ExitCode.ok;
}

/** Waits until `check` gives a value, asking every `poll` seconds, up to `timeout` seconds (or Ctrl+C). */
async function until<T>(io: CliIo, flags: PodsFlags, what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + flags.timeout * 1000;
  let interrupted = false;
  void io.interrupted.then(() => (interrupted = true));
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (interrupted)
      throw new CliError(`Stopped waiting for ${what}.`, { exitCode: ExitCode.interrupted, code: 'cancelled' });
    if (Date.now() >= deadline)
      throw new CliError(
        `Gave up waiting for ${what} after ${flags.timeout} s. RunPod may still be working on it; run "comfydesk pods" to see.`,
        {
          code: 'timeout',
        },
      );
    await new Promise<void>((done) => {
      const timer = setTimeout(done, flags.poll * 1000);
      void io.interrupted.then(() => {
        clearTimeout(timer);
        done();
      });
    });
  }
}

async function stop(io: CliIo, wanted: string, flags: PodsFlags): Promise<number> {
  const { directory: dir, apiKey } = directory(io, cliLogger(io, flags.verbose, 'pods'));
  const pod = await findPod(dir, apiKey, wanted);
  if (pod.desiredStatus === 'RUNNING') await dir.api(apiKey).stopPod(pod.id);
  const final = !flags.wait
    ? pod
    : await until(io, flags, `${pod.name} to stop`, async () => {
        const current = await dir.api(apiKey).getPod(pod.id);
        return current.desiredStatus === 'RUNNING' ? undefined : current;
      });
  if (flags.json) writeJson(io, { id: pod.id, name: pod.name, status: flags.wait ? status(final) : 'stopping' });
  else
    writeLine(
      io.stdout,
      !flags.wait
        ? `RunPod is stopping ${pod.name} (${pod.id}).`
        : pod.desiredStatus === 'RUNNING'
          ? `Stopped ${pod.name} (${pod.id}). Its volume is kept; "comfydesk pods start ${pod.id}" starts it again.`
          : `${pod.name} (${pod.id}) was already ${status(final)}.`,
    );
  return ExitCode.ok;
}

async function start(io: CliIo, wanted: string, flags: PodsFlags): Promise<number> {
  const log = cliLogger(io, flags.verbose, 'pods');
  const { directory: dir, apiKey } = directory(io, log);
  const pod = await findPod(dir, apiKey, wanted);
  if (pod.desiredStatus === 'TERMINATED')
    throw new AppError('pod_not_found', `${pod.name} was terminated; it cannot be started again.`);
  if (pod.desiredStatus !== 'RUNNING') await dir.api(apiKey).startPod(pod.id);
  if (!flags.wait) {
    if (flags.json) writeJson(io, { id: pod.id, name: pod.name, status: 'starting' });
    else writeLine(io.stdout, `RunPod is starting ${pod.name} (${pod.id}).`);
    return ExitCode.ok;
  }
  const profile = cliProfile(io, pod, flags);
  const progress = (text: string) => {
    if (!flags.json && io.stderr.isTTY) writeLine(io.stderr, text);
  };
  progress(`Waiting for ${pod.name} to start…`);
  const running = await until(io, flags, `${pod.name} to start`, async () => {
    const current = await dir.api(apiKey).getPod(pod.id);
    return current.desiredStatus === 'RUNNING' && dir.reach(profile, current).ok ? current : undefined;
  });
  const reach = dir.reach(profile, running);
  progress(`Waiting for ComfyUI at ${describeRoute(reach) ?? 'the pod'}…`);
  const health = await until(io, flags, `ComfyUI on ${pod.name} to answer`, async () => {
    const target = await dir.resolve(profile, apiKey);
    const connection = new ServerConnection({
      profile: target,
      secrets: io.env.COMFYDESK_SSH_PASSPHRASE ? { passphrase: io.env.COMFYDESK_SSH_PASSPHRASE } : {},
      log: log.child('connection'),
      readKnownHosts: () => readKnownHostsFile(io.env.COMFYDESK_KNOWN_HOSTS ?? defaultKnownHostsPath()),
      agentSocket: io.env.SSH_AUTH_SOCK,
      checkTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      readInventory: false,
    });
    const checked = await connection.probe();
    if (checked.state === 'online') return checked;
    // What only the user can fix does not get better by waiting.
    if (checked.state === 'error') {
      const hostKey = checked.hostKey;
      throw new CliError(
        hostKey?.kind === 'unknown'
          ? `The pod's SSH host key is ${hostKey.fingerprint}; if that is right, run again with --accept-host-key ${hostKey.fingerprint}.`
          : (checked.reason ?? 'ComfyUI on the pod cannot be reached.'),
        { code: checked.code ?? 'pod_unreachable' },
      );
    }
    return undefined;
  });
  const where = describeRoute(reach);
  if (flags.json)
    writeJson(io, {
      id: pod.id,
      name: pod.name,
      status: 'running',
      costPerHr: running.costPerHr,
      comfyui: { route: where, version: health.facts?.comfyuiVersion ?? null },
    });
  else
    writeLine(
      io.stdout,
      `${pod.name} (${pod.id}) is running${running.costPerHr !== null ? ` at ${formatUsd(running.costPerHr)}/h` : ''}; ComfyUI ${health.facts?.comfyuiVersion ?? ''} answers at ${where}.`.replace(
        '  ',
        ' ',
      ),
    );
  return ExitCode.ok;
}
