import type { Job } from '@shared/domain/job';

/**
 * The page title while a job runs: "45% · Text to image — ComfyDesk"; while several run on the
 * farm's servers, their mean: "3 running · 52% — ComfyDesk".
 */
export function progressTitle(job: Job | undefined, base: string, running: readonly Job[] = []): string {
  if (running.length > 1) {
    const mean = running.reduce((sum, item) => sum + (item.progress?.percent ?? 0), 0) / running.length;
    return `${running.length} running · ${Math.floor(mean)}% — ${base}`;
  }
  if (!job) return base;
  return `${Math.floor(job.progress?.percent ?? 0)}% · ${job.workflowName} — ${base}`;
}

/** Steps the favicon ring moves in, so it is redrawn a few dozen times per job, not per event. */
export const RING_STEP_PERCENT = 5;

/** The ring's fill for a percent, rounded down to a whole step. */
export function ringPercent(percent: number): number {
  return Math.max(0, Math.min(100, Math.floor(percent / RING_STEP_PERCENT) * RING_STEP_PERCENT));
}

/** The ring's colours, from the theme. */
export interface RingColors {
  track: string;
  fill: string;
}

/**
 * The favicon's ring icons, each drawn once per step and theme and then reused. Drawing one and
 * encoding it as a PNG takes a few milliseconds of the page's main thread, and reading the theme's
 * colours makes the browser first work out every style that changed since the last frame: done on
 * every step of every job, both landed in frames already full of queue updates.
 */
export class RingIcons {
  readonly #draw: (percent: number, colors: RingColors) => Promise<string | undefined>;
  readonly #readColors: () => RingColors;
  readonly #colors = new Map<string, RingColors>();
  readonly #urls = new Map<string, Promise<string | undefined>>();

  /**
   * @param draw draws one icon (`ringIcon` over the app's icon)
   * @param readColors reads the theme's colours from the page
   */
  constructor(
    draw: (percent: number, colors: RingColors) => Promise<string | undefined>,
    readColors: () => RingColors,
  ) {
    this.#draw = draw;
    this.#readColors = readColors;
  }

  /** The icon for `percent` (a step from `ringPercent`) in `theme`; undefined where the page cannot draw. */
  icon(percent: number, theme: string): Promise<string | undefined> {
    const key = `${theme}:${percent}`;
    const known = this.#urls.get(key);
    if (known) return known;
    let colors = this.#colors.get(theme);
    if (!colors) {
      colors = this.#readColors();
      this.#colors.set(theme, colors);
    }
    const url = this.#draw(percent, colors).then(
      (drawn) => {
        // Not drawn this time: tried again next time.
        if (drawn === undefined) this.#urls.delete(key);
        return drawn;
      },
      () => {
        this.#urls.delete(key);
        return undefined;
      },
    );
    this.#urls.set(key, url);
    return url;
  }
}

/**
 * Draws the app icon with a progress ring over it (for the favicon while a job runs) and answers
 * it as a PNG data: URL; undefined where the page cannot draw. The PNG is encoded by `toBlob`,
 * which the browser does outside the page's frames (`toDataURL` would do it there and then).
 */
export async function ringIcon(
  base: CanvasImageSource | undefined,
  percent: number,
  colors: RingColors,
): Promise<string | undefined> {
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext('2d');
  if (!context) return undefined;
  const center = size / 2;
  const radius = size / 2 - 5;
  if (base) context.drawImage(base, 10, 10, size - 20, size - 20);
  context.lineWidth = 8;
  context.lineCap = 'round';
  context.strokeStyle = colors.track;
  context.beginPath();
  context.arc(center, center, radius, 0, Math.PI * 2);
  context.stroke();
  context.strokeStyle = colors.fill;
  context.beginPath();
  context.arc(center, center, radius, -Math.PI / 2, -Math.PI / 2 + (Math.PI * 2 * percent) / 100);
  context.stroke();
  const png = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!png) return undefined;
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === 'string' ? reader.result : undefined);
    reader.onerror = () => resolve(undefined);
    reader.readAsDataURL(png);
  });
}
