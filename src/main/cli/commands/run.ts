import { accessSync, constants, copyFileSync, existsSync, linkSync, mkdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Parameter, ParameterValues } from '@shared/domain/generation';
import type { Job, WorkflowDocument } from '@shared/domain/job';
import { ownerKind } from '../../core/app/owner-lock';
import { fileError } from '../../core/lib/errors';
import { readJsonFile } from '../../core/lib/json-file';
import { safeFileName } from '../../core/lib/file-names';
import { mediaTypeOf } from '../../core/lib/media-types';
import { collectValues, parseSeconds, parseSeed, type CommandContext } from '../command';
import { ApiError, type ApiClient } from '../contract-client';
import { CliError, ExitCode, stoppedCode, writeJson, writeLine, type CliIo, type StopReason } from '../io';
import { collectAssignments, parseSetValues, refusedValuesError } from '../parameter-flags';
import { RunFollower } from '../run-follower';
import { addServerOptions, describeTarget, sessionTargetsOf, type ServerTargetFlags } from '../server-target';
import { openSession, serverFor, serverLabel, waitForServer, type Session } from '../session';

interface RunFlags extends ServerTargetFlags {
  prompt?: string;
  negative?: string;
  seed?: number;
  set: string[];
  input: string[];
  out?: string;
  dataDir?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
  runs: number;
}

/** Files LoadImage, LoadVideo and LoadAudio read, accepted by --input. */
const INPUT_EXTENSIONS = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.webp',
  '.gif',
  '.bmp',
  '.mp4',
  '.webm',
  '.mov',
  '.wav',
  '.mp3',
  '.flac',
  '.ogg',
]);

/** How long a cancel may take to be confirmed by the server after Ctrl+C. */
const CANCEL_CONFIRM_MS = 5000;

/** Commander parser for `--runs`: a whole number from 1 to 100. */
function parseRuns(value: string): number {
  const runs = Number(value);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw new InvalidArgumentError('must be a whole number from 1 to 100.');
  return runs;
}

/** `comfydesk run FILE [--server URL]… [--runs N] …`: queue a workflow, follow it, save its outputs. */
export function registerRun(program: Command, context: CommandContext): void {
  const command = program
    .command('run')
    .description(
      'run a workflow on a ComfyUI server (default: the default connection), show its progress, and save its outputs',
    )
    .argument('<file>', 'the workflow JSON file (UI or API format)');
  addServerOptions(command)
    .option('--prompt <text>', 'the positive prompt')
    .option('--negative <text>', 'the negative prompt')
    .option('--seed <n>', 'the seed (kept fixed)', parseSeed)
    .option(
      '--set <name=value>',
      'set any parameter by its id (see `comfydesk convert FILE --params`); repeatable',
      collectAssignments,
      [],
    )
    .option(
      '--input <path>',
      "an image, video or audio file for the workflow's loader (in order of the loaders); repeatable",
      collectValues,
      [],
    )
    .option('--out <dir>', 'where to put the outputs (default: the current folder)')
    .option('--data-dir <dir>', "ComfyDesk's data folder, where the run is kept in the history (default: the app's)")
    .option('--timeout <seconds>', 'give up if the server does not answer within this many seconds', parseSeconds, 15)
    .option(
      '--json',
      'print one JSON object per line per event (generation_started, generation_progress, generation_complete, generation_error, queue_updated)',
    )
    .option(
      '--runs <n>',
      'run it N times (seeds follow the workflow), spread over every --server and --ssh given',
      parseRuns,
      1,
    )
    .option('-v, --verbose', 'log debug details to stderr')
    .action((file: string, flags: RunFlags) =>
      context.run(flags.json, () => run(context.io, resolve(context.io.cwd, file), flags)),
    );
}

/** The values --prompt, --negative, --seed and --set stand for, checked against the workflow's parameters. */
function valuesFrom(flags: RunFlags, parameters: readonly Parameter[]): ParameterValues {
  const values: ParameterValues = {};
  const require = (kind: Parameter['kind'], flag: string): Parameter => {
    const parameter = parameters.find((candidate) => candidate.kind === kind);
    if (!parameter)
      throw new CliError(
        `This workflow has no ${kind.replace('_', ' ')} to set with ${flag} (its parameters: ${parameters.map((item) => item.id).join(', ') || 'none'}).`,
        { code: 'parameter_invalid', exitCode: ExitCode.usage },
      );
    return parameter;
  };
  if (flags.prompt !== undefined) values[require('prompt', '--prompt').id] = flags.prompt;
  if (flags.negative !== undefined) values[require('negative_prompt', '--negative').id] = flags.negative;
  if (flags.seed !== undefined) values[require('seed', '--seed').id] = flags.seed;
  return { ...values, ...parseSetValues(flags.set, parameters) };
}

/** Hands each --input file to ComfyDesk (staged until the run uploads it) for the next loader of its kind. */
async function stageInputs(
  api: ApiClient,
  flags: RunFlags,
  io: CliIo,
  parameters: readonly Parameter[],
): Promise<ParameterValues> {
  const values: ParameterValues = {};
  const free = parameters.filter(
    (parameter) => parameter.constraints.media || ['image', 'video', 'audio', 'mask'].includes(parameter.kind),
  );
  for (const path of flags.input) {
    const full = resolve(io.cwd, path);
    const media = INPUT_EXTENSIONS.has(extname(full).toLowerCase())
      ? (mediaTypeOf(full) as { kind: 'image' | 'video' | 'audio'; mime: string })
      : undefined;
    if (!media)
      throw new CliError(`${path} is not an image, video or audio file ComfyDesk knows (by its extension).`, {
        code: 'invalid_input',
        exitCode: ExitCode.usage,
      });
    const index = free.findIndex(
      (parameter) =>
        (parameter.constraints.media ?? parameter.kind) === media.kind ||
        (media.kind === 'image' && parameter.kind === 'mask'),
    );
    if (index < 0)
      throw new CliError(`This workflow has no ${media.kind} input left for ${path}.`, {
        code: 'invalid_input',
        exitCode: ExitCode.usage,
      });
    const [parameter] = free.splice(index, 1);
    try {
      accessSync(full, constants.R_OK);
    } catch {
      throw new CliError(`Cannot read ${path}.`, { code: 'not_found', exitCode: ExitCode.usage });
    }
    // By path: the owner runs on this machine and copies the file in pieces (never in a message).
    const staged = await api.call('generation.stageFile', { path: full });
    values[parameter!.id] = { staged: staged.id };
  }
  return values;
}

async function run(io: CliIo, file: string, flags: RunFlags): Promise<number> {
  // Read and check the file here, on this machine: a bad file is named before anything starts,
  // and the owner (perhaps another process) gets the workflow itself, not a path it may not see.
  const document: WorkflowDocument = {
    name: basename(file).replace(/\.json$/i, '') || 'workflow',
    data: await readJsonFile(file, 'workflow_invalid'),
  };
  const targets = sessionTargetsOf(flags, io);
  const timeoutMs = Math.round(flags.timeout * 1000);
  const session = await openSession(io, {
    command: 'run',
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    servers: targets,
    checkTimeoutMs: timeoutMs,
  });
  try {
    return await runOn(session, io, document, flags, targets.map(describeTarget), file);
  } finally {
    await session.close();
  }
}

async function runOn(
  session: Session,
  io: CliIo,
  document: WorkflowDocument,
  flags: RunFlags,
  targetLabels: string[],
  file: string,
): Promise<number> {
  const { api } = session;
  const timeoutMs = Math.round(flags.timeout * 1000);
  // The servers given (the runs spread over them), else the default connection.
  const serverIds = session.serverIds.length > 0 ? session.serverIds : [await serverFor(session)];
  const labels = new Map<string, string>();
  for (const [index, serverId] of serverIds.entries())
    labels.set(serverId, targetLabels[index] ?? (await serverLabel(session, serverId)));
  const label = (serverId: string) => labels.get(serverId) ?? serverId;
  await Promise.all(
    serverIds.map((serverId) => waitForServer(api, serverId, { timeoutMs, isFailFast: true, label: label(serverId) })),
  );
  const form = await api.call(
    'generation.form',
    { workflow: document, servers: serverIds },
    { timeoutMs: timeoutMs + 60_000 },
  );
  const values = { ...valuesFrom(flags, form.parameters), ...(await stageInputs(api, flags, io, form.parameters)) };

  const follower = new RunFollower(io, flags, document.name, label);
  const offs = [
    api.on('jobs.updated', (job) => follower.updated(job)),
    api.on('generation.progress', (event) => follower.progress(event.jobId, event.progress)),
    api.on('jobs.queue', (counts) => {
      if (flags.json) writeJson(io, { event: 'queue_updated', running: counts.running, pending: counts.pending });
    }),
    api.on('connections.health', (health) => follower.health(health)),
  ];
  // Whatever happens to the sockets, this process stays until the jobs are settled one way or another.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    const { jobIds } = await api
      .call('jobs.enqueue', {
        workflow: document,
        serverId: form.serverId,
        servers: serverIds,
        values,
        count: flags.runs,
        ...(flags.seed !== undefined ? { seedMode: 'fixed' as const } : {}),
      })
      .catch((error: unknown) => {
        throw refusedValuesError(error, `comfydesk convert ${file} --server URL --params`) ?? error;
      });
    follower.follow(jobIds);
    await follower.announceWaiting(api);

    const outcome = await Promise.race([
      follower.done.then((jobs) => ({ jobs })),
      io.interrupted.then((reason) => ({ stopped: reason })),
      session.ownerLost.then(() => ({ ownerLost: true as const })),
    ]);
    if ('ownerLost' in outcome)
      throw new CliError(
        `ComfyDesk (${session.owner ? `pid ${session.owner.pid}, ${ownerKind(session.owner)}` : 'the process running this job'}) stopped before the job finished. The job is kept in its queue and history and goes on when ComfyDesk starts again.`,
        { code: 'disconnected' },
      );
    if ('stopped' in outcome) return await cancelRun(api, follower, outcome.stopped, io);
    follower.endLine();
    let code: number = ExitCode.ok;
    for (const job of outcome.jobs) {
      const result = await finish(api, io, flags, job, label(job.serverId)).catch((error: unknown) => {
        if (outcome.jobs.length === 1) throw error;
        writeLine(io.stderr, `comfydesk: ${error instanceof Error ? error.message : String(error)}`);
        return ExitCode.failed;
      });
      if (result !== ExitCode.ok) code = result;
    }
    return code;
  } finally {
    clearInterval(keepAlive);
    for (const off of offs) off();
  }
}

/** Ctrl+C, SIGTERM or a closed output: cancel the jobs on the servers, then stop. */
async function cancelRun(api: ApiClient, follower: RunFollower, reason: StopReason, io: CliIo): Promise<number> {
  const refusals = await Promise.all(
    follower.unfinished().map((jobId) =>
      api.call('jobs.cancel', { jobId }).then(
        () => undefined,
        (error: unknown) => (error instanceof ApiError ? error.userMessage : String(error)),
      ),
    ),
  );
  const refused = refusals.find((item) => item !== undefined);
  const confirmed =
    refused === undefined &&
    (await Promise.race([
      follower.done.then(() => true),
      new Promise<false>((resolvePromise) => setTimeout(() => resolvePromise(false), CANCEL_CONFIRM_MS).unref()),
    ]));
  follower.endLine();
  if (refused !== undefined)
    writeLine(
      io.stderr,
      `comfydesk: stopped, but the job could not be cancelled: ${refused} It stays in ComfyDesk's queue and history.`,
    );
  else if (reason !== 'output-closed')
    writeLine(
      io.stderr,
      `comfydesk: stopped; the job was cancelled${confirmed ? '' : ' (the server did not confirm it in time)'}.`,
    );
  return stoppedCode(reason);
}

/** A finished job: its outputs put into --out and printed, or its error in ComfyUI's words. */
async function finish(api: ApiClient, io: CliIo, flags: RunFlags, job: Job, label: string): Promise<number> {
  if (job.status !== 'succeeded') {
    if (flags.json)
      writeJson(io, {
        event: 'generation_error',
        prompt_id: job.promptId,
        server: label,
        status: job.status,
        error: job.error,
      });
    throw new CliError(failureSentence(job, label), { code: job.status === 'cancelled' ? 'cancelled' : 'comfy_error' });
  }
  const outputsDir = (await api.call('app.info', {})).folders.outputs;
  const outDir = resolve(io.cwd, flags.out ?? '.');
  const delivered = job.outputs.map((output) => ({
    ...output,
    ...(output.localPath ? { path: deliver(join(outputsDir, output.localPath), outDir) } : {}),
  }));
  if (flags.json)
    writeJson(io, { event: 'generation_complete', prompt_id: job.promptId, server: label, outputs: delivered });
  else {
    for (const output of delivered) if (output.path) writeLine(io.stdout, output.path);
    for (const output of delivered)
      if (output.kind === 'text' && output.text !== undefined) writeLine(io.stdout, output.text);
  }
  if (delivered.some((output) => output.kind !== 'text' && !output.path)) {
    writeLine(io.stderr, 'Some outputs could not be saved; they stay on the server until it restarts.');
    return ExitCode.failed;
  }
  return ExitCode.ok;
}

/** Puts a saved output into the --out folder (a hard link where possible, else a copy) without overwriting. */
function deliver(source: string, outDir: string): string {
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (error) {
    throw fileError(error, 'create', outDir);
  }
  const name = safeFileName(basename(source)) || 'output';
  const extension = extname(name);
  const stem = name.slice(0, name.length - extension.length);
  let target = join(outDir, name);
  for (let index = 1; existsSync(target); index += 1) target = join(outDir, `${stem} (${index})${extension}`);
  try {
    linkSync(source, target);
  } catch {
    try {
      copyFileSync(source, target);
    } catch (error) {
      throw fileError(error, 'copy the output to', target);
    }
  }
  return target;
}

function failureSentence(job: Job, label: string): string {
  if (job.status === 'lost')
    return `The job was lost: ${label} no longer knows it (the server restarted, or its queue was cleared) before it finished. Run the command again to retry.`;
  if (job.status === 'cancelled') return `The job was cancelled${job.error ? `: ${job.error.message}` : '.'}`;
  return job.error?.message ?? `The job ended as ${job.status}.`;
}
