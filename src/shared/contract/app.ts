import { z } from 'zod';
import { AppInfo, Notice } from '../domain/app';
import { Empty } from './common';

export const appCommands = {
  'app.info': { input: Empty, output: AppInfo },
  'app.dismissNotice': { input: z.object({ id: z.string() }).strict(), output: z.object({}) },
} as const;

export const appEvents = {
  'app.notice': Notice,
} as const;
