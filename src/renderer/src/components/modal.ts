/** Everything that can take focus inside a modal, in tab order. */
const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Keyboard behaviour every modal shares: Escape closes it, and Tab / Shift+Tab stay inside it
 * while it is open. Use as the panel's `onkeydown`.
 */
export function handleModalKeydown(event: KeyboardEvent, panel: HTMLElement | undefined, onclose: () => void): void {
  if (event.key === 'Escape') {
    event.stopPropagation();
    onclose();
    return;
  }
  if (event.key !== 'Tab' || !panel) return;
  const focusable = [...panel.querySelectorAll<HTMLElement>(FOCUSABLE)];
  const first = focusable[0];
  const last = focusable.at(-1);
  if (!first || !last) return;
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

/**
 * Moves focus into a modal when it opens (to `selector`'s element, else the panel) and returns a
 * cleanup that puts focus back where it was. Call from an `$effect`.
 */
export function focusModal(panel: HTMLElement | undefined, selector: string): () => void {
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  (panel?.querySelector<HTMLElement>(selector) ?? panel)?.focus();
  return () => previous?.focus();
}
