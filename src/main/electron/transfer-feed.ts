import type { TransferItem } from '@shared/domain/transfer';
import type { Core } from '../core/create-core';
import type { Unsubscribe } from '../core/lib/emitter';

/**
 * Keeps the current transfers from the core's events for the tray and taskbar, passing them on at
 * most every `intervalMs` (the core already coalesces progress to ten a second; the tray needs a few).
 */
export function feedTransfers(
  core: Pick<Core, 'events' | 'transfers'>,
  onItems: (items: TransferItem[]) => void,
  options: { intervalMs?: number } = {},
): Unsubscribe {
  const intervalMs = options.intervalMs ?? 500;
  const items = new Map(core.transfers.list().items.map((item) => [item.id, item]));
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    onItems([...items.values()]);
  };
  const off = core.events.on('transfers.updated', (delta) => {
    for (const item of delta.items) items.set(item.id, item);
    for (const id of delta.removed) items.delete(id);
    if (timer) return;
    timer = setTimeout(flush, intervalMs);
    timer.unref?.();
  });
  flush();
  return () => {
    clearTimeout(timer);
    off();
  };
}
