import type { ComfydeskBridge } from '@shared/bridge';
import { WS_PATH } from '@shared/bridge';
import { ApiClient } from './client';
import { createIpcTransport } from './ipc-transport';
import { pathStager, uploadStager } from './stage-file';
import { createWsTransport } from './ws-transport';

declare global {
  interface Window {
    comfydesk?: ComfydeskBridge;
  }
}

export { ApiClient, ApiError, errorMessage } from './client';
export type { LinkState } from './transport';

const TOKEN_KEY = 'comfydesk.token';

/** The serve-mode token: from the page URL, remembered for this tab so a reload keeps working. */
export function serveToken(location: Location, storage: Storage): string | undefined {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl;
  }
  return storage.getItem(TOKEN_KEY) ?? undefined;
}

/** Picks the transport once at startup: the preload's bridge in Electron, else serve mode's socket. */
export function createApi(): ApiClient {
  if (window.comfydesk)
    return new ApiClient(createIpcTransport(window.comfydesk), { stageFile: pathStager(window.comfydesk) });
  const token = serveToken(window.location, window.sessionStorage) ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${window.location.host}${WS_PATH}?token=${encodeURIComponent(token)}`;
  return new ApiClient(createWsTransport({ url }), {
    stageFile: uploadStager({ origin: window.location.origin, token }),
  });
}
