import { z } from 'zod';
import { AppFolder, AppInfo, Notice } from '../domain/app';
import { Empty } from './common';

export const appCommands = {
  'app.info': { input: Empty, output: AppInfo },
  'app.dismissNotice': { input: z.object({ id: z.string() }).strict(), output: z.object({}) },
  /** Opens one of ComfyDesk's own folders; without a desktop shell it only answers with the path. */
  'app.openFolder': {
    input: z.object({ folder: AppFolder }).strict(),
    output: z.object({ opened: z.boolean(), path: z.string() }),
  },
} as const;

export const appEvents = {
  'app.notice': Notice,
  /** The user asked (from a notification or the tray) to see one job's result. */
  'app.showJob': z.object({ jobId: z.string() }),
} as const;
