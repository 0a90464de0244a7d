import { checkParameterValue } from '@shared/parameter-check';
import type { Parameter } from '@shared/domain/generation';
import type { SeedMode, StagedInput } from '@shared/domain/job';

/**
 * What the form checks by itself as a person types and drops files, before anything is sent: the
 * same limits the core checks (shared), whether a file fits a media field, and whether a file name
 * is in the server's input folder; and what a seed's own control mode means for a batch.
 */

/** Largest file a run may take (the core refuses bigger ones). @default 64 MiB */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** A file a person dropped or picked for a media field. */
export interface StagedFile {
  state: 'reading' | 'ready' | 'failed';
  name: string;
  mime: string;
  sizeBytes: number;
  /** A local object URL for the thumbnail (images, video and audio play from it too). */
  previewUrl: string | undefined;
  /** The core's handle once staged. */
  input: StagedInput | undefined;
  error: string | undefined;
}

/** Whether a value names a staged file (`{ staged: id }`). */
export function isStagedRef(value: unknown): value is { staged: string } {
  return typeof value === 'object' && value !== null && typeof (value as { staged?: unknown }).staged === 'string';
}

/** Which MIME types a media field takes. */
export function acceptedTypes(parameter: Parameter): string {
  const media = parameter.constraints.media ?? (parameter.kind === 'mask' ? 'image' : undefined);
  return media ? `${media}/*` : '*/*';
}

/** Why a file does not fit a media field, in words; undefined when it does. */
export function fileProblem(
  parameter: Parameter,
  file: { name: string; type: string; size: number },
): string | undefined {
  const media = parameter.constraints.media ?? 'image';
  if (file.type && !file.type.startsWith(`${media}/`)) {
    return `${file.name} is ${describeMime(file.type)}; “${parameter.label}” takes ${media === 'audio' ? 'an audio file' : `a${media === 'image' ? 'n' : ''} ${media}`}.`;
  }
  if (file.size > MAX_INPUT_BYTES) {
    return `${file.name} is ${Math.round(file.size / 1048576)} MB; ComfyDesk takes files up to 64 MB. Scale it down, or put it in ComfyUI's input folder and pick it by name.`;
  }
  return undefined;
}

function describeMime(mime: string): string {
  const [kind, sub = ''] = mime.split('/');
  if (kind === 'image' || kind === 'video' || kind === 'audio')
    return `a${kind === 'image' || kind === 'audio' ? 'n' : ''} ${kind} file`;
  return `a ${sub.replace(/^x-/, '').toUpperCase() || 'other'} file`;
}

/**
 * What is wrong with a field's value, in a few words for beside the field; undefined when it fits.
 * The core checks again on Generate and its answer is shown the same way.
 */
export function fieldProblem(parameter: Parameter, value: unknown, staged?: StagedFile): string | undefined {
  const { constraints } = parameter;
  if (staged?.state === 'failed') return staged.error;
  if (constraints.type === 'COMBO' && (constraints.media || parameter.kind === 'mask')) {
    // A dropped file stands in for a server-side name until it is uploaded.
    if (isStagedRef(value)) return undefined;
    if (typeof value !== 'string' || value === '')
      return `Add ${constraints.media === 'audio' ? 'an audio file' : constraints.media === 'video' ? 'a video' : 'an image'}.`;
    // The list is the server's input folder (top level) as the form was read; files in sub folders or
    // in output/temp ("x.png [output]") are not listed but load fine, so only ComfyUI can tell.
    const isElsewhere = /[\\/]/.test(value) || / \[(input|output|temp)\]$/.test(value);
    const isKnown = constraints.isRemote || isElsewhere || (constraints.options ?? []).includes(value);
    return isKnown ? undefined : `${value} is not on the server; drop a file here or pick one.`;
  }
  return checkParameterValue(parameter, value)?.message;
}

/** The batch seed mode a seed's own control mode stands for. */
export function seedModeOf(parameter: Parameter | undefined): SeedMode {
  switch (parameter?.seedControl) {
    case 'fixed':
      return 'fixed';
    case 'increment':
    case 'increment-wrap':
      return 'increment';
    default:
      return 'randomize';
  }
}
