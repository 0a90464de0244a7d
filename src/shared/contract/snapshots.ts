import { z } from 'zod';
import { SerializedError } from './errors';
import { SnapshotSummary } from '../domain/snapshot';

/** Server snapshots: record what a server has (custom node packs, models) into a JSON file. */
export const snapshotsCommands = {
  /**
   * Starts saving a snapshot of a server (the default connection when no id is given) and returns
   * at once; progress arrives as `snapshots.progress`, the end as `snapshots.finished`. SHA-256 of
   * every model is computed on the server when it is reached over SSH (`hash: false` skips it).
   */
  'snapshots.save': {
    input: z
      .object({
        serverId: z.string().min(1).optional(),
        /** Absolute path of the file on the machine running ComfyDesk. @default <data folder>/snapshots/<server>-<date>.json */
        path: z.string().min(1).max(4096).optional(),
        hash: z.boolean().default(true),
      })
      .strict(),
    output: z.object({ snapshotId: z.string(), path: z.string() }),
  },
  'snapshots.cancel': { input: z.object({ snapshotId: z.string().min(1) }).strict(), output: z.object({}) },
} as const;

export const SnapshotProgressEvent = z.object({
  snapshotId: z.string(),
  serverId: z.string(),
  phase: z.enum(['server', 'nodes', 'models', 'hashing', 'writing']),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  /** The model being hashed (`folder/name`). */
  item: z.string().optional(),
});
export type SnapshotProgressEvent = z.infer<typeof SnapshotProgressEvent>;

export const SnapshotFinished = z.discriminatedUnion('ok', [
  z.object({
    snapshotId: z.string(),
    serverId: z.string(),
    ok: z.literal(true),
    path: z.string(),
    summary: SnapshotSummary,
  }),
  z.object({ snapshotId: z.string(), serverId: z.string(), ok: z.literal(false), error: SerializedError }),
]);
export type SnapshotFinished = z.infer<typeof SnapshotFinished>;

export const snapshotsEvents = {
  'snapshots.progress': SnapshotProgressEvent,
  'snapshots.finished': SnapshotFinished,
} as const;
