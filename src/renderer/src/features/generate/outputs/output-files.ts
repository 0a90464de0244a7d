import type { AppMode } from '@shared/domain/app';
import type { Job, OutputFile } from '@shared/domain/job';
import { mediaUrl } from '../../../api/media';

/** The address of a saved output for <img>/<video>/<audio>, or undefined while it is not saved (or is text). */
export function outputUrl(output: OutputFile, mode: AppMode | undefined): string | undefined {
  return output.localPath ? mediaUrl(output.localPath, mode === 'desktop') : undefined;
}

/** The file name a download gets: the saved file's own name. */
export function downloadName(output: OutputFile): string {
  return (output.localPath ?? output.filename).split(/[\\/]/).pop() || output.filename;
}

/**
 * The output a job is shown by in lists: its first saved image (a Save node's, not a Preview's
 * temporary one), else its first image, else its first video, else its first output.
 */
export function coverIndex(job: Job): number {
  const saved = job.outputs.findIndex(
    (output) => output.kind === 'image' && output.type === 'output' && output.localPath,
  );
  if (saved >= 0) return saved;
  const image = job.outputs.findIndex((output) => output.kind === 'image' && output.localPath);
  if (image >= 0) return image;
  const video = job.outputs.findIndex((output) => output.kind === 'video' && output.localPath);
  return video >= 0 ? video : 0;
}

/** How long a job took, ms; undefined until it has both ends. */
export function durationMs(job: Job): number | undefined {
  return job.startedAt !== null && job.finishedAt !== null ? Math.max(0, job.finishedAt - job.startedAt) : undefined;
}

/** "Finished", "Failed", … — a finished job's outcome in a word. */
export const OUTCOME_LABELS: Record<Job['status'], string> = {
  held: 'Waiting to be sent',
  queued: 'Waiting on the server',
  running: 'Running',
  succeeded: 'Finished',
  failed: 'Failed',
  cancelled: 'Cancelled',
  lost: 'Lost',
};

/**
 * Copies an image to the clipboard as PNG (the one image type every clipboard takes), drawing it
 * through a canvas so WebP and JPEG outputs copy too. Answers undefined when it worked, else why not.
 */
export async function copyImage(src: string): Promise<string | undefined> {
  if (typeof ClipboardItem === 'undefined' || !navigator.clipboard?.write)
    return 'This browser does not let pages copy images; use Save instead.';
  try {
    const png = new Promise<Blob>((resolve, reject) => {
      const image = new Image();
      image.onload = () => {
        const canvas = document.createElement('canvas');
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        const context = canvas.getContext('2d');
        if (!context) return reject(new Error('no canvas'));
        context.drawImage(image, 0, 0);
        canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no image data'))), 'image/png');
      };
      image.onerror = () => reject(new Error('the image did not load'));
      image.src = src;
    });
    // Safari wants the ClipboardItem created synchronously, with a promise inside.
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': png })]);
    return undefined;
  } catch (error) {
    const name = error instanceof DOMException ? error.name : '';
    return name === 'NotAllowedError'
      ? 'The browser refused to copy the image (it only allows it while the page is focused and permitted). Use Save instead.'
      : 'The image could not be copied; use Save instead.';
  }
}

/** Starts a download of a saved output under its own name. */
export function saveFile(src: string, name: string): void {
  const link = document.createElement('a');
  link.href = src;
  link.download = name;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
}

/** One node's values as a job sent them, for "Settings used". */
export interface SentNode {
  id: string;
  title: string;
  values: Array<{ name: string; value: string }>;
}

/**
 * Every value an API prompt sets, node by node (by their titles), leaving out links between nodes:
 * what "Settings used" lists, so a result can be made again by hand.
 */
export function sentValues(prompt: unknown): SentNode[] {
  if (typeof prompt !== 'object' || prompt === null) return [];
  const nodes: SentNode[] = [];
  for (const [id, raw] of Object.entries(prompt as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const node = raw as { class_type?: unknown; inputs?: unknown; _meta?: { title?: unknown } };
    const inputs = typeof node.inputs === 'object' && node.inputs !== null ? Object.entries(node.inputs) : [];
    const values = inputs
      .filter(([, value]) => !isLink(value))
      .map(([name, value]) => ({ name, value: typeof value === 'string' ? value : JSON.stringify(value) }));
    if (values.length === 0) continue;
    const title =
      typeof node._meta?.title === 'string'
        ? node._meta.title
        : typeof node.class_type === 'string'
          ? node.class_type
          : id;
    nodes.push({ id, title, values });
  }
  return nodes.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
}

function isLink(value: unknown): boolean {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';
}
