import type { ApiPrompt } from '@shared/domain/generation';
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
    isCached:
      outcome.status === 'succeeded' &&
      history !== undefined &&
      isFullyCached(history, entry.prompt, entry.outputClassTypes),
  });
}

/**
 * Whether ComfyUI answered a prompt from its cache: its history lists every output node of the
 * prompt under `execution_cached` (a cached output node means nothing it depends on ran either).
 * Without the server's output node types, every node of the prompt must be listed.
 */
export function isFullyCached(
  history: HistoryEntry,
  prompt: ApiPrompt,
  outputClassTypes: ReadonlySet<string> | undefined,
): boolean {
  const cached = new Set<string>();
  for (const message of history.status?.messages ?? []) {
    if (message[0] !== 'execution_cached') continue;
    const nodes = (message[1] as { nodes?: unknown }).nodes;
    if (Array.isArray(nodes)) for (const id of nodes) if (typeof id === 'string') cached.add(id);
  }
  if (cached.size === 0) return false;
  const ids = Object.keys(prompt);
  const outputs =
    outputClassTypes && outputClassTypes.size > 0
      ? ids.filter((id) => outputClassTypes.has(prompt[id]!.class_type))
      : ids;
  return outputs.length > 0 && outputs.every((id) => cached.has(id));
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
