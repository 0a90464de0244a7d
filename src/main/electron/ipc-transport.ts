import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { EventMap } from '@shared/contract/events';
import { IPC_COMMAND_CHANNEL, IPC_EVENT_CHANNEL, type EventEnvelope, type ResponseEnvelope } from '@shared/protocol';
import type { Emitter } from '../core/lib/emitter';
import { Outbox } from '../core/lib/outbox';
import type { Logger } from '../core/lib/logger';
import type { Router } from '../core/router';

export interface IpcTransportDeps {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  router: Router;
  events: Emitter<EventMap>;
  /** The windows that receive events (our own, never anything else). */
  targets: () => WebContents[];
  /** True only for our own page in a top-level frame: assume any other sender is hostile. */
  isTrustedSender: (event: IpcMainInvokeEvent) => boolean;
  log: Logger;
}

/**
 * The Electron IPC transport: one invoke channel for every command, one send channel for every
 * event. Envelopes go to the same router serve mode uses; only the sender check is IPC-specific.
 * A message on the event channel holds one envelope or, when events come faster than one a display
 * frame, an array of them in order (see Outbox); what waits goes out before any response.
 */
export function bindIpcTransport(deps: IpcTransportDeps): () => void {
  const { ipcMain, router, events, log } = deps;

  // A window's outbox is dropped the first time it finds the window gone.
  const outboxes = new Map<WebContents, Outbox<EventEnvelope>>();
  const outboxOf = (contents: WebContents): Outbox<EventEnvelope> => {
    let outbox = outboxes.get(contents);
    if (!outbox) {
      const created = new Outbox<EventEnvelope>({
        send: (batch) => {
          if (!contents.isDestroyed()) contents.send(IPC_EVENT_CHANNEL, batch.length === 1 ? batch[0] : batch);
          else {
            created.close();
            outboxes.delete(contents);
          }
        },
      });
      outbox = created;
      outboxes.set(contents, created);
    }
    return outbox;
  };

  ipcMain.handle(IPC_COMMAND_CHANNEL, async (event, message: unknown): Promise<ResponseEnvelope> => {
    if (!deps.isTrustedSender(event)) {
      log.warn('ipc message from an untrusted frame refused', { url: event.senderFrame?.url });
      return {
        kind: 'response',
        id: '',
        ok: false,
        error: { code: 'invalid_message', userMessage: 'This page is not allowed to talk to ComfyDesk.' },
      };
    }
    const response = await router.handle(message, { clientId: `window-${event.sender.id}`, transport: 'ipc' });
    // The events that came before the answer reach the window before it.
    outboxes.get(event.sender)?.flush();
    return response;
  });

  const unsubscribe = events.onAny((event, payload) => {
    const envelope: EventEnvelope = { kind: 'event', event, payload };
    for (const contents of deps.targets()) {
      if (!contents.isDestroyed()) outboxOf(contents).push(envelope);
    }
  });

  return () => {
    unsubscribe();
    ipcMain.removeHandler(IPC_COMMAND_CHANNEL);
    for (const outbox of outboxes.values()) outbox.close();
    outboxes.clear();
  };
}
