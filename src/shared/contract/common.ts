import { z } from 'zod';

/** Input of a command that takes nothing. Strict: unexpected fields are a caller bug worth reporting. */
export const Empty = z.object({}).strict();

/** The shape every command entry has. */
export interface CommandSpec {
  input: z.ZodType;
  output: z.ZodType;
}
