import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import type { OutputFile } from '@shared/domain/job';
import type { ComfyClient } from '../comfy/comfy-client';
import { fileError } from '../lib/errors';
import { mediaTypeOf } from '../lib/media-types';
import { safeFileName } from '../lib/file-names';

interface FileItem {
  filename: string;
  subfolder?: string;
  type?: string;
}

function isFileItem(value: unknown): value is FileItem {
  return typeof value === 'object' && value !== null && typeof (value as FileItem).filename === 'string';
}

/**
 * The outputs of a finished prompt from its history entry (or `executed` events): every list of
 * `{filename, subfolder, type}` under any key — ComfyUI lists videos under `images` and custom
 * nodes use their own keys — plus `text` outputs. The media kind comes from the file extension.
 */
export function collectOutputs(outputs: Record<string, Record<string, unknown> | null | undefined>): OutputFile[] {
  const files: OutputFile[] = [];
  for (const [nodeId, ui] of Object.entries(outputs)) {
    if (!ui) continue;
    for (const [key, value] of Object.entries(ui)) {
      if (!Array.isArray(value)) continue;
      if (key === 'text') {
        for (const text of value)
          if (typeof text === 'string')
            files.push({ kind: 'text', nodeId, filename: '', subfolder: '', type: 'text', text });
        continue;
      }
      for (const item of value) {
        if (!isFileItem(item)) continue;
        const { kind, mime } = mediaTypeOf(item.filename);
        files.push({
          kind,
          nodeId,
          filename: item.filename,
          subfolder: item.subfolder ?? '',
          type: item.type ?? 'output',
          ...(mime ? { mime } : {}),
        });
      }
    }
  }
  return files;
}

/** Today's folder name, e.g. 2026-11-23, in local time. */
export function dayFolder(now: Date): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}

/** A file name that is safe on every OS and does not overwrite an earlier one. */
function freeName(dir: string, filename: string): string {
  const clean = safeFileName(filename) || 'output';
  const extension = extname(clean);
  const stem = clean.slice(0, clean.length - extension.length);
  let candidate = clean;
  for (let index = 1; existsSync(join(dir, candidate)); index += 1) candidate = `${stem} (${index})${extension}`;
  return candidate;
}

/**
 * Downloads each file output through `/view` into `<outputsDir>/<day>/<workflow>/` and records
 * where it went. A file that cannot be fetched or written keeps no `localPath`; the first such
 * failure is returned so the caller can tell the user (the job itself still succeeded).
 */
export async function saveOutputs(input: {
  client: ComfyClient;
  outputs: OutputFile[];
  outputsDir: string;
  workflowName: string;
  now: Date;
  signal?: AbortSignal;
}): Promise<{ outputs: OutputFile[]; failure?: unknown }> {
  const folder = join(
    input.outputsDir,
    dayFolder(input.now),
    safeFileName(input.workflowName).slice(0, 80) || 'workflow',
  );
  const saved: OutputFile[] = [];
  let failure: unknown;
  for (const output of input.outputs) {
    if (output.kind === 'text' || !output.filename) {
      saved.push(output);
      continue;
    }
    try {
      const { bytes } = await input.client.viewBytes(
        { filename: output.filename, subfolder: output.subfolder, type: output.type as 'output' | 'temp' | 'input' },
        { signal: input.signal },
      );
      let target: string;
      try {
        mkdirSync(folder, { recursive: true });
        target = join(folder, freeName(folder, output.filename));
        writeFileSync(target, bytes);
      } catch (error) {
        throw fileError(error, 'save the output', folder);
      }
      saved.push({
        ...output,
        localPath: relative(input.outputsDir, target).split('\\').join('/'),
        sizeBytes: bytes.byteLength,
      });
    } catch (error) {
      failure ??= error;
      saved.push(output);
    }
  }
  return failure === undefined ? { outputs: saved } : { outputs: saved, failure };
}
