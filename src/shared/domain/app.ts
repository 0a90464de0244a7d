import { z } from 'zod';

/** Where the core runs; the renderer adapts a few affordances (file pickers, "open in tab"). */
export const AppMode = z.enum(['desktop', 'serve', 'cli']);
export type AppMode = z.infer<typeof AppMode>;

export const NoticeLevel = z.enum(['info', 'success', 'warning', 'error']);
export type NoticeLevel = z.infer<typeof NoticeLevel>;

/** Something the user should read once: shown as a toast, kept until dismissed. */
export const Notice = z.object({
  id: z.string(),
  level: NoticeLevel,
  message: z.string(),
  createdAt: z.number().int(),
});
export type Notice = z.infer<typeof Notice>;

/** ComfyDesk's own folders a user may want to open. */
export const AppFolder = z.enum(['data', 'logs', 'outputs', 'workflows']);
export type AppFolder = z.infer<typeof AppFolder>;

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  mode: AppMode,
  platform: z.string(),
  /** Whether folders and links open on this machine (desktop) or are only shown (serve mode). */
  canOpenFolders: z.boolean(),
  folders: z.record(AppFolder, z.string()),
  /** Notices raised before this client connected (e.g. a settings file moved aside at start). */
  notices: z.array(Notice),
});
export type AppInfo = z.infer<typeof AppInfo>;
