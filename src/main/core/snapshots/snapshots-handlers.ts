import type { Handlers } from '../router';
import type { SnapshotService } from './snapshot-service';

export function snapshotsHandlers(snapshots: SnapshotService): Pick<Handlers, 'snapshots.save' | 'snapshots.cancel'> {
  return {
    'snapshots.save': (input) => snapshots.save(input),
    'snapshots.cancel': ({ snapshotId }) => {
      snapshots.cancel(snapshotId);
      return {};
    },
  };
}
