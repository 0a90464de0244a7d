import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Parameter, ParameterValues } from '@shared/domain/generation';
import { isFinished, type Job, type JobProgress } from '@shared/domain/job';
import { describeProgress, formatEta } from '@shared/format';
import { ComfyClient } from '../../core/comfy/comfy-client';
import { GenerationService } from '../../core/generation/generation-service';
import { StagedInputs } from '../../core/generation/staging';
import { HistoryStore } from '../../core/jobs/history-store';
import { JobService } from '../../core/jobs/job-service';
import { singleServerDirectory } from '../../core/jobs/server-directory';
import { AppError } from '../../core/lib/errors';
import { mediaTypeOf } from '../../core/lib/media-types';
import type { Logger } from '../../core/lib/logger';
import { parsePositiveInt, type CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { collectAssignments, parseSetValues } from '../parameter-flags';
import { cliLogger } from '../runtime';
import { parseServerUrl } from '../server-target';

interface RunFlags {
  server: string;
  prompt?: string;
  negative?: string;
  seed?: number;
  set: string[];
  input: string[];
  out?: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

const SERVER_ID = 'cli';

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

/** `comfydesk run FILE --server URL …`: queue a workflow, follow it, save its outputs. */
export function registerRun(program: Command, context: CommandContext): void {
  program
    .command('run')
    .description('run a workflow on a ComfyUI server, show its progress, and save its outputs')
    .argument('<file>', 'the workflow JSON file (UI or API format)')
    .requiredOption('--server <url>', "ComfyUI's address, e.g. http://127.0.0.1:8188", parseServerUrl)
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
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('--out <dir>', 'where to save the outputs (default: the current folder)')
    .option(
      '--timeout <seconds>',
      'give up if the server does not answer within this many seconds',
      parsePositiveInt,
      15,
    )
    .option(
      '--json',
      'print one JSON object per line per event (generation_started, generation_progress, generation_complete, generation_error, queue_updated)',
    )
    .option('-v, --verbose', 'log debug details to stderr')
    .action((file: string, flags: RunFlags) =>
      context.run(flags.json, () => run(context.io, resolve(context.io.cwd, file), flags)),
    );
}

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new CliError('--seed must be a whole number of 0 or more.', {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  return seed;
}

/** The values --prompt, --negative, --seed and --set stand for, checked against the workflow's parameters. */
function valuesFrom(flags: RunFlags, parameters: readonly Parameter[]): ParameterValues {
  const values: ParameterValues = {};
  const require = (kind: Parameter['kind'], flag: string): Parameter => {
    const parameter = parameters.find((candidate) => candidate.kind === kind);
    if (!parameter)
      throw new CliError(
        `This workflow has no ${kind.replace('_', ' ')} to set with ${flag}. Its parameters: ${parameters.map((item) => item.id).join(', ') || 'none'}.`,
        { code: 'parameter_invalid' },
      );
    return parameter;
  };
  if (flags.prompt !== undefined) values[require('prompt', '--prompt').id] = flags.prompt;
  if (flags.negative !== undefined) values[require('negative_prompt', '--negative').id] = flags.negative;
  if (flags.seed !== undefined) values[require('seed', '--seed').id] = flags.seed;
  return { ...values, ...parseSetValues(flags.set, parameters) };
}

/** Stages each --input file into the next media loader that takes its kind. */
function stageInputs(
  flags: RunFlags,
  io: CliIo,
  parameters: readonly Parameter[],
  staged: StagedInputs,
): ParameterValues {
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
      });
    const index = free.findIndex(
      (parameter) =>
        (parameter.constraints.media ?? parameter.kind) === media.kind ||
        (media.kind === 'image' && parameter.kind === 'mask'),
    );
    if (index < 0)
      throw new CliError(`This workflow has no ${media.kind} input left for ${path}.`, { code: 'invalid_input' });
    const [parameter] = free.splice(index, 1);
    let data: Buffer;
    try {
      data = readFileSync(full);
    } catch {
      throw new CliError(`Cannot read ${path}.`, { code: 'not_found' });
    }
    values[parameter!.id] = { staged: staged.stage(basename(full), media.mime, data).id };
  }
  return values;
}

/** One line per event, with the seed's event names and fields. */
function jsonEvent(io: CliIo, event: string, fields: Record<string, unknown>): void {
  writeJson(io, { event, ...fields });
}

/** A one-line progress bar on a terminal (stderr), redrawn in place. */
function drawBar(io: CliIo, progress: JobProgress): void {
  const width = 24;
  const filled = Math.round((progress.percent / 100) * width);
  const eta = formatEta(progress.etaSeconds);
  const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(progress.percent)).padStart(3)}%  ${describeProgress(progress)}${eta ? `  ${eta}` : ''}`;
  io.stderr.write(
    `\r\u001b[2K${line.slice(0, Math.max(20, ((io.stdout as { columns?: number }).columns ?? 100) - 1))}`,
  );
}

async function waitForSocket(client: ComfyClient, timeoutMs: number): Promise<void> {
  if (client.isSocketOpen) return;
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(
        new AppError(
          'comfy_timeout',
          `ComfyUI's event socket did not open within ${Math.round(timeoutMs / 1000)} s; is the address right and the server running?`,
        ),
      );
    }, timeoutMs);
    const off = client.on('open', () => {
      clearTimeout(timer);
      off();
      resolvePromise();
    });
  });
}

async function run(io: CliIo, file: string, flags: RunFlags): Promise<number> {
  const log: Logger = cliLogger(io, flags.verbose, 'run');
  const timeoutMs = flags.timeout * 1000;
  const client = new ComfyClient({ baseUrl: flags.server, log: log.child('comfy'), timeoutMs });
  const scratch = mkdtempSync(join(tmpdir(), 'comfydesk-run-'));
  const staged = new StagedInputs({ dir: join(scratch, 'staged') });
  const history = new HistoryStore({ file: ':memory:', log });
  const servers = singleServerDirectory(SERVER_ID, client, flags.server);
  const outputsDir = resolve(io.cwd, flags.out ?? '.');
  const jobs = new JobService({
    history,
    servers,
    staged,
    outputsDir: () => outputsDir,
    limits: () => ({ maxInFlightPerServer: 1, previewsPerSecond: 0 }),
    log: log.child('jobs'),
    historyWaitMs: timeoutMs,
  });
  try {
    // Fail fast and clearly when the server is not there, before reading the socket.
    await client.systemStats();
    client.connect();
    await waitForSocket(client, timeoutMs);
    const generation = new GenerationService({ servers, staged });
    const loaded = await generation.load({ file }, SERVER_ID);
    const values = { ...valuesFrom(flags, loaded.parameters), ...stageInputs(flags, io, loaded.parameters, staged) };
    const runs = generation.prepare(loaded, SERVER_ID, {
      values,
      count: 1,
      ...(flags.seed !== undefined ? { seedMode: 'fixed' as const } : {}),
    });
    await history.start();
    await jobs.start();

    const isTerminal = !flags.json && Boolean(io.stderr.isTTY);
    let jobId = '';
    let isRunning = false;
    const done = new Promise<Job>((resolvePromise) => {
      jobs.on('updated', (job) => {
        if (job.id !== jobId) return;
        // The job started: its status changed to running (once).
        if (flags.json && job.status === 'running' && !isRunning && job.promptId)
          jsonEvent(io, 'generation_started', { prompt_id: job.promptId });
        isRunning ||= job.status === 'running';
        if (isFinished(job.status)) resolvePromise(job);
      });
    });
    if (flags.json) {
      jobs.on('progress', ({ promptId, progress }) =>
        jsonEvent(io, 'generation_progress', {
          prompt_id: promptId,
          progress: Math.floor(progress.percent),
          node_name: progress.nodeTitle,
          step: progress.step,
          steps: progress.steps,
          eta: progress.etaSeconds,
        }),
      );
      jobs.on('queue', ({ running, pending }) => jsonEvent(io, 'queue_updated', { running, pending }));
    } else if (isTerminal) {
      jobs.on('progress', ({ progress }) => drawBar(io, progress));
    }
    [jobId] = jobs.enqueue(runs) as [string];
    if (!flags.json) writeLine(io.stderr, `Queued ${loaded.name} on ${flags.server}.`);

    const outcome = await Promise.race([done, io.interrupted.then(() => undefined)]);
    if (!outcome) {
      await jobs.cancel(jobId).catch(() => undefined);
      const cancelled = await Promise.race([
        done,
        new Promise<undefined>((resolvePromise) => setTimeout(() => resolvePromise(undefined), 5000)),
      ]);
      if (isTerminal) io.stderr.write('\n');
      throw new CliError(`Stopped: the job was cancelled${cancelled ? '' : ' (the server did not confirm in time)'}.`, {
        exitCode: ExitCode.interrupted,
        code: 'cancelled',
      });
    }
    if (isTerminal) io.stderr.write('\n');
    const saved = outcome.outputs
      .filter((output) => output.localPath)
      .map((output) => join(outputsDir, output.localPath!));
    if (outcome.status === 'succeeded') {
      if (flags.json)
        jsonEvent(io, 'generation_complete', {
          prompt_id: outcome.promptId,
          outputs: outcome.outputs.map((output) => ({
            ...output,
            ...(output.localPath ? { path: join(outputsDir, output.localPath) } : {}),
          })),
        });
      else {
        for (const path of saved) writeLine(io.stdout, path);
        for (const output of outcome.outputs)
          if (output.kind === 'text' && output.text !== undefined) writeLine(io.stdout, output.text);
      }
      if (saved.length < outcome.outputs.filter((output) => output.kind !== 'text').length) {
        writeLine(io.stderr, 'Some outputs could not be saved; they stay on the server until it restarts.');
        return ExitCode.failed;
      }
      return ExitCode.ok;
    }
    const reason =
      outcome.status === 'cancelled'
        ? `The job was cancelled${outcome.error ? `: ${outcome.error.message}` : '.'}`
        : (outcome.error?.message ?? `The job ended as ${outcome.status}.`);
    if (flags.json)
      jsonEvent(io, 'generation_error', { prompt_id: outcome.promptId, status: outcome.status, error: outcome.error });
    throw new CliError(reason, { code: outcome.status === 'cancelled' ? 'cancelled' : 'comfy_error' });
  } finally {
    await jobs.stop();
    await history.stop();
    client.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
