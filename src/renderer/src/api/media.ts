import { MEDIA_SCHEME, SERVE_MEDIA_PREFIX } from '@shared/bridge';

/**
 * The address of a saved output (a path relative to the outputs folder) for an <img>, <video> or
 * <audio>: the app's own scheme in Electron (`isDesktop`), the token-guarded /media/ route in serve mode.
 */
export function mediaUrl(localPath: string, isDesktop: boolean): string {
  const encoded = localPath.split(/[\\/]/).filter(Boolean).map(encodeURIComponent).join('/');
  return isDesktop ? `${MEDIA_SCHEME}://outputs/${encoded}` : `${SERVE_MEDIA_PREFIX}${encoded}`;
}
