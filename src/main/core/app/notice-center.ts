import { randomUUID } from 'node:crypto';
import type { Notice, NoticeLevel } from '@shared/domain/app';
import { Emitter, type Unsubscribe } from '../lib/emitter';

interface NoticeEvents {
  raised: Notice;
}

/**
 * Notices are messages a person must see once (a settings file moved aside, a tunnel that could
 * not reopen). They are kept until dismissed so a window that opens later still shows them.
 */
export class NoticeCenter {
  readonly #emitter = new Emitter<NoticeEvents>();
  readonly #notices = new Map<string, Notice>();
  readonly #now: () => number;

  constructor(deps: { now?: () => number } = {}) {
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Shows a notice. The same message while it is still shown is not raised twice (two services
   * reporting one problem, or one problem met by every job), so a person reads it once.
   */
  raise(level: NoticeLevel, message: string): Notice {
    for (const shown of this.#notices.values()) if (shown.level === level && shown.message === message) return shown;
    const notice: Notice = { id: randomUUID(), level, message, createdAt: this.#now() };
    this.#notices.set(notice.id, notice);
    this.#emitter.emit('raised', notice);
    return notice;
  }

  dismiss(id: string): void {
    this.#notices.delete(id);
  }

  list(): Notice[] {
    return [...this.#notices.values()];
  }

  on<K extends keyof NoticeEvents>(name: K, listener: (payload: NoticeEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }
}
