import { z } from 'zod';
import { ConnectionsSettings } from './connection';
import { LlmSettings } from './llm';
import { TransfersSettings } from './transfer';

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
 * An absolute path on Linux, macOS or Windows (`/x`, `C:\x`, `\\server\share`), told apart without
 * `node:path` so the renderer checks it the same way. No NUL characters, which no OS allows.
 */
export function isAbsolutePath(value: string): boolean {
  return !value.includes('\0') && (/^\//.test(value) || /^[A-Za-z]:[\\/]/.test(value) || /^\\\\[^\\]+\\/.test(value));
}

/** How generations run and where results go. */
export const GenerationSettings = z.object({
  /** ComfyDesk's jobs sent to one server at a time; more overlap upload and queueing. @default 1 */
  maxInFlightPerServer: z.number().int().min(1).max(8).default(1),
  /**
   * A job running on a server that went offline ends as lost; with this on it is queued again at
   * once on another server that can run it. @default false
   */
  retryLostElsewhere: z.boolean().default(false),
  /** How long a server may be offline before its jobs waiting there move to another server, seconds. @default 30 */
  failoverGraceSeconds: z.number().min(0).max(3600).default(30),
  /** Live previews shown per second at most. @default 4 */
  previewsPerSecond: z.number().min(0).max(30).default(4),
  /** Where outputs are saved, as a full path; empty = the data folder's `outputs`. */
  outputsDir: z
    .string()
    .trim()
    .max(4096)
    .refine(
      (value) => value === '' || isAbsolutePath(value),
      'Enter a full path, such as /home/you/Pictures/ComfyDesk, or leave it empty for the default.',
    )
    .default(''),
});

/** How the desktop app behaves around the window. */
export const DesktopSettings = z.object({
  /** Native notifications when a job finishes or fails (not while the window is in front). */
  notifications: z.boolean().default(true),
  /** Closing the window keeps ComfyDesk in the tray, so queued jobs keep running. */
  closeToTray: z.boolean().default(true),
  /** Start with only the tray icon. */
  startMinimized: z.boolean().default(false),
});

/**
 * The patch schema of a settings section: every field optional and *without* its default. zod's
 * `.partial()` keeps defaults, so a patch `{ enabled: true }` would come out with every other field
 * reset to its default and the merge would overwrite the user's values.
 */
export function sectionPatch<T extends z.ZodRawShape>(section: z.ZodObject<T>) {
  const shape = Object.fromEntries(
    Object.entries(section.shape).map(([key, field]) => [
      key,
      ((field instanceof z.ZodDefault ? field.unwrap() : field) as z.ZodType).optional(),
    ]),
  ) as unknown as { [K in keyof T]: z.ZodOptional<T[K] extends z.ZodDefault<infer Inner> ? Inner : T[K]> };
  return z.object(shape);
}

/**
 * Everything ComfyDesk persists as settings. Each section has defaults so a settings file written by
 * an older version still parses; a section that fails to parse falls back to its defaults and the
 * original file is kept beside it.
 */
export const Settings = z.object({
  general: GeneralSettings.default(GeneralSettings.parse({})),
  library: LibrarySettings.default(LibrarySettings.parse({})),
  connections: ConnectionsSettings.default(ConnectionsSettings.parse({})),
  generation: GenerationSettings.default(GenerationSettings.parse({})),
  desktop: DesktopSettings.default(DesktopSettings.parse({})),
  llm: LlmSettings.default(LlmSettings.parse({})),
  transfers: TransfersSettings.default(TransfersSettings.parse({})),
});
export type Settings = z.infer<typeof Settings>;

/** A change to settings: any subset of sections, each merged one level deep into the current value. */
export const SettingsPatch = z.object({
  general: sectionPatch(GeneralSettings).optional(),
  library: sectionPatch(LibrarySettings).optional(),
  connections: sectionPatch(ConnectionsSettings).optional(),
  llm: sectionPatch(LlmSettings).optional(),
  generation: sectionPatch(GenerationSettings).optional(),
  desktop: sectionPatch(DesktopSettings).optional(),
  transfers: sectionPatch(TransfersSettings).optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatch>;
