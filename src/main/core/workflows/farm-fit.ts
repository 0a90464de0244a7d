import type { ServerInventory } from '@shared/domain/inventory';
import type { FarmFit, WorkflowRecord } from '@shared/domain/workflow';
import { modelState, prepareInventory } from './compatibility';

/**
 * On how many of the servers used for generation each workflow can run: servers whose inventory has
 * every node type and model file it uses. A server not online (no inventory) counts in the total only.
 */
export function farmFit(
  records: readonly WorkflowRecord[],
  inventories: ReadonlyArray<ServerInventory | undefined>,
): FarmFit {
  const prepared = inventories.flatMap((inventory) => (inventory ? [prepareInventory(inventory)] : []));
  const ready: Record<string, number> = {};
  for (const record of records) {
    if (record.error) continue;
    ready[record.id] = prepared.filter(
      (inventory) =>
        record.nodeTypes.every((type) => inventory.nodeTypes.has(type)) &&
        record.models.every((model) => modelState(model, inventory) !== 'missing'),
    ).length;
  }
  return { total: inventories.length, ready };
}
