import { isFinished } from '@shared/domain/job';
import type { ComfyClient } from '../comfy/comfy-client';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import type { JobBook } from './job-book';
import type { Entry } from './job-entry';
import { missingInput } from './job-errors';

/** A copy of one of our prompts left on a server that went offline, to delete there by its prompt id when it is back. */
export interface StaleCopy {
  serverId: string;
  promptId: string;
  jobId: string;
}

/** What the farm keeps across restarts besides the jobs themselves. */
interface FarmRecord {
  /** Job id → the servers it is pinned to (the history's job columns do not hold them). */
  pins: Record<string, string[]>;
  stale: StaleCopy[];
}

const FARM_KEY = 'farm';

export interface FailoverDeps {
  book: JobBook;
  history: HistoryStore;
  log: Logger;
  now: () => number;
  /** How long a server may be offline before its waiting jobs move, ms. */
  graceMs: () => number;
  /** Whether a job lost with its server is queued again elsewhere at once. */
  retryLostElsewhere: () => boolean;
  /** The servers a job may go to (its pins, else the farm). */
  candidates: (entry: Entry) => readonly string[];
  label: (serverId: string) => string;
  /** Whether ComfyDesk still has a staged input file (a moved job uploads its inputs again). */
  hasInput: (stagedId: string) => boolean;
  /** Queues a lost job again (a new job); returns its id. */
  retry: (jobId: string) => void;
  /** Jobs moved back to held: the held queue may release them elsewhere. */
  onMoved: () => void;
}

/**
 * Keeps each job running once when servers come and go. A server offline longer than the grace
 * period gives up its jobs: those waiting there (queued, or sent without an answer) go back to the
 * held queue for another server — their old prompt id kept as a stale copy first, so the new id is
 * only persisted (and sent) after it — and the one running there ends as lost (queued again at once
 * when "retry lost jobs elsewhere" is on). When the server is back, each stale copy still in its
 * queue is deleted by its old prompt id (interrupted if it started), so no job runs twice.
 */
export class Failover {
  readonly #deps: FailoverDeps;
  readonly #offlineSince = new Map<string, number>();
  #record: FarmRecord = { pins: {}, stale: [] };

  constructor(deps: FailoverDeps) {
    this.#deps = deps;
  }

  /** Reads pins and stale copies as they were left, and gives restored jobs their pins back. */
  start(): void {
    try {
      const saved = this.#deps.history.readState(FARM_KEY);
      if (saved) {
        const parsed = JSON.parse(saved) as Partial<FarmRecord>;
        this.#record = { pins: parsed.pins ?? {}, stale: parsed.stale ?? [] };
      }
    } catch (error) {
      this.#deps.log.warn('could not read the farm record; pins and stale copies are forgotten', { error });
    }
    for (const entry of this.#deps.book.unfinished()) {
      const pins = this.#record.pins[entry.job.id];
      if (pins) entry.job = { ...entry.job, servers: pins };
    }
  }

  /** A new job: its pins are kept for the next start. */
  remember(entry: Entry): void {
    if (!entry.job.servers) return;
    this.#record.pins[entry.job.id] = entry.job.servers;
    this.#save();
  }

  /** A job ended: its pins are no longer needed. */
  finished(jobId: string): void {
    if (!(jobId in this.#record.pins)) return;
    delete this.#record.pins[jobId];
    this.#save();
  }

  /** Stale copies waiting for their server to come back. */
  staleCopies(): readonly StaleCopy[] {
    return this.#record.stale;
  }

  serverOffline(serverId: string): void {
    if (!this.#offlineSince.has(serverId)) this.#offlineSince.set(serverId, this.#deps.now());
  }

  /**
   * The server is back: its stale copies are removed from its queue (interrupted if one started)
   * before anything else is sent there.
   */
  async serverOnline(serverId: string, client: ComfyClient): Promise<void> {
    this.#offlineSince.delete(serverId);
    const copies = this.#record.stale.filter((copy) => copy.serverId === serverId);
    if (copies.length === 0) return;
    const promptIds = copies.map((copy) => copy.promptId);
    try {
      await client.deleteFromQueue(promptIds);
      const queue = await client.getQueue();
      for (const item of queue.running) if (promptIds.includes(item.promptId)) await client.interrupt(item.promptId);
    } catch (error) {
      this.#deps.log.warn('could not remove stale copies yet; trying again when the server is back', {
        serverId,
        error,
      });
      return;
    }
    this.#record.stale = this.#record.stale.filter((copy) => !copies.includes(copy));
    this.#save();
    this.#deps.log.info('stale copies removed', { serverId, promptIds });
  }

  /** Moves jobs off servers offline for longer than the grace period. */
  tick(): void {
    const now = this.#deps.now();
    for (const [serverId, since] of this.#offlineSince) {
      if (now - since < this.#deps.graceMs()) continue;
      for (const entry of this.#deps.book.onServer(serverId)) {
        if (isFinished(entry.job.status) || entry.isSubmitting || entry.isFinalizing) continue;
        if (entry.job.status === 'running') this.#lose(entry, serverId);
        else if (entry.job.status === 'queued' || entry.sentAt !== undefined) this.#move(entry, serverId);
      }
    }
  }

  /**
   * A job waiting on a dead server goes back to the held queue, if another server may take it. Its
   * input files go along (uploaded again there); if one of them is gone, the job fails rather than
   * run without it.
   */
  #move(entry: Entry, serverId: string): void {
    const promptId = entry.job.promptId;
    if (!promptId || !this.#deps.candidates(entry).some((id) => id !== serverId)) return;
    // The old prompt id is on disk before the job can get (and persist, and send) a new one.
    this.#record.stale.push({ serverId, promptId, jobId: entry.job.id });
    if (!this.#save()) {
      this.#record.stale.pop(); // not on disk: the job stays where it is rather than risk running twice
      return;
    }
    const missing = [...(entry.uploaded ?? []), ...entry.uploads].find(
      (upload) => !this.#deps.hasInput(upload.stagedId),
    );
    if (missing) {
      // Its copy on the dead server is a stale copy now: removed when that server is back.
      this.#deps.book.finish(entry, {
        status: 'failed',
        error: {
          message: `${this.#deps.label(serverId)} went offline and this job could not move to another server: ${missingInput(missing)}, so it was not sent without it. Add the file again and generate it anew.`,
        },
      });
      this.#deps.log.warn('job not moved: an input file is gone', { jobId: entry.job.id, serverId, promptId });
      return;
    }
    entry.sentAt = undefined;
    entry.confirmAfter = undefined;
    entry.tracker = undefined;
    // Its input files are on the old server only: they go to the new one first.
    entry.uploads = [...(entry.uploaded ?? []), ...entry.uploads];
    entry.uploaded = [];
    entry.number = undefined;
    this.#deps.book.update(entry, { status: 'held', promptId: null, queuedAt: null, startedAt: null, progress: null });
    this.#deps.log.info('job moved off an offline server', { jobId: entry.job.id, serverId, promptId });
    this.#deps.onMoved();
  }

  /** The job was running when its server died: lost, with Retry (or retried elsewhere at once). */
  #lose(entry: Entry, serverId: string): void {
    const label = this.#deps.label(serverId);
    this.#deps.book.finish(entry, {
      status: 'lost',
      error: {
        message: `${label} went offline while this job was running. Your settings are kept: press Retry to run it again.`,
      },
    });
    if (!this.#deps.retryLostElsewhere()) return;
    // If the server comes back still running it, that copy is interrupted: the retry runs instead.
    if (entry.job.promptId) this.#record.stale.push({ serverId, promptId: entry.job.promptId, jobId: entry.job.id });
    this.#save();
    try {
      this.#deps.retry(entry.job.id);
    } catch (error) {
      this.#deps.log.warn('could not retry a lost job elsewhere', { jobId: entry.job.id, error });
    }
  }

  #save(): boolean {
    try {
      this.#deps.history.writeState(FARM_KEY, JSON.stringify(this.#record));
      return true;
    } catch (error) {
      this.#deps.log.error('could not save the farm record', { error });
      return false;
    }
  }
}
