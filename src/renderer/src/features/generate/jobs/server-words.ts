import type { Job } from '@shared/domain/job';

/** What the words need to know of the servers (the connections state gives it). */
export interface ServerNames {
  /** The servers jobs are spread over. */
  readonly generationIds: readonly string[];
  /** The default server. */
  readonly activeId: string | null;
  nameOf(id: string): string;
}

/**
 * Which server a job runs on (or ran on), as "on Server B", when more than one is in play: several
 * are used for generation, or the job is on one that is not the default. A held job is placed when
 * it is released, so until then it says where it is pinned ("for A or B"), if anywhere. '' when
 * there is nothing worth saying.
 */
export function serverWords(job: Job, servers: ServerNames): string {
  // Until the servers are known there is nothing to compare with.
  if (servers.generationIds.length === 0) return '';
  if (servers.generationIds.length === 1 && job.serverId === servers.activeId) return '';
  if (job.status === 'held')
    return job.servers?.length ? `for ${job.servers.map((id) => servers.nameOf(id)).join(' or ')}` : '';
  return `on ${servers.nameOf(job.serverId)}`;
}
