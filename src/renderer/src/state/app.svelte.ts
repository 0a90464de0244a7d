import type { AppFolder, AppInfo } from '@shared/domain/app';
import type { ApiClient, LinkState } from '../api';
import type { Toasts } from './toasts.svelte';

/** The app's own facts and the link to the core; raises the core's notices as toasts. */
export class AppState {
  #info = $state.raw<AppInfo | undefined>(undefined);
  #link = $state<LinkState>('connecting');
  #wasOpen = $state(false);
  readonly #api: ApiClient;
  readonly #toasts: Toasts;

  constructor(api: ApiClient, toasts: Toasts) {
    this.#api = api;
    this.#toasts = toasts;
    this.#link = api.linkState;
    this.#wasOpen = api.linkState === 'open';
  }

  get info(): AppInfo | undefined {
    return this.#info;
  }

  get link(): LinkState {
    return this.#link;
  }

  /** Whether the link has been open at some point (so a link trying again means it was lost). */
  get wasOpen(): boolean {
    return this.#wasOpen;
  }

  connect(): () => void {
    const offLink = this.#api.onLink((state) => {
      this.#link = state;
      if (state === 'open') this.#wasOpen = true;
      if (state === 'open') void this.refresh(); // errors become a toast inside refresh
    });
    const offNotice = this.#api.on('app.notice', (notice) => this.#showNotice(notice.id, notice.level, notice.message));
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      offLink();
      offNotice();
    };
  }

  async refresh(): Promise<void> {
    try {
      const info = await this.#api.call('app.info', {});
      this.#info = info;
      for (const notice of info.notices) this.#showNotice(notice.id, notice.level, notice.message);
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  /** Opens one of ComfyDesk's folders; in a browser (serve mode) shows where it is instead. */
  async openFolder(folder: AppFolder): Promise<void> {
    try {
      const result = await this.#api.call('app.openFolder', { folder });
      if (!result.opened)
        this.#toasts.push({
          level: 'info',
          message: `On the machine running ComfyDesk, the ${folder} folder is ${result.path}`,
        });
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  #showNotice(id: string, level: AppInfo['notices'][number]['level'], message: string): void {
    this.#toasts.push({
      id,
      level,
      message,
      // Tell the core once the user has read it, so another window does not show it again.
      onDismiss: () => void this.#api.call('app.dismissNotice', { id }).catch(() => undefined),
    });
  }
}
