import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import type { JobBook } from './job-book';
import type { Entry } from './job-entry';
import type { ServerAttachment } from './server-attachment';

/**
 * The one seam through which held jobs find a server: given a job that may go now, the attachment
 * of the server that takes it, or undefined to keep it held (its server is offline or full). Today
 * a job goes to the server it was queued for; a farm decides here from each server's inventory,
 * load and speed.
 */
export interface Dispatcher {
  place(entry: Entry): ServerAttachment | undefined;
}

/** The dispatcher of one-server-at-a-time ComfyDesk: every job runs where the person queued it. */
export function ownServerDispatcher(attachment: (serverId: string) => ServerAttachment | undefined): Dispatcher {
  return {
    place: (entry) => {
      const target = attachment(entry.job.serverId);
      return target?.hasRoom() ? target : undefined;
    },
  };
}

interface HeldQueueDeps {
  book: JobBook;
  dispatcher: Dispatcher;
  history: HistoryStore;
  log: Logger;
  /**
   * Release nothing for this process's whole life, without touching the saved pause switch: a
   * short-lived CLI core that only reads must never send jobs an earlier session left held.
   */
  isHeldForSession?: boolean;
}

/** Where the pause switch is kept between runs of ComfyDesk. */
const PAUSED_KEY = 'queue.paused';

/**
 * ComfyDesk's held jobs: their order (move), the pause switch (kept in the history database, so a
 * restart neither forgets it nor releases anything), and the pump that releases them to servers as
 * the dispatcher finds room.
 */
export class HeldQueue {
  readonly #deps: HeldQueueDeps;
  #paused = false;
  #isRunning = false;

  constructor(deps: HeldQueueDeps) {
    this.#deps = deps;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Reads the pause switch as it was left. Nothing is released before this. */
  start(): void {
    try {
      this.#paused = this.#deps.history.readState(PAUSED_KEY) === 'true';
    } catch (error) {
      this.#deps.log.warn('could not read whether the queue was paused; it is paused to be safe', { error });
      this.#paused = true;
    }
    this.#isRunning = true;
  }

  stop(): void {
    this.#isRunning = false;
  }

  /** Turns the pause switch; returns whether it changed. */
  setPaused(paused: boolean): boolean {
    if (this.#paused === paused) return false;
    this.#paused = paused;
    try {
      this.#deps.history.writeState(PAUSED_KEY, String(paused));
    } catch (error) {
      this.#deps.log.error('could not keep the pause switch; it holds until ComfyDesk restarts', { error });
    }
    return true;
  }

  /** Held jobs that may be released, in the order they run. */
  held(): Entry[] {
    return this.#deps.book
      .all()
      .filter((entry) => entry.job.status === 'held')
      .sort((a, b) => a.job.position - b.job.position);
  }

  /** The position after the last held job. */
  nextPosition(): number {
    return this.held().reduce((max, entry) => Math.max(max, entry.job.position + 1), 0);
  }

  /** Moves a held job to `toIndex` among the held jobs (0 = next). */
  move(entry: Entry, toIndex: number): void {
    if (entry.job.status !== 'held' || entry.sentAt !== undefined || entry.isSubmitting)
      throw new AppError(
        'invalid_input',
        'Only jobs still waiting in ComfyDesk can be moved; this one was already sent to the server.',
      );
    const held = this.held().filter((item) => item !== entry);
    held.splice(Math.min(toIndex, held.length), 0, entry);
    held.forEach((item, index) => {
      if (item.job.position !== index) this.#deps.book.update(item, { position: index });
    });
  }

  /**
   * Releases held jobs, in order, to the servers the dispatcher picks while they have room. Each
   * server sends its jobs one after another; when one is sent (or turns out not to be sendable),
   * the pump runs again.
   */
  pump(): void {
    if (!this.#isRunning || this.#paused || this.#deps.isHeldForSession) return;
    for (const entry of this.held()) {
      if (entry.isSubmitting || entry.sentAt !== undefined) continue;
      const target = this.#deps.dispatcher.place(entry);
      if (!target) continue;
      void target
        .submit(entry)
        .then((isSendable) => {
          if (isSendable) this.pump();
        })
        .catch((error: unknown) => this.#deps.log.error('release failed', { jobId: entry.job.id, error }));
    }
  }
}
