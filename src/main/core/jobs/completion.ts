import { setTimeout as delay } from 'node:timers/promises';
import type { NoticeCenter } from '../app/notice-center';
import type { ComfyClient } from '../comfy/comfy-client';
import type { HistoryEntry } from '../comfy/messages';
import { isAppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { JobBook } from './job-book';
import type { Entry } from './job-entry';
import { outcomeOf } from './job-errors';
import { collectOutputs, saveOutputs } from './outputs';

/** What ending one job on one server needs. */
export interface CompletionContext {
  client: ComfyClient;
  book: JobBook;
  /** Where outputs are saved (read at save time, so a settings change applies to the next job). */
  outputsDir: () => string;
  log: Logger;
  notices?: NoticeCenter;
  now: () => number;
  /** Aborted when ComfyDesk stops: the job is left as recorded, and the next start finishes it from /history. */
  signal: AbortSignal;
  /** How long to wait for ComfyUI to write a finished prompt's history. */
  historyWaitMs: number;
  /** The server knows nothing of the prompt's end. */
  markLost: (entry: Entry) => void;
}

/**
 * Ends a job whose prompt finished: reads its history (waiting a moment, as ComfyUI writes it just
 * before `executing null`), takes the outcome from there (else from the socket), downloads its
 * outputs into the outputs folder and records the end.
 */
export async function finalizeEntry(ctx: CompletionContext, entry: Entry, known?: HistoryEntry): Promise<void> {
  const { book } = ctx;
  const promptId = entry.job.promptId;
  const history = known ?? (promptId ? await waitForHistory(ctx, promptId) : undefined);
  if (ctx.signal.aborted) return;
  const outcome = (history ? outcomeOf(history, entry.titles) : undefined) ?? entry.outcome;
  if (!outcome) {
    ctx.markLost(entry);
    return;
  }
  const listed = history ? collectOutputs(history.outputs) : entry.liveOutputs;
  let outputs = listed;
  if (listed.length > 0) {
    const saved = await saveOutputs({
      client: ctx.client,
      outputs: listed,
      outputsDir: ctx.outputsDir(),
      workflowName: entry.job.workflowName,
      now: new Date(ctx.now()),
      signal: ctx.signal,
    });
    if (ctx.signal.aborted) return;
    outputs = saved.outputs;
    if (saved.failure !== undefined) {
      const reason = isAppError(saved.failure) ? saved.failure.userMessage : 'a download failed';
      ctx.notices?.raise(
        'warning',
        `${entry.job.workflowName}: not every output could be saved (${reason}). They stay on the server until it restarts.`,
      );
      ctx.log.warn('saving outputs failed', { jobId: entry.job.id, error: saved.failure });
    }
  }
  entry.tracker?.finish();
  book.finish(entry, {
    status: outcome.status,
    error: outcome.error,
    outputs,
    progress: outcome.status === 'succeeded' ? (entry.tracker?.snapshot() ?? null) : entry.job.progress,
  });
}

/** ComfyUI writes history just before `executing null`; allow a moment if it is not there yet. */
async function waitForHistory(ctx: CompletionContext, promptId: string): Promise<HistoryEntry | undefined> {
  const deadline = ctx.now() + ctx.historyWaitMs;
  for (;;) {
    const entry = await ctx.client.getHistory(promptId, { signal: ctx.signal }).catch(() => undefined);
    if (entry) return entry;
    if (ctx.signal.aborted || ctx.now() >= deadline) return undefined;
    await delay(150, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}
