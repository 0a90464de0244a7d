import { extname } from 'node:path';
import type { OutputKind } from '@shared/domain/job';

/** What a file is, judged by its extension (ComfyUI names outputs by what they hold). */
export interface MediaType {
  kind: OutputKind;
  /** Absent when browsers have no standard type for it. */
  mime?: string;
}

const BY_EXTENSION: Record<string, MediaType> = {
  '.png': { kind: 'image', mime: 'image/png' },
  '.jpg': { kind: 'image', mime: 'image/jpeg' },
  '.jpeg': { kind: 'image', mime: 'image/jpeg' },
  '.webp': { kind: 'image', mime: 'image/webp' },
  '.gif': { kind: 'image', mime: 'image/gif' },
  '.bmp': { kind: 'image', mime: 'image/bmp' },
  '.tif': { kind: 'image' },
  '.tiff': { kind: 'image' },
  '.svg': { kind: 'image', mime: 'image/svg+xml' },
  '.apng': { kind: 'image', mime: 'image/apng' },
  '.mp4': { kind: 'video', mime: 'video/mp4' },
  '.webm': { kind: 'video', mime: 'video/webm' },
  '.mov': { kind: 'video', mime: 'video/quicktime' },
  '.mkv': { kind: 'video', mime: 'video/x-matroska' },
  '.avi': { kind: 'video' },
  '.m4v': { kind: 'video' },
  '.flac': { kind: 'audio', mime: 'audio/flac' },
  '.mp3': { kind: 'audio', mime: 'audio/mpeg' },
  '.wav': { kind: 'audio', mime: 'audio/wav' },
  '.ogg': { kind: 'audio', mime: 'audio/ogg' },
  '.opus': { kind: 'audio', mime: 'audio/opus' },
  '.m4a': { kind: 'audio', mime: 'audio/mp4' },
  '.aac': { kind: 'audio' },
  '.glb': { kind: '3d', mime: 'model/gltf-binary' },
  '.gltf': { kind: '3d', mime: 'model/gltf+json' },
  '.obj': { kind: '3d' },
  '.ply': { kind: '3d' },
  '.fbx': { kind: '3d' },
};

/** The media kind and MIME type of a file name; kind `file` for anything unknown. */
export function mediaTypeOf(filename: string): MediaType {
  return BY_EXTENSION[extname(filename).toLowerCase()] ?? { kind: 'file' };
}
