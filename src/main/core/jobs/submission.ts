import { randomUUID } from 'node:crypto';
import type { NoticeCenter } from '../app/notice-center';
import type { ComfyClient } from '../comfy/comfy-client';
import { outputNodeTypes } from '../comfy/object-info';
import type { StagedInputs } from '../generation/staging';
import { isAppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import type { JobBook } from './job-book';
import { trackerFor, type Entry } from './job-entry';
import { describeNodeErrors, missingInput, rejectionError } from './job-errors';
import { withInputs } from './prompt-helpers';

/** What sending one job to one server needs. */
export interface SubmitContext {
  client: ComfyClient;
  book: JobBook;
  history: HistoryStore;
  staged: StagedInputs;
  log: Logger;
  notices?: NoticeCenter;
  now: () => number;
  /** Aborted when ComfyDesk stops: what was recorded stays as it is, for the next start to reconcile. */
  signal: AbortSignal;
  /** How long after an unanswered send a server that does not know the prompt means it never arrived. */
  unconfirmedGraceMs: number;
  /** Ask the server what it knows (after an unanswered send). */
  reconcileSoon: () => void;
}

/** Errors that mean the server could not be reached or did not answer in time. */
const UNREACHABLE = new Set([
  'comfy_unreachable',
  'comfy_timeout',
  'comfy_offline',
  'tunnel_dropped',
  'comfy_http_error',
]);

/**
 * Uploads a held job's files and queues its prompt. The prompt id is written to the history before
 * POST /prompt goes out, so a job whose answer never came (ComfyDesk killed, a timeout, a dropped
 * tunnel) is found on the server by that id and never sent again under a new one.
 *
 * Returns false when the held queue should not go on releasing to this server for now (it could not
 * be reached, or a send is unconfirmed); true otherwise, whatever became of the job.
 */
export async function submitEntry(ctx: SubmitContext, entry: Entry): Promise<boolean> {
  const { client, book } = ctx;
  entry.isSubmitting = true;
  try {
    for (const upload of [...entry.uploads]) {
      if (!ctx.staged.has(upload.stagedId)) {
        book.finish(entry, {
          status: 'failed',
          error: {
            message: `Not sent: ${missingInput(upload)}, and the job does not run without it. Add the file again and generate it anew.`,
          },
        });
        return true;
      }
      const file = ctx.staged.read(upload.stagedId);
      const result = await client.uploadImage({ data: file.data, filename: file.name }, { signal: ctx.signal });
      const name = result.subfolder ? `${result.subfolder}/${result.name}` : result.name;
      entry.prompt = withInputs(entry.prompt, upload.targets, name);
      entry.uploads = entry.uploads.filter((item) => item !== upload);
      entry.uploaded = [...(entry.uploaded ?? []), upload];
    }
    if (entry.isCancelRequested) {
      book.finish(entry, { status: 'cancelled' }); // nothing was sent
      return true;
    }
    // Before sending: the server may start it (and report on the socket) before it answers.
    await startTracking(ctx, entry);
    const promptId = entry.job.promptId ?? randomUUID();
    entry.job = { ...entry.job, promptId };
    entry.sentAt = ctx.now();
    entry.confirmAfter = undefined;
    try {
      book.persistOrThrow(entry);
    } catch (error) {
      entry.sentAt = undefined;
      const reason = isAppError(error) ? error.userMessage : 'the history database could not be written';
      ctx.log.error('job not sent: its prompt id could not be recorded first', { jobId: entry.job.id, error });
      book.finish(entry, {
        status: 'failed',
        error: {
          message: `Not sent, because it could not be recorded first: ${reason} Press Retry when that is fixed.`,
        },
      });
      return true;
    }
    const queued = await client.queuePrompt(
      { prompt: entry.prompt, promptId, extraData: { extra_pnginfo: { workflow: entry.sourceWorkflow } } },
      { signal: ctx.signal },
    );
    entry.number = queued.number;
    if (Object.keys(queued.nodeErrors).length > 0) {
      ctx.notices?.raise(
        'warning',
        `${entry.job.workflowName}: some outputs were left out because ComfyUI rejected them — ${describeNodeErrors(queued.nodeErrors, entry.titles)}`,
      );
    }
    book.markQueued(entry);
    if (entry.isCancelRequested) {
      await client.deleteFromQueue([promptId]).catch(() => undefined);
      await client.interrupt(promptId).catch(() => undefined);
      book.finish(entry, { status: 'cancelled' });
    }
    return true;
  } catch (error) {
    // Stopping: leave the record as it is; the next start reconciles a prompt that may have been sent.
    if (ctx.signal.aborted) return false;
    if (isAppError(error) && error.code === 'comfy_invalid_prompt') {
      entry.sentAt = undefined; // refused: it is not on the server
      book.finish(entry, { status: 'failed', error: rejectionError(error, entry.titles) });
      return true;
    }
    const message = isAppError(error)
      ? error.userMessage
      : 'The job could not be sent to ComfyUI; the log has details.';
    if (entry.sentAt === undefined) {
      if (isAppError(error) && UNREACHABLE.has(error.code)) {
        ctx.log.warn('server unreachable while preparing a job; it stays held', { jobId: entry.job.id, error });
        return false;
      }
      if (!isAppError(error)) ctx.log.error('submit failed', { jobId: entry.job.id, error });
      book.finish(entry, { status: 'failed', error: { message } });
      return true;
    }
    // The request went out but no answer came back: the prompt may be on the server. It is asked
    // first; only if it does not know the prompt is it sent again, under the same id.
    ctx.log.warn('no answer to POST /prompt; asking the server before sending again', { jobId: entry.job.id, error });
    entry.confirmAfter = ctx.now() + ctx.unconfirmedGraceMs;
    entry.lastSendError = message;
    ctx.reconcileSoon();
    return false;
  } finally {
    entry.isSubmitting = false;
  }
}

/**
 * Builds the job's progress tracker from the server's output classes (a job restored after a
 * restart learns them here). Without node definitions the job runs on without progress.
 */
export async function startTracking(
  ctx: Pick<SubmitContext, 'client' | 'history' | 'now' | 'signal'>,
  entry: Entry,
): Promise<void> {
  if (entry.tracker) return;
  if (!entry.outputClassTypes) {
    try {
      entry.outputClassTypes = outputNodeTypes((await ctx.client.getObjectInfo({ signal: ctx.signal })).objectInfo);
    } catch {
      return;
    }
  }
  if (entry.tracker) return;
  entry.tracker = trackerFor(entry, entry.outputClassTypes, { history: ctx.history, now: ctx.now });
  if (entry.job.startedAt !== null) entry.tracker.started(entry.job.startedAt);
}
