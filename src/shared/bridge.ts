import type { RequestEnvelope } from './protocol';

// Bridge constants and the preload's shape. Kept apart from protocol.ts so the preload bundles
// no zod: type imports vanish at build time, and nothing else here has dependencies.

/** IPC channel names: exactly two, no per-command channels. */
export const IPC_COMMAND_CHANNEL = 'comfydesk:command';
export const IPC_EVENT_CHANNEL = 'comfydesk:event';

/** WebSocket path of serve mode. */
export const WS_PATH = '/ws';

/**
 * The one object the Electron preload exposes as `window.comfydesk`. It carries envelopes (and
 * tells a dropped file's path) and nothing else: no domain code, no validation, so it stays tiny
 * under `sandbox: true`.
 */
export interface ComfydeskBridge {
  invoke(envelope: RequestEnvelope): Promise<unknown>;
  subscribe(listener: (message: unknown) => void): () => void;
  /**
   * The path on disk of a file the person dropped or picked (Electron's `webUtils.getPathForFile`),
   * or '' when it has none; files are staged by path, never sent as bytes in a message.
   */
  pathForFile(file: File): string;
}

/** The Electron scheme that serves generated outputs to the window (`comfydesk-media://outputs/<path>`). */
export const MEDIA_SCHEME = 'comfydesk-media';
/** The path under which serve mode serves generated outputs. */
export const SERVE_MEDIA_PREFIX = '/media/';
/**
 * Where serve mode takes input files for a run: `POST /upload?name=<file name>` with the file as the
 * body, its type as Content-Type and `Authorization: Bearer <token>`; answers the staged file's handle.
 */
export const SERVE_UPLOAD_PATH = '/upload';
