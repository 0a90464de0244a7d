import type { ComfyEvent } from '../comfy/messages';
import type { Emitter } from '../lib/emitter';
import type { JobBook, JobServiceEvents } from './job-book';
import type { Entry } from './job-entry';
import { executionError, interruptedError } from './job-errors';
import { collectOutputs } from './outputs';

/** What the socket events of one server act on: that server's attachment. */
export interface SocketEventTarget {
  readonly serverId: string;
  readonly book: JobBook;
  readonly emitter: Emitter<JobServiceEvents>;
  previewsPerSecond(): number;
  now(): number;
  /** Our job the server runs now, for events that carry no prompt id (legacy previews, reconnect replays). */
  runningOn(): Entry | undefined;
  setRunningPrompt(promptId: string | undefined): void;
  /** A reconnect replay named the node running now (protocol doc §3.6). */
  replayed(nodeId: string): void;
  /** The server's queue changed: read /queue again soon. */
  queueChanged(): void;
  /** The prompt ended: read its history, save its outputs, end the job. */
  finalize(entry: Entry): void;
}

/**
 * Drives our jobs from one server's socket messages (protocol doc §3.3–3.4): running, per-node
 * progress into the job's tracker, previews (rate-limited), and how the prompt ended. Messages of
 * prompts that are not ours are ignored; other clients' jobs come from /queue.
 */
export function handleSocketEvent(target: SocketEventTarget, event: ComfyEvent): void {
  const { book } = target;
  const byPrompt = (promptId: string | null | undefined) => book.byPrompt(target.serverId, promptId);
  switch (event.type) {
    case 'status':
      target.queueChanged();
      return;
    case 'execution_start': {
      target.setRunningPrompt(event.data.prompt_id);
      const entry = byPrompt(event.data.prompt_id);
      if (entry) book.markRunning(entry);
      target.queueChanged();
      return;
    }
    case 'execution_cached': {
      const entry = byPrompt(event.data.prompt_id);
      if (!entry) return;
      entry.tracker?.cached(event.data.nodes);
      book.emitProgress(entry);
      return;
    }
    case 'executing': {
      const { node, prompt_id: promptId } = event.data;
      if (!promptId) {
        // A replay after (re)connecting: only the node, for the prompt of our client id running now.
        if (node !== null) target.replayed(node);
        return;
      }
      const entry = byPrompt(promptId);
      if (!entry) return;
      if (node === null) {
        target.finalize(entry);
        return;
      }
      book.markRunning(entry);
      entry.tracker?.executing(node);
      book.emitProgress(entry);
      return;
    }
    case 'progress': {
      const entry = byPrompt(event.data.prompt_id) ?? target.runningOn();
      if (!entry) return;
      book.markRunning(entry);
      entry.tracker?.progress(event.data.node ?? null, event.data.value, event.data.max);
      book.emitProgress(entry);
      return;
    }
    case 'progress_state': {
      const entry = byPrompt(event.data.prompt_id);
      if (!entry) return;
      entry.tracker?.nodeStates(event.data.nodes);
      book.emitProgress(entry);
      return;
    }
    case 'executed': {
      const entry = byPrompt(event.data.prompt_id);
      if (!entry) return;
      entry.tracker?.executed(event.data.node);
      entry.liveOutputs.push(...collectOutputs({ [event.data.node]: event.data.output }));
      book.emitProgress(entry);
      return;
    }
    case 'execution_success': {
      const entry = byPrompt(event.data.prompt_id);
      if (entry) entry.outcome = { status: 'succeeded' };
      return;
    }
    case 'execution_error': {
      // An "ExecutionBlocked" message without a timestamp is not the end of the prompt.
      if (event.data.exception_type === 'ExecutionBlocked' && event.data.timestamp === undefined) return;
      const entry = byPrompt(event.data.prompt_id);
      if (entry) entry.outcome = { status: 'failed', error: executionError(event.data, entry.titles) };
      return;
    }
    case 'execution_interrupted': {
      const entry = byPrompt(event.data.prompt_id);
      if (entry) entry.outcome = { status: 'cancelled', error: interruptedError(event.data.node_id, entry.titles) };
      return;
    }
    case 'preview': {
      const entry = byPrompt(event.data.metadata?.prompt_id) ?? target.runningOn();
      if (!entry?.job.promptId) return;
      const perSecond = target.previewsPerSecond();
      const now = target.now();
      if (perSecond <= 0 || now - entry.lastPreviewAt < 1000 / perSecond) return;
      entry.lastPreviewAt = now;
      target.emitter.emit('preview', {
        jobId: entry.job.id,
        promptId: entry.job.promptId,
        mime: event.data.mime,
        dataUrl: `data:${event.data.mime};base64,${event.data.bytes.toString('base64')}`,
        nodeId: event.data.metadata?.node_id ?? entry.tracker?.snapshot().nodeId ?? null,
      });
      return;
    }
    default:
      return;
  }
}
