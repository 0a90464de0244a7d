import { z } from 'zod';

/**
 * What a connected ComfyUI server has installed, as far as workflows care: its node types and its
 * model files by folder. The connections area produces it (from `/object_info` and
 * `/models/{folder}`); the workflow library checks workflows against it.
 */
export const ServerInventory = z.object({
  /** The connection profile this inventory belongs to. */
  serverId: z.string(),
  /** Every node class_type the server knows. */
  nodeTypes: z.array(z.string()),
  /** Folder key (checkpoints, loras, vae, …) → file paths relative to that folder, as the server lists them (its own path separator). */
  models: z.record(z.string(), z.array(z.string())),
  /** When it was read, ms since epoch. */
  fetchedAt: z.number(),
});
export type ServerInventory = z.infer<typeof ServerInventory>;
