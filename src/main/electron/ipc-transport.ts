import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { EventMap } from '@shared/contract/events';
import { IPC_COMMAND_CHANNEL, IPC_EVENT_CHANNEL, type EventEnvelope, type ResponseEnvelope } from '@shared/protocol';
import type { Emitter } from '../core/lib/emitter';
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
 */
export function bindIpcTransport(deps: IpcTransportDeps): () => void {
  const { ipcMain, router, events, log } = deps;

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
    return router.handle(message, { clientId: `window-${event.sender.id}`, transport: 'ipc' });
  });

  const unsubscribe = events.onAny((event, payload) => {
    const envelope: EventEnvelope = { kind: 'event', event, payload };
    for (const contents of deps.targets()) {
      if (!contents.isDestroyed()) contents.send(IPC_EVENT_CHANNEL, envelope);
    }
  });

  return () => {
    unsubscribe();
    ipcMain.removeHandler(IPC_COMMAND_CHANNEL);
  };
}
