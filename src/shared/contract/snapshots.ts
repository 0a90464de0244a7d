import { z } from 'zod';
import { SerializedError } from './errors';
import { RestoreItem, RestoreReport, SnapshotSummary } from '../domain/snapshot';

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
  /**
   * Starts rebuilding a snapshot on a server (the default connection when no id is given) and
   * returns at once: packs installed, models downloaded on the server (SHA-256 checked where the
   * snapshot has it), then a final check against the server's object_info. Progress per item arrives
   * as `snapshots.restoreProgress`, the end as `snapshots.restoreFinished`. `snapshots.cancel` stops it.
   */
  'snapshots.restore': {
    input: z
      .object({
        /** Absolute path of the snapshot file on the machine running ComfyDesk. */
        path: z.string().min(1).max(4096),
        serverId: z.string().min(1).optional(),
      })
      .strict(),
    output: z.object({ restoreId: z.string() }),
  },
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

export const RestoreProgressEvent = z.object({
  restoreId: z.string(),
  serverId: z.string(),
  /** Every pack and model of the snapshot, as it stands now. */
  items: z.array(RestoreItem),
});
export type RestoreProgressEvent = z.infer<typeof RestoreProgressEvent>;

export const RestoreFinished = z.discriminatedUnion('ok', [
  z.object({ restoreId: z.string(), serverId: z.string(), ok: z.literal(true), report: RestoreReport }),
  z.object({ restoreId: z.string(), serverId: z.string(), ok: z.literal(false), error: SerializedError }),
]);
export type RestoreFinished = z.infer<typeof RestoreFinished>;

export const snapshotsEvents = {
  'snapshots.progress': SnapshotProgressEvent,
  'snapshots.finished': SnapshotFinished,
  'snapshots.restoreProgress': RestoreProgressEvent,
  'snapshots.restoreFinished': RestoreFinished,
} as const;
