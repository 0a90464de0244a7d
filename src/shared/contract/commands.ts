import { z } from 'zod';
import { AppInfo } from '../domain/app';
import { Settings, SettingsPatch } from '../domain/settings';

const Empty = z.object({}).strict();

/**
 * THE command table: every request the renderer (or any client) may make, with its input and
 * output schema. Adding a command is one entry here plus its handler; the router's handler table
 * will not compile until the handler exists.
 */
export const commands = {
  'app.info': { input: Empty, output: AppInfo },
  'app.dismissNotice': { input: z.object({ id: z.string() }).strict(), output: z.object({}) },
  'settings.get': { input: Empty, output: Settings },
  'settings.update': { input: SettingsPatch.strict(), output: Settings },
} as const satisfies Record<string, { input: z.ZodType; output: z.ZodType }>;

export type Commands = typeof commands;
export type CommandName = keyof Commands;
/** What a caller passes (defaults may be omitted). */
export type CommandInput<N extends CommandName> = z.input<Commands[N]['input']>;
/** What a handler receives after validation (defaults applied). */
export type ParsedCommandInput<N extends CommandName> = z.output<Commands[N]['input']>;
/** What a caller receives after validation. */
export type CommandOutput<N extends CommandName> = z.output<Commands[N]['output']>;

export const commandNames = Object.keys(commands) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}
