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

/**
 * Draws the app icon with a progress ring over it (for the favicon while a job runs) and answers
 * it as a PNG data: URL; undefined where the page cannot draw.
 */
export function ringIcon(
  base: CanvasImageSource | undefined,
  percent: number,
  colors: { track: string; fill: string },
): string | undefined {
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
  return canvas.toDataURL('image/png');
}
