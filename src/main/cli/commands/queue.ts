import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isFinished, type Job, type JobsSnapshot } from '@shared/domain/job';
import { AppError } from '../../core/lib/errors';
import { parseSeconds, type CommandContext } from '../command';
import { ExitCode, writeJson, writeLine } from '../io';
import { addServerOptions, describeTarget, sessionTargetsOf, type ServerTargetFlags } from '../server-target';
import { openSession, serverFor, serverLabel, waitForServer, type Session } from '../session';

interface QueueFlags extends ServerTargetFlags {
  dataDir?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

/**
 * Opens ComfyDesk for `queue`/`cancel`, with the servers brought online and their queues read: those
 * named with --server/--ssh, else the default connection and every server used for generation (one
 * that does not come online in time is named on stderr and left out).
 */
async function withQueue<T>(
  context: CommandContext,
  command: string,
  flags: QueueFlags,
  body: (session: Session, serverId: string, label: string, snapshot: JobsSnapshot) => Promise<T>,
): Promise<T> {
  const { io } = context;
  const targets = sessionTargetsOf(flags, io);
  const timeoutMs = Math.round(flags.timeout * 1000);
  // Reading or cancelling never sends held jobs: a core of this command's own keeps the queue paused.
  const session = await openSession(io, {
    command,
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    servers: targets,
    isQueueHeld: true,
    checkTimeoutMs: timeoutMs,
  });
  try {
    const serverId = await serverFor(session);
    const label = targets[0] ? describeTarget(targets[0]) : await serverLabel(session, serverId);
    await waitForServer(session.api, serverId, { timeoutMs, isFailFast: true, label });
    const others = session.serverIds.length > 0 ? session.serverIds.slice(1) : await farmOf(session, serverId);
    await Promise.all(
      others.map(async (id, index) => {
        const name = targets[index + 1] ? describeTarget(targets[index + 1]!) : await serverLabel(session, id);
        await waitForServer(session.api, id, { timeoutMs, isFailFast: true, label: name }).catch((error: unknown) =>
          writeLine(io.stderr, `comfydesk: ${name}'s queue is not listed: ${(error as Error).message}`),
        );
      }),
    );
    const snapshot = await session.api.call('jobs.list', { refresh: true });
    return await body(session, serverId, label, snapshot);
  } finally {
    await session.close();
  }
}

/** The other servers used for generation, brought online for this command if they are not. */
async function farmOf(session: Session, defaultId: string): Promise<string[]> {
  const snapshot = await session.api.call('connections.list', {});
  const ids = (snapshot.generation ?? []).filter((id) => id !== defaultId);
  for (const id of ids) {
    const profile = snapshot.profiles.find((item) => item.id === id);
    if (profile && !snapshot.online.includes(id)) await session.api.call('connections.openSession', { profile });
  }
  return ids;
}

interface QueueEntry {
  job_id: string;
  prompt_id: string | null;
  status: Job['status'];
  origin: 'comfydesk' | 'another client';
  workflow: string | null;
  server: string;
  prompt: string;
}

function describe(job: Job, label: string): QueueEntry {
  return {
    job_id: job.id,
    prompt_id: job.promptId,
    status: job.status,
    origin: job.origin === 'foreign' ? 'another client' : 'comfydesk',
    workflow: job.origin === 'foreign' ? null : job.workflowName,
    server: label,
    prompt: job.promptText,
  };
}

/** `comfydesk queue`: what runs and waits — ComfyDesk's own queue and every client's jobs on the server. */
export function registerQueue(program: Command, context: CommandContext): void {
  const command = program
    .command('queue')
    .description(
      "list the jobs running and waiting: ComfyDesk's own (held ones too) and other clients' jobs on the server",
    );
  addServerOptions(command)
    .option('--data-dir <dir>', "ComfyDesk's data folder (default: the app's)")
    .option('--timeout <seconds>', 'give up if the server does not answer within this many seconds', parseSeconds, 10)
    .option('--json', 'print {paused, running, pending} as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: QueueFlags) =>
      context.run(flags.json, () =>
        withQueue(context, 'queue', flags, async (session, serverId, label, { jobs: all, paused }) => {
          const { io } = context;
          // Every server's jobs, unless servers were named.
          const named = new Set(session.serverIds);
          const jobs = all.filter((job) => !isFinished(job.status) && (named.size === 0 || named.has(job.serverId)));
          const names = new Map(
            (await session.api.call('connections.list', {})).profiles.map((profile) => [profile.id, profile.name]),
          );
          const labelOf = (job: Job) => (job.serverId === serverId ? label : (names.get(job.serverId) ?? job.serverId));
          const running = jobs.filter((job) => job.status === 'running').map((job) => describe(job, labelOf(job)));
          const pending = jobs.filter((job) => job.status !== 'running').map((job) => describe(job, labelOf(job)));
          if (flags.json) {
            writeJson(io, { paused, running, pending });
            return ExitCode.ok;
          }
          if (jobs.length === 0) {
            writeLine(io.stdout, `The queue is empty${session.serverIds.length === 1 ? ` on ${label}` : ''}.`);
            return ExitCode.ok;
          }
          for (const item of [...running, ...pending]) {
            const who = item.origin === 'another client' ? '(another client)' : (item.workflow ?? '');
            writeLine(
              io.stdout,
              `${item.status.padEnd(8)} ${item.prompt_id ?? `job ${item.job_id}`}  ${who}  on ${item.server}`,
            );
          }
          if (paused) writeLine(io.stdout, "ComfyDesk's queue is paused: held jobs wait until it is resumed.");
          return ExitCode.ok;
        }),
      ),
    );
}

/** `comfydesk cancel ID`: interrupt a running job, remove a waiting one (any client's), drop a held one. */
export function registerCancel(program: Command, context: CommandContext): void {
  const command = program
    .command('cancel')
    .description(
      "cancel a job: interrupt it if it is running, remove it if it is waiting (any client's), drop it from ComfyDesk's queue if held",
    )
    .argument('<id>', 'the prompt id (from `comfydesk queue` or `comfydesk run --json`) or ComfyDesk job id');
  addServerOptions(command)
    .option('--data-dir <dir>', "ComfyDesk's data folder (default: the app's)")
    .option('--timeout <seconds>', 'give up if the server does not answer within this many seconds', parseSeconds, 10)
    .option('--json', 'print {prompt_id, job_id, action} as JSON')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((id: string, flags: QueueFlags) =>
      context.run(flags.json, () =>
        withQueue(context, 'cancel', flags, async (session, _serverId, label, { jobs }) => {
          const { io } = context;
          const job = jobs.find((item) => !isFinished(item.status) && (item.promptId === id || item.id === id));
          if (!job)
            throw new AppError(
              'job_not_found',
              `${id} is neither running nor waiting on ${label} (it may have finished already).`,
            );
          await session.api.call('jobs.cancel', { jobId: job.id });
          const action = job.status === 'running' ? 'interrupted' : 'removed';
          if (flags.json) writeJson(io, { prompt_id: job.promptId, job_id: job.id, action });
          else writeLine(io.stdout, action === 'interrupted' ? `Interrupted ${id}.` : `Removed ${id} from the queue.`);
          return ExitCode.ok;
        }),
      ),
    );
}
