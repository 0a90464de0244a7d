import { Settings, SettingsPatch } from '../domain/settings';
import { Empty } from './common';

export const settingsCommands = {
  'settings.get': { input: Empty, output: Settings },
  'settings.update': { input: SettingsPatch.strict(), output: Settings },
} as const;

export const settingsEvents = {
  'settings.changed': Settings,
} as const;
