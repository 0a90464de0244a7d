import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { IPC_COMMAND_CHANNEL, IPC_EVENT_CHANNEL, type ComfydeskBridge } from '../shared/bridge';
import type { RequestEnvelope } from '../shared/protocol';

// The whole preload: one frozen object under one global. It moves envelopes and validates nothing;
// the main process validates what it receives and the renderer validates what comes back. The one
// extra is a dropped file's path, which only the preload can read (files are staged by path).
const bridge: ComfydeskBridge = Object.freeze({
  invoke: (envelope: RequestEnvelope) => ipcRenderer.invoke(IPC_COMMAND_CHANNEL, envelope),
  subscribe: (listener: (message: unknown) => void) => {
    const handler = (_event: IpcRendererEvent, message: unknown) => listener(message);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
  pathForFile: (file: File) => webUtils.getPathForFile(file),
});

contextBridge.exposeInMainWorld('comfydesk', bridge);
