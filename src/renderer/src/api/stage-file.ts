import { SERVE_UPLOAD_PATH, type ComfydeskBridge } from '@shared/bridge';
import { SerializedError } from '@shared/contract/errors';
import { StagedInput } from '@shared/domain/job';
import { ApiError, type ApiClient } from './client';

/**
 * Hands a file a person dropped or picked to the core for a run, and answers its handle. The file's
 * bytes never travel inside a message: the desktop app passes its path, serve mode uploads it.
 */
export type FileStager = (file: File, client: ApiClient, options: { timeoutMs: number }) => Promise<StagedInput>;

/**
 * The desktop app: the preload tells the file's path on disk (Electron's `webUtils.getPathForFile`)
 * and the core copies it from there. A file that has no path (pasted, or dragged from a web page)
 * cannot be taken this way, and the person is told how to use it instead.
 */
export function pathStager(bridge: Pick<ComfydeskBridge, 'pathForFile'>): FileStager {
  return async (file, client, { timeoutMs }) => {
    const path = bridge.pathForFile(file);
    if (!path) {
      throw new ApiError({
        code: 'invalid_input',
        userMessage: `${file.name || 'That file'} is not a file on this computer. Save it to a folder first, then drop or choose it from there.`,
      });
    }
    return client.call('generation.stageFile', { path }, { timeoutMs });
  };
}

/**
 * Serve mode: the file is sent as the body of `POST /upload` with the page's token, streamed by the
 * browser; the answer is the staged file's handle, or the core's error in the contract's shape.
 */
export function uploadStager(options: { origin: string; token: string; fetch?: typeof fetch }): FileStager {
  const send = options.fetch ?? ((input, init) => fetch(input, init));
  return async (file, _client, { timeoutMs }) => {
    const name = file.name || 'input';
    let response: Response;
    try {
      response = await send(`${options.origin}${SERVE_UPLOAD_PATH}?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        body: file,
        headers: { Authorization: `Bearer ${options.token}`, 'Content-Type': file.type || 'application/octet-stream' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new ApiError({
        code: timedOut ? 'timeout' : 'disconnected',
        userMessage: timedOut
          ? `${name} took longer than ${Math.round(timeoutMs / 1000)} s to send. Try again, or use a smaller file.`
          : `${name} could not be sent to ComfyDesk (the connection failed). Try again in a moment.`,
      });
    }
    const text = await response.text();
    const body = parseJson(text);
    if (response.ok) {
      const staged = StagedInput.safeParse(body);
      if (staged.success) return staged.data;
      throw new ApiError({
        code: 'invalid_output',
        userMessage: 'ComfyDesk answered the upload in a way this page does not understand. Reload the page.',
      });
    }
    const error = SerializedError.safeParse(body);
    if (error.success) throw new ApiError(error.data);
    throw new ApiError({
      code: response.status === 401 ? 'invalid_input' : 'internal',
      userMessage: text.trim() || `ComfyDesk refused ${name} (HTTP ${response.status}).`,
    });
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
