import type { ServerInventory } from '@shared/domain/inventory';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import type { InventorySource } from '../workflows/ports';
import type { ConnectionManager } from './connection-manager';

/**
 * The inventory the workflow library checks against: the default server's, while it is online.
 * When the server goes offline or another one becomes the default, cards say so instead of
 * showing a stale "Ready".
 */
export class ActiveInventorySource implements InventorySource {
  readonly #connections: ConnectionManager;
  readonly #emitter = new Emitter<{ changed: ServerInventory | undefined }>();
  readonly #off: Unsubscribe[];
  #last: ServerInventory | undefined;

  constructor(connections: ConnectionManager) {
    this.#connections = connections;
    this.#last = this.current();
    const check = () => {
      const next = this.current();
      if (next === this.#last) return;
      this.#last = next;
      this.#emitter.emit('changed', next);
    };
    this.#off = [connections.on('inventory', check), connections.on('health', check), connections.on('changed', check)];
  }

  current(): ServerInventory | undefined {
    const id = this.#connections.activeId;
    if (!id || this.#connections.health(id).state !== 'online') return undefined;
    return this.#connections.inventory(id);
  }

  on(event: 'changed', listener: (inventory: ServerInventory | undefined) => void): Unsubscribe {
    return this.#emitter.on(event, listener);
  }

  dispose(): void {
    for (const off of this.#off) off();
  }
}
