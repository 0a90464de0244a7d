import type { WorkflowCard } from '@shared/domain/workflow';

/** What the Generate panel works against, as the page knows it. */
export interface GenerationTarget {
  /** The workflow chosen in the URL; undefined when none is. */
  workflowId: string | undefined;
  /** Its library card, when the library has it (undefined while loading or after it was deleted). */
  card: WorkflowCard | undefined;
  /** Whether the library has been read (so a missing card means the workflow is gone). */
  isLibraryLoaded: boolean;
  /** The default connection, and whether it is online. */
  serverId: string | null;
  isOnline: boolean;
  /** Why the server is not online, in the connection's words ("Connection refused … — is ComfyUI running?"). */
  serverProblem?: string;
  /** Whether the window is connected to ComfyDesk itself. */
  isLinkOpen: boolean;
}

export const EMPTY_TARGET: GenerationTarget = {
  workflowId: undefined,
  card: undefined,
  isLibraryLoaded: false,
  serverId: null,
  isOnline: false,
  isLinkOpen: false,
};

/** Why Generate is off because of the target alone (no workflow, no server, …); undefined when the target allows it. */
export function targetBlockedReason(target: GenerationTarget): string | undefined {
  if (!target.workflowId) return 'Select a workflow first.';
  if (!target.card)
    return target.isLibraryLoaded
      ? 'That workflow is no longer in your library. Pick another.'
      : 'Reading your workflows…';
  if (target.card.error) return `This file cannot be used: ${target.card.error.reason}`;
  if (!target.isLinkOpen) return 'ComfyDesk is reconnecting; Generate comes back when it is connected.';
  if (!target.serverId) return 'Add a ComfyUI server in Settings › Connections to generate.';
  if (!target.isOnline) return target.serverProblem ?? 'Connect to a ComfyUI server to generate.';
  return undefined;
}

/** What must differ for the form to be read again; undefined when it cannot be read now. */
export function loadKey(target: GenerationTarget): string | undefined {
  const { workflowId, card, serverId, isOnline, isLinkOpen } = target;
  if (!workflowId || !card || card.error || !serverId || !isOnline || !isLinkOpen) return undefined;
  const { compat } = card;
  return [
    workflowId,
    card.modifiedMs,
    serverId,
    compat.serverId,
    compat.status,
    compat.missing.length,
    compat.unknownNodeTypes.join(','),
  ].join('|');
}
