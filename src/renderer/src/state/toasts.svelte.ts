import type { NoticeLevel } from '@shared/domain/app';
import { errorMessage } from '../api';

export interface Toast {
  id: string;
  level: NoticeLevel;
  message: string;
  /** Called when the user dismisses it (e.g. to tell the core a notice was read). */
  onDismiss?: () => void;
  /** One button beside the message ("Retry"); the toast closes when it is used. */
  action?: { label: string; run: () => void };
}

/** Toasts in the window: errors stay until dismissed, the rest fade after a few seconds. */
export class Toasts {
  #items = $state.raw<Toast[]>([]);
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #autoHideMs: number;

  constructor(options: { autoHideMs?: number } = {}) {
    this.#autoHideMs = options.autoHideMs ?? 6000;
  }

  get items(): Toast[] {
    return this.#items;
  }

  push(toast: Omit<Toast, 'id'> & { id?: string }): string {
    const id = toast.id ?? crypto.randomUUID();
    if (this.#items.some((item) => item.id === id)) return id;
    this.#items = [...this.#items, { ...toast, id }].slice(-5);
    if (toast.level !== 'error' && toast.level !== 'warning') {
      this.#timers.set(
        id,
        setTimeout(() => this.dismiss(id), this.#autoHideMs),
      );
    }
    return id;
  }

  /** Shows a failure as an error toast, in the core's words when it came from the core. */
  error(error: unknown): void {
    this.push({ level: 'error', message: errorMessage(error) });
  }

  /** Runs an action; a failure becomes an error toast. Answers whether it worked. */
  async attempt(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      this.error(error);
      return false;
    }
  }

  dismiss(id: string): void {
    const toast = this.#items.find((item) => item.id === id);
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    this.#items = this.#items.filter((item) => item.id !== id);
    toast?.onDismiss?.();
  }
}
