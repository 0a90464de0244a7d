import type { MissingModelEntry, TransferItem, TransferMethod } from '@shared/domain/transfer';
import { formatBytes, formatEta } from '@shared/format';

/** A transfer's state in a word or two. */
export const STATE_WORDS: Record<TransferItem['state'], string> = {
  queued: 'Waiting to start',
  waiting: 'Waiting',
  running: 'Downloading',
  paused: 'Paused',
  verifying: 'Checking',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** How the file gets there, for a row's small print. */
export const METHOD_WORDS: Record<TransferMethod, string> = {
  local: 'into the folder on this computer',
  ssh: 'downloaded on the server over SSH',
  sftp: 'streamed to the server over SFTP',
  manager: 'by ComfyUI-Manager on the server',
  manual: 'by hand on the server',
};

/** Where a model's address came from. */
export const SOURCE_WORDS: Record<MissingModelEntry['source'], string> = {
  workflow: 'from the workflow',
  note: "from the workflow's notes",
  catalog: 'from the model catalog',
  user: 'from an address you gave',
  none: 'no known source',
};

/** "1.2 GB of 2.6 GB · 35 MB/s · ~40 s left", or what is known of it. */
export function progressText(item: TransferItem): string {
  if (item.kind === 'pack') return item.note ?? STATE_WORDS[item.state];
  const parts = [
    item.totalBytes
      ? `${formatBytes(item.receivedBytes)} of ${formatBytes(item.totalBytes)}`
      : formatBytes(item.receivedBytes),
  ];
  if (item.state === 'running' && item.bytesPerSecond > 0) parts.push(`${formatBytes(item.bytesPerSecond)}/s`);
  const eta = item.state === 'running' ? formatEta(item.etaSeconds) : undefined;
  if (eta) parts.push(eta);
  return parts.join(' · ');
}

/** 0–100 when the size is known. */
export function percentOf(item: TransferItem): number | null {
  if (item.state === 'done') return 100;
  return item.totalBytes ? Math.min(100, (item.receivedBytes / item.totalBytes) * 100) : null;
}

/** "Get missing (3 models, 8.2 GB)". */
export function getMissingLabel(
  missingCount: number,
  sizeBytes: number | null,
  isSizeComplete: boolean,
  packCount: number,
): string {
  const parts: string[] = [];
  if (missingCount > 0) parts.push(`${missingCount} model${missingCount === 1 ? '' : 's'}`);
  if (missingCount > 0 && sizeBytes !== null) parts.push(`${isSizeComplete ? '' : '≥ '}${formatBytes(sizeBytes)}`);
  if (missingCount === 0 && packCount > 0) parts.push('custom nodes');
  return parts.length > 0 ? `Get missing (${parts.join(', ')})` : 'Get missing';
}
