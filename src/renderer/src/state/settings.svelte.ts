import type { Settings, SettingsPatch } from '@shared/domain/settings';
import type { ApiClient } from '../api';
import type { Toasts } from './toasts.svelte';

/** The settings snapshot, kept in step with the core through `settings.changed`. */
export class SettingsState {
  #value = $state.raw<Settings | undefined>(undefined);
  readonly #api: ApiClient;
  readonly #toasts: Toasts;

  constructor(api: ApiClient, toasts: Toasts) {
    this.#api = api;
    this.#toasts = toasts;
  }

  get value(): Settings | undefined {
    return this.#value;
  }

  connect(): () => void {
    const offChanged = this.#api.on('settings.changed', (settings) => (this.#value = settings));
    const offLink = this.#api.onLink((state) => {
      if (state === 'open') void this.refresh(); // errors become a toast inside refresh
    });
    if (this.#api.linkState === 'open') void this.refresh(); // as above
    return () => {
      offChanged();
      offLink();
    };
  }

  async refresh(): Promise<void> {
    try {
      this.#value = await this.#api.call('settings.get', {});
    } catch (error) {
      this.#toasts.error(error);
    }
  }

  async update(patch: SettingsPatch): Promise<boolean> {
    try {
      this.#value = await this.#api.call('settings.update', patch);
      return true;
    } catch (error) {
      this.#toasts.error(error);
      return false;
    }
  }
}
