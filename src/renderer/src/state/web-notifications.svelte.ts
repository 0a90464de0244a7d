/** What a page can ask of the browser's notifications (the Web Notifications API, or a stand-in in tests). */
export interface NotificationPort {
  readonly permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  /** Shows one; `onclick` runs when the person clicks it. */
  show(title: string, options: { body: string; icon?: string; tag?: string; onclick?: () => void }): void;
}

/** The browser's own notifications, or undefined where the API does not exist. */
export function browserNotifications(): NotificationPort | undefined {
  if (typeof Notification === 'undefined') return undefined;
  return {
    get permission() {
      return Notification.permission;
    },
    requestPermission: () => Notification.requestPermission(),
    show(title, { onclick, ...options }) {
      const notification = new Notification(title, options);
      if (onclick) {
        notification.onclick = () => {
          window.focus();
          onclick();
          notification.close();
        };
      }
    },
  };
}

/** Whether the person is looking at this page right now (then a notification would only repeat it). */
export function isPageInFront(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'visible' && document.hasFocus();
}

export interface WebNotificationsOptions {
  /** @default browserNotifications() */
  port?: NotificationPort;
  /** Where the person's choice is kept for this browser. @default localStorage */
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  /** @default isPageInFront */
  isInFront?: () => boolean;
}

const CHOICE_KEY = 'comfydesk.webNotifications';

/**
 * Web Notifications in serve mode: off until the person turns them on (which asks the browser's
 * permission), remembered per browser. The desktop app does not use these — its shell shows native
 * notifications, and two of each would be one too many.
 */
export class WebNotifications {
  #permission = $state<NotificationPermission>('default');
  #isChosen = $state(false);
  readonly #port: NotificationPort | undefined;
  readonly #storage: Pick<Storage, 'getItem' | 'setItem'> | undefined;
  readonly #isInFront: () => boolean;

  constructor(options: WebNotificationsOptions = {}) {
    this.#port = 'port' in options ? options.port : browserNotifications();
    this.#storage = options.storage ?? (typeof localStorage === 'undefined' ? undefined : localStorage);
    this.#isInFront = options.isInFront ?? isPageInFront;
    this.#permission = this.#port?.permission ?? 'denied';
    this.#isChosen = this.#storage?.getItem(CHOICE_KEY) === 'on';
  }

  /** Whether this browser has notifications at all. */
  get isSupported(): boolean {
    return this.#port !== undefined;
  }

  get permission(): NotificationPermission {
    return this.#permission;
  }

  /** On: chosen by the person and allowed by the browser. */
  get isEnabled(): boolean {
    return this.#isChosen && this.#permission === 'granted';
  }

  /** Turns them on, asking the browser first; answers whether they are on now. */
  async enable(): Promise<boolean> {
    if (!this.#port) return false;
    if (this.#port.permission !== 'granted') this.#permission = await this.#port.requestPermission();
    else this.#permission = 'granted';
    this.#choose(this.#permission === 'granted');
    return this.isEnabled;
  }

  disable(): void {
    this.#choose(false);
  }

  /** Shows a notification when they are on and the page is not in front. Answers whether it did. */
  notify(title: string, options: { body: string; icon?: string; tag?: string; onclick?: () => void }): boolean {
    if (!this.#port || !this.isEnabled || this.#isInFront()) return false;
    try {
      this.#port.show(title, options);
      return true;
    } catch {
      // Some browsers only allow notifications from a service worker; the toast still shows.
      return false;
    }
  }

  #choose(isOn: boolean): void {
    this.#isChosen = isOn;
    this.#storage?.setItem(CHOICE_KEY, isOn ? 'on' : 'off');
  }
}
