import type { Handlers } from '../router';
import type { SnapshotService } from './snapshot-service';

export function snapshotsHandlers(
  snapshots: SnapshotService,
): Pick<Handlers, 'snapshots.save' | 'snapshots.cancel' | 'snapshots.restore'> {
  return {
    'snapshots.save': (input) => snapshots.save(input),
    'snapshots.restore': (input) => snapshots.restore(input),
    'snapshots.cancel': ({ snapshotId }) => {
      snapshots.cancel(snapshotId);
      return {};
    },
  };
}
