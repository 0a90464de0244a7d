import type { BrowserWindow, Rectangle } from 'electron';

/** What is remembered of the main window between runs. */
export interface WindowState {
  bounds?: Rectangle;
  isMaximized?: boolean;
}

export interface WindowStateStore {
  get(): WindowState;
  set(state: WindowState): void;
}

export const DEFAULT_WINDOW_SIZE = { width: 1280, height: 820 } as const;
export const MIN_WINDOW_SIZE = { width: 720, height: 520 } as const;

/**
 * Restored bounds are used only if they still overlap a connected display: a window remembered on
 * an unplugged monitor would otherwise open off screen.
 */
export function restoreBounds(state: WindowState, displays: Rectangle[]): Partial<Rectangle> {
  const bounds = state.bounds;
  if (!bounds || bounds.width < MIN_WINDOW_SIZE.width || bounds.height < MIN_WINDOW_SIZE.height)
    return { ...DEFAULT_WINDOW_SIZE };
  const visible = displays.some(
    (area) =>
      bounds.x < area.x + area.width - 50 &&
      bounds.x + bounds.width > area.x + 50 &&
      bounds.y < area.y + area.height - 50 &&
      bounds.y + bounds.height > area.y,
  );
  return visible ? bounds : { width: bounds.width, height: bounds.height };
}

/** Saves size, position and maximised state as the window changes (debounced) and when it closes. */
export function trackWindowState(window: BrowserWindow, store: WindowStateStore, debounceMs = 400): void {
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    if (window.isDestroyed()) return;
    const isMaximized = window.isMaximized();
    // Keep the normal bounds while maximised, so un-maximising next run restores them.
    store.set({
      bounds: isMaximized ? (store.get().bounds ?? window.getNormalBounds()) : window.getNormalBounds(),
      isMaximized,
    });
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(save, debounceMs);
  };
  window.on('resize', schedule);
  window.on('move', schedule);
  window.on('maximize', save);
  window.on('unmaximize', save);
  window.on('close', () => {
    clearTimeout(timer);
    save();
  });
}
