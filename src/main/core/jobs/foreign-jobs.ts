import type { Job } from '@shared/domain/job';
import type { QueueItem, QueueSnapshot } from '../comfy/api-types';
import type { Emitter } from '../lib/emitter';
import type { JobServiceEvents } from './job-book';
import { foreignPromptText } from './prompt-helpers';

const FOREIGN_PREFIX = 'foreign:';

/** True for the id of another client's job (they live only while the server lists them). */
export function isForeignJobId(jobId: string): boolean {
  return jobId.startsWith(FOREIGN_PREFIX);
}

/**
 * Other clients' jobs on one server (ComfyUI's own page, scripts), read from its /queue: they are
 * shown in the queue and can be cancelled, but their execution events never reach us (protocol doc
 * §3.2), so they are only as fresh as the last /queue read.
 */
export class ForeignJobs {
  readonly #serverId: string;
  readonly #deps: { emitter: Emitter<JobServiceEvents>; now: () => number };
  #jobs = new Map<string, Job>();

  constructor(serverId: string, deps: { emitter: Emitter<JobServiceEvents>; now: () => number }) {
    this.#serverId = serverId;
    this.#deps = deps;
  }

  /** How many other clients' jobs the server holds. */
  get size(): number {
    return this.#jobs.size;
  }

  list(): Job[] {
    return [...this.#jobs.values()];
  }

  get(jobId: string): Job | undefined {
    return this.#jobs.get(jobId);
  }

  /**
   * Takes a fresh /queue answer: jobs neither ours (`ourPromptIds`) nor queued with our client id
   * are foreign. New ones and status changes are announced; gone ones are removed.
   */
  refresh(queue: QueueSnapshot, ours: { promptIds: ReadonlySet<string | null>; clientId: string }): void {
    const previous = this.#jobs;
    const next = new Map<string, Job>();
    const now = this.#deps.now();
    const items: Array<{ item: QueueItem; status: 'running' | 'queued' }> = [
      ...queue.running.map((item) => ({ item, status: 'running' as const })),
      ...queue.pending.map((item) => ({ item, status: 'queued' as const })),
    ];
    for (const { item, status } of items) {
      if (ours.promptIds.has(item.promptId) || item.clientId === ours.clientId) continue;
      const id = `${FOREIGN_PREFIX}${this.#serverId}:${item.promptId}`;
      const before = previous.get(id);
      const job: Job = {
        id,
        promptId: item.promptId,
        origin: 'foreign',
        serverId: this.#serverId,
        workflowId: null,
        workflowName: "Another client's job",
        status,
        parameters: {},
        promptText: foreignPromptText(item.prompt),
        createdAt:
          before?.createdAt ?? (typeof item.extraData.create_time === 'number' ? item.extraData.create_time : now),
        queuedAt: before?.queuedAt ?? now,
        startedAt: status === 'running' ? (before?.startedAt ?? now) : null,
        finishedAt: null,
        progress: null,
        error: null,
        outputs: [],
        position: item.number,
        batch: null,
      };
      next.set(id, job);
      if (!before || before.status !== job.status) this.#deps.emitter.emit('updated', job);
    }
    for (const id of previous.keys()) if (!next.has(id)) this.#deps.emitter.emit('removed', { jobId: id });
    this.#jobs = next;
  }

  /** The server went away: its jobs are no longer known. */
  clear(): void {
    for (const id of this.#jobs.keys()) this.#deps.emitter.emit('removed', { jobId: id });
    this.#jobs.clear();
  }
}
