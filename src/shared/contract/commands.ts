import type { z } from 'zod';
import { appCommands } from './app';
import type { CommandSpec } from './common';
import { connectionsCommands } from './connections';
import { generationCommands } from './generation';
import { jobsCommands } from './jobs';
import { llmCommands } from './llm';
import { podsCommands } from './pods';
import { snapshotsCommands } from './snapshots';
import { settingsCommands } from './settings';
import { transfersCommands } from './transfers';
import { workflowsCommands } from './workflows';

/**
 * THE command table: every request the renderer (or any client) may make, with its input and
 * output schema. Each area keeps its entries in its own file (`./app`, `./settings`, …); adding a
 * command is one entry there plus its handler — the router's handler table will not compile until
 * the handler exists.
 */
export const commands = {
  ...appCommands,
  ...settingsCommands,
  ...jobsCommands,
  ...generationCommands,
  ...workflowsCommands,
  ...connectionsCommands,
  ...llmCommands,
  ...podsCommands,
  ...snapshotsCommands,
  ...transfersCommands,
} as const satisfies Record<string, CommandSpec>;

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
