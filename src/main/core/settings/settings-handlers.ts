import type { Handlers } from '../router';
import type { SettingsService } from './settings-service';

export function settingsHandlers(settings: SettingsService): Pick<Handlers, 'settings.get' | 'settings.update'> {
  return {
    'settings.get': () => settings.get(),
    'settings.update': (patch) => settings.update(patch),
  };
}
