import { z } from 'zod';
import { ConnectionsSettings } from './connection';

export const Theme = z.enum(['dark', 'light', 'system']);
export type Theme = z.infer<typeof Theme>;

/** Appearance and window behaviour. */
export const GeneralSettings = z.object({
  theme: Theme.default('dark'),
});

/** Which folders the workflow library watches. */
export const LibrarySettings = z.object({
  /** Watch ComfyDesk's own workflows folder (seeded with sample workflows on first start). */
  includeAppFolder: z.boolean().default(true),
  /** Further folders of ComfyUI workflows, as absolute paths. */
  folders: z.array(z.string()).default([]),
});

/**
 * Everything ComfyDesk persists as settings. Each section has defaults so a settings file written by
 * an older version still parses; a section that fails to parse falls back to its defaults and the
 * original file is kept beside it.
 */
export const Settings = z.object({
  general: GeneralSettings.default(GeneralSettings.parse({})),
  library: LibrarySettings.default(LibrarySettings.parse({})),
  connections: ConnectionsSettings.default(ConnectionsSettings.parse({})),
});
export type Settings = z.infer<typeof Settings>;

/** A change to settings: any subset of sections, each merged one level deep into the current value. */
export const SettingsPatch = z.object({
  general: GeneralSettings.partial().optional(),
  library: LibrarySettings.partial().optional(),
  connections: ConnectionsSettings.partial().optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatch>;
