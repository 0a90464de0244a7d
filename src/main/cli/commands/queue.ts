import type { Command } from 'commander';
import { ComfyClient, type QueueItem } from '../../core/comfy/comfy-client';
import { AppError } from '../../core/lib/errors';
import { parsePositiveInt, type CommandContext } from '../command';
import { ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { cliLogger } from '../runtime';
import { parseServerUrl } from '../server-target';

interface ServerFlags {
  server: string;
  timeout: number;
  json?: boolean;
  verbose?: boolean;
}

function clientFor(io: CliIo, flags: ServerFlags, scope: string): ComfyClient {
  return new ComfyClient({
    baseUrl: flags.server,
    log: cliLogger(io, flags.verbose, scope),
    timeoutMs: flags.timeout * 1000,
  });
}

function describe(item: QueueItem): Record<string, unknown> {
  return {
    prompt_id: item.promptId,
    number: item.number,
    client_id: item.clientId ?? null,
    nodes: Object.keys(item.prompt).length,
  };
}

/** `comfydesk queue --server URL`: the server's whole queue, every client's jobs. */
export function registerQueue(program: Command, context: CommandContext): void {
  program
    .command('queue')
    .description("list the jobs running and waiting on a ComfyUI server (every client's)")
    .requiredOption('--server <url>', "ComfyUI's address, e.g. http://127.0.0.1:8188", parseServerUrl)
    .option(
      '--timeout <seconds>',
      'give up if the server does not answer within this many seconds',
      parsePositiveInt,
      10,
    )
    .option('--json', 'print {running, pending} as one JSON object')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((flags: ServerFlags) =>
      context.run(flags.json, async () => {
        const queue = await clientFor(context.io, flags, 'queue').getQueue();
        if (flags.json) {
          writeJson(context.io, { running: queue.running.map(describe), pending: queue.pending.map(describe) });
          return ExitCode.ok;
        }
        if (queue.running.length === 0 && queue.pending.length === 0) {
          writeLine(context.io.stdout, 'The queue is empty.');
          return ExitCode.ok;
        }
        for (const item of queue.running)
          writeLine(
            context.io.stdout,
            `running  ${item.promptId}  #${item.number}  ${item.clientId ?? '(no client id)'}`,
          );
        for (const item of queue.pending)
          writeLine(
            context.io.stdout,
            `pending  ${item.promptId}  #${item.number}  ${item.clientId ?? '(no client id)'}`,
          );
        return ExitCode.ok;
      }),
    );
}

/** `comfydesk cancel PROMPT_ID --server URL`: interrupt it if it runs, remove it if it waits. */
export function registerCancel(program: Command, context: CommandContext): void {
  program
    .command('cancel')
    .description(
      "cancel a job on a ComfyUI server: interrupt it if it is running, remove it if it is waiting (any client's)",
    )
    .argument('<prompt-id>', 'the prompt id (from `comfydesk queue` or `comfydesk run --json`)')
    .requiredOption('--server <url>', "ComfyUI's address, e.g. http://127.0.0.1:8188", parseServerUrl)
    .option(
      '--timeout <seconds>',
      'give up if the server does not answer within this many seconds',
      parsePositiveInt,
      10,
    )
    .option('--json', 'print {prompt_id, action} as JSON')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((promptId: string, flags: ServerFlags) =>
      context.run(flags.json, async () => {
        const client = clientFor(context.io, flags, 'cancel');
        const queue = await client.getQueue();
        const action: 'interrupted' | 'removed' | undefined = queue.running.some((item) => item.promptId === promptId)
          ? 'interrupted'
          : queue.pending.some((item) => item.promptId === promptId)
            ? 'removed'
            : undefined;
        // Targeted by prompt id (atomically on servers with the jobs API), so a job that started meanwhile is never hit.
        if (!action || !(await client.cancelJob(promptId))) {
          throw new AppError(
            'job_not_found',
            `${promptId} is neither running nor waiting on ${flags.server} (it may have finished already).`,
          );
        }
        if (flags.json) writeJson(context.io, { prompt_id: promptId, action });
        else
          writeLine(
            context.io.stdout,
            action === 'interrupted' ? `Interrupted ${promptId}.` : `Removed ${promptId} from the queue.`,
          );
        return ExitCode.ok;
      }),
    );
}
