import type { JobError } from '@shared/domain/job';
import type { HistoryEntry, NodeErrors } from '../comfy/messages';
import type { StagedUpload } from '../generation/generation-service';
import type { AppError } from '../lib/errors';
import type { JobOutcome } from './job-entry';

/** How a job names a staged input file that is gone (jobs recorded before names were kept say less). */
export function missingInput(upload: StagedUpload): string {
  return `${upload.name ? `its input file ${upload.name}` : 'one of its input files'} is no longer kept by ComfyDesk`;
}

/** ComfyUI's per-node validation messages in one line, under the titles the person gave the nodes. */
export function describeNodeErrors(nodeErrors: NodeErrors, titles: Record<string, string>): string {
  return Object.entries(nodeErrors)
    .flatMap(([nodeId, node]) =>
      node.errors.map(
        (item) => `${titles[nodeId] ?? node.class_type}: ${item.message}${item.details ? ` (${item.details})` : ''}`,
      ),
    )
    .slice(0, 5)
    .join('; ');
}

/** A rejected prompt as a job error, with each node's messages under its title. */
export function rejectionError(error: AppError, titles: Record<string, string>): JobError {
  const details = error.details as { error?: { type?: string; message?: string }; nodeErrors?: NodeErrors } | undefined;
  const nodeErrors = Object.entries(details?.nodeErrors ?? {}).map(([nodeId, node]) => ({
    nodeId,
    nodeTitle: titles[nodeId] ?? node.class_type,
    messages: node.errors.map((item) => `${item.message}${item.details ? ` — ${item.details}` : ''}`),
  }));
  const first = nodeErrors[0];
  const message = first
    ? `${first.nodeTitle}: ${first.messages.join('; ')}${nodeErrors.length > 1 ? ` (and ${nodeErrors.length - 1} more node${nodeErrors.length > 2 ? 's' : ''})` : ''}`
    : (details?.error?.message ?? error.userMessage);
  return {
    message: `ComfyUI refused the prompt — ${message}`,
    ...(details?.error?.type ? { type: details.error.type } : {}),
    ...(first ? { nodeId: first.nodeId, nodeTitle: first.nodeTitle } : {}),
    ...(nodeErrors.length > 0 ? { nodeErrors } : {}),
  };
}

/** A run-time failure in ComfyUI's own words, under the failing node's title. */
export function executionError(
  data: { node_id: string; node_type: string; exception_message: string; exception_type: string },
  titles: Record<string, string>,
): JobError {
  return {
    message: data.exception_message.trim() || data.exception_type,
    type: data.exception_type,
    nodeId: data.node_id,
    nodeTitle: titles[data.node_id] ?? data.node_type,
  };
}

/** Another client (or ComfyUI itself) interrupted the run; a cancel of ours carries no error. */
export function interruptedError(nodeId: string | undefined, titles: Record<string, string>): JobError {
  return {
    message: 'The run was interrupted on the server (by another client or ComfyUI itself).',
    ...(nodeId ? { nodeId, nodeTitle: titles[nodeId] } : {}),
  };
}

/** Why a job the server no longer knows is lost, and that Retry runs it again. */
export function lostError(serverLabel: string): JobError {
  return {
    message: `${serverLabel} no longer knows this job — it may have restarted, or someone cleared its queue. Your settings are kept: press Retry to run it again.`,
  };
}

/** How a prompt ended, from its history entry (protocol doc §4.3–4.4). */
export function outcomeOf(history: HistoryEntry, titles: Record<string, string>): JobOutcome | undefined {
  const status = history.status;
  if (!status) return undefined;
  if (status.status_str === 'success' && status.completed) return { status: 'succeeded' };
  const last = [...status.messages]
    .reverse()
    .find((message) => message[0] === 'execution_error' || message[0] === 'execution_interrupted');
  if (last?.[0] === 'execution_interrupted') {
    const data = last[1] as { node_id?: string };
    return { status: 'cancelled', error: interruptedError(data.node_id, titles) };
  }
  if (last?.[0] === 'execution_error') {
    const data = last[1] as { node_id: string; node_type: string; exception_message: string; exception_type: string };
    return { status: 'failed', error: executionError(data, titles) };
  }
  return status.status_str === 'success'
    ? { status: 'succeeded' }
    : { status: 'failed', error: { message: 'ComfyUI reported an error without details.' } };
}
