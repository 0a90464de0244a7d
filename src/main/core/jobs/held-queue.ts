import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { HistoryStore } from './history-store';
import type { JobBook } from './job-book';
import type { Entry } from './job-entry';
import type { ServerAttachment } from './server-attachment';

/**
 * Where a held job goes now: the attachment of the server that takes it, or nothing yet — with the
 * reason when no server can take it at all (shown on the job), without one when servers are busy.
 */
export type Placement = { target: ServerAttachment } | { target?: undefined; waitReason?: string };

/**
 * The one seam through which held jobs find a server: the farm dispatcher decides per job from each
 * server's inventory, load and learned speed.
 */
export interface Dispatcher {
  place(entry: Entry): Placement;
  /** Whether no online server has room now (the pump stops looking). */
  isFull(): boolean;
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
    const { book, dispatcher } = this.#deps;
    for (const entry of this.held()) {
      if (entry.isSubmitting || entry.sentAt !== undefined) continue;
      const placement = dispatcher.place(entry);
      if (!placement.target) {
        if (entry.job.heldReason !== placement.waitReason) book.note(entry, { heldReason: placement.waitReason });
        if (dispatcher.isFull()) break;
        continue;
      }
      const target = placement.target;
      if (entry.job.serverId !== target.serverId)
        book.update(entry, { serverId: target.serverId, heldReason: undefined });
      else if (entry.job.heldReason !== undefined) book.note(entry, { heldReason: undefined });
      void target
        .submit(entry)
        .then((isSendable) => {
          if (isSendable) this.pump();
        })
        .catch((error: unknown) => this.#deps.log.error('release failed', { jobId: entry.job.id, error }));
    }
  }
}
