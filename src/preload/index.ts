import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_COMMAND_CHANNEL, IPC_EVENT_CHANNEL, type ComfydeskBridge } from '../shared/bridge';
import type { RequestEnvelope } from '../shared/protocol';

// The whole preload: one frozen object under one global. It moves envelopes and validates nothing;
// the main process validates what it receives and the renderer validates what comes back.
const bridge: ComfydeskBridge = Object.freeze({
  invoke: (envelope: RequestEnvelope) => ipcRenderer.invoke(IPC_COMMAND_CHANNEL, envelope),
  subscribe: (listener: (message: unknown) => void) => {
    const handler = (_event: IpcRendererEvent, message: unknown) => listener(message);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
});

contextBridge.exposeInMainWorld('comfydesk', bridge);
