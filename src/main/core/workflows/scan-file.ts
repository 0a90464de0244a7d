import { hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import type { WorkflowProblem, WorkflowRecord } from '@shared/domain/workflow';
import {
  MAX_JSON_DEPTH,
  jsonTextDepth,
  measureJsonBytes,
  parsedJsonDepth,
  tooDeeplyNestedMessage,
  type JsonBytesMeasure,
} from '@shared/json-depth';
import { systemErrorCode } from '../lib/errors';
import { analyzeWorkflow, type WorkflowFacts } from './analyze';

/** Files larger than this become an error card instead of being parsed. @default 20 MiB */
export const MAX_WORKFLOW_BYTES = 20 * 1024 * 1024;

/** What is known about a workflow file before its content is read. */
export interface FileFacts {
  /** The watched folder (absolute). */
  root: string;
  /** Relative to `root`, `/` separators. */
  path: string;
  sizeBytes: number;
  modifiedMs: number;
  /** Image beside the file with the same base name, relative to `root`. */
  thumbnail: string | null;
}

/** The stable id of a workflow: the same file in the same root always gets the same id. */
export function workflowId(root: string, path: string): string {
  // One call (the same bytes as hashing root, NUL and path in turn): a Hash object per file cost more than the hash.
  return hash('sha256', `${root}\u0000${path}`, 'base64url').slice(0, 16);
}

/** A file name made readable: no extension, no `.workflow`/`.prompt` suffix, separators as spaces, first letter upper case. */
export function readableName(path: string): string {
  const base = path
    .slice(path.lastIndexOf('/') + 1)
    .replace(/\.json$/i, '')
    .replace(/\.(workflow|prompt|api)$/i, '');
  // Each rewrite only where it changes something: this runs for every file of a scan.
  let spaced = base.includes('_') ? base.replace(/_+/g, ' ') : base;
  if (spaced.includes('-')) spaced = spaced.replace(/(?<=\S)-(?=\S)/g, ' ');
  if (/\s\s|[^\S ]/.test(spaced)) spaced = spaced.replace(/\s+/g, ' ');
  spaced = spaced.trim();
  const name = spaced === '' ? base : spaced;
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** The category when the workflow names none: its first folder below the root. */
export function folderCategory(path: string): string {
  const slash = path.indexOf('/');
  return slash > 0 ? path.slice(0, slash) : 'Uncategorized';
}

const TYPE_PHRASES: Record<WorkflowFacts['type'], string> = {
  t2i: 'Makes an image from text',
  i2i: 'Changes an image',
  inpaint: 'Repaints part of an image',
  upscale: 'Upscales an image',
  t2v: 'Makes a video from text',
  i2v: 'Makes a video from an image',
  v2v: 'Changes a video',
  audio: 'Makes audio',
  '3d': 'Makes a 3D model',
  text: 'Answers with text',
  other: 'A ComfyUI workflow',
};

const MAIN_MODEL_FOLDERS = ['checkpoints', 'diffusion_models', 'upscale_models'];

/** A one-line description from what the workflow does, for workflows that carry none of their own. */
export function describe(facts: WorkflowFacts): string {
  const main =
    facts.models.find((model) => model.folder !== null && MAIN_MODEL_FOLDERS.includes(model.folder)) ?? facts.models[0];
  return main ? `${TYPE_PHRASES[facts.type]} with ${main.name}.` : `${TYPE_PHRASES[facts.type]}.`;
}

/**
 * Turns file bytes into text: strips a UTF-8 BOM, decodes UTF-16 files saved by some Windows editors.
 * Bytes known to be all ASCII (most workflows) are copied as Latin-1, which reads them the same and
 * costs about a third of UTF-8's validating decoder.
 */
export function decodeWorkflowBytes(bytes: Buffer, isAscii = false): string {
  if (isAscii) return bytes.toString('latin1');
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return bytes.toString('utf8', 3);
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.toString('utf16le', 2);
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff)
    return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  return bytes.toString('utf8');
}

/** Whether {@link decodeWorkflowBytes} reads these bytes as UTF-16 (they start with its byte order mark). */
function isUtf16(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
}

/**
 * Parses workflow text, telling a file cut short apart from one that is not JSON at all. A file
 * nested deeper than `MAX_JSON_DEPTH` is too deep whether or not it also fails to parse. `depth` is
 * the text's nesting when the caller measured it already (see {@link measureWorkflowBytes}); otherwise
 * it is measured here, after parsing, on the value (V8's parser does not recurse, and values are far
 * fewer than characters), and on the text only when it does not parse.
 */
export function parseWorkflowText(source: string, depth?: number): { value: unknown } | { problem: WorkflowProblem } {
  const trimmedLength = source.trimEnd().length;
  if (trimmedLength === 0)
    return { problem: { code: 'empty', reason: 'The file is empty. Save the workflow from ComfyUI again.' } };
  if (depth !== undefined && depth > MAX_JSON_DEPTH) return { problem: tooDeep() };
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    if (depth === undefined && jsonTextDepth(source) > MAX_JSON_DEPTH) return { problem: tooDeep() };
    return { problem: jsonProblem(error, trimmedLength) };
  }
  return depth === undefined && parsedJsonDepth(value) > MAX_JSON_DEPTH ? { problem: tooDeep() } : { value };
}

/**
 * The nesting of a workflow file's JSON measured on its bytes, for {@link parseWorkflowText}, and
 * whether they are ASCII, for {@link decodeWorkflowBytes}; undefined for UTF-16 files, whose text is
 * measured after decoding. A thread that reads files can measure this while another parses.
 */
export function measureWorkflowBytes(bytes: Uint8Array): JsonBytesMeasure | undefined {
  return isUtf16(bytes) ? undefined : measureJsonBytes(bytes);
}

function tooDeep(): WorkflowProblem {
  return { code: 'too_deep', reason: tooDeeplyNestedMessage('The file') };
}

/** Why `JSON.parse` refused the text: cut short, or not JSON at all. */
function jsonProblem(error: unknown, trimmedLength: number): WorkflowProblem {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  const atEnd =
    /end of JSON input|Unterminated string/i.test(message) ||
    (position !== null && Number(position[1]) >= trimmedLength - 1);
  if (atEnd) {
    return {
      code: 'truncated',
      reason:
        'The file ends in the middle of the workflow: it was cut short (an interrupted save or copy). Save it from ComfyUI again.',
    };
  }
  const line = /line (\d+)/.exec(message)?.[1];
  return {
    code: 'invalid_json',
    reason: `The file is not valid JSON${line ? ` (line ${line})` : ''}, so it cannot be a ComfyUI workflow.`,
  };
}

/** The record of a file that could not be used, shown as an error card. */
export function errorRecord(file: FileFacts, problem: WorkflowProblem): WorkflowRecord {
  return {
    id: workflowId(file.root, file.path),
    root: file.root,
    path: file.path,
    format: null,
    name: readableName(file.path),
    description: problem.reason,
    category: folderCategory(file.path),
    inputTypes: [],
    outputTypes: [],
    type: 'other',
    models: [],
    nodeCount: 0,
    nodeTypes: [],
    thumbnail: file.thumbnail,
    fileSizeBytes: file.sizeBytes,
    modifiedMs: file.modifiedMs,
    error: problem,
  };
}

/**
 * The record of a file from its bytes (and their JSON nesting, when measured already). Never throws:
 * whatever is wrong becomes the record's `error`.
 */
export function recordFromBytes(file: FileFacts, bytes: Buffer, measure?: JsonBytesMeasure): WorkflowRecord {
  const parsed = parseWorkflowText(decodeWorkflowBytes(bytes, measure?.isAscii), measure?.depth);
  if ('problem' in parsed) return errorRecord(file, parsed.problem);
  const analysis = analyzeWorkflow(parsed.value);
  if ('problem' in analysis) return errorRecord(file, analysis.problem);
  const { facts } = analysis;
  return {
    id: workflowId(file.root, file.path),
    root: file.root,
    path: file.path,
    format: facts.format,
    name: facts.name ?? readableName(file.path),
    description: facts.description ?? describe(facts),
    category: facts.category ?? folderCategory(file.path),
    inputTypes: facts.inputTypes,
    outputTypes: facts.outputTypes,
    type: facts.type,
    models: facts.models,
    nodeCount: facts.nodeCount,
    nodeTypes: facts.nodeTypes,
    thumbnail: file.thumbnail,
    fileSizeBytes: file.sizeBytes,
    modifiedMs: file.modifiedMs,
    error: null,
  };
}

/** The content of a workflow file, or why it could not be read. */
export type FileRead =
  | {
      bytes: Buffer;
      sizeBytes: number;
      modifiedMs: number;
      /** See {@link measureWorkflowBytes}. */ measure?: JsonBytesMeasure;
    }
  | { problem: WorkflowProblem; sizeBytes: number; modifiedMs: number; isGone?: boolean };

/** Reads a workflow file; one open, one stat, one read. Files over `maxBytes` are not read at all. */
export async function readWorkflowFile(absPath: string, maxBytes = MAX_WORKFLOW_BYTES): Promise<FileRead> {
  let handle;
  try {
    handle = await open(absPath, 'r');
  } catch (error) {
    return unreadable(error);
  }
  try {
    const stats = await handle.stat();
    const tooLarge = tooLargeRead(stats, maxBytes);
    if (tooLarge) return tooLarge;
    return { bytes: await handle.readFile(), sizeBytes: stats.size, modifiedMs: stats.mtimeMs };
  } catch (error) {
    return unreadable(error);
  } finally {
    await handle.close();
  }
}

/**
 * A buffer reused from one direct read to the next: the bytes a read returns are only valid until
 * the next read through the same scratch, which spares the garbage collector one buffer per file.
 */
export interface ReadScratch {
  buffer: Buffer;
}

/** A scratch for {@link readWorkflowFileSync}, grown when a file needs more. */
export function createReadScratch(): ReadScratch {
  return { buffer: Buffer.allocUnsafe(256 * 1024) };
}

/**
 * The same read without the thread pool: open, stat, read and close as plain system calls on the
 * calling thread. For a folder of small files this is about as fast as reading can be (each
 * asynchronous step costs a round trip through libuv's pool, which made a 10,000-file scan 2–3×
 * slower than the reads themselves), so scans use it in short slices between event-loop turns.
 * With a `scratch`, the returned bytes live in it and are overwritten by the next read.
 */
export function readWorkflowFileSync(absPath: string, maxBytes = MAX_WORKFLOW_BYTES, scratch?: ReadScratch): FileRead {
  let fd: number;
  try {
    fd = openSync(absPath, 'r');
  } catch (error) {
    return unreadable(error);
  }
  try {
    const stats = fstatSync(fd);
    const tooLarge = tooLargeRead(stats, maxBytes);
    if (tooLarge) return tooLarge;
    if (scratch && scratch.buffer.length < stats.size) scratch.buffer = Buffer.allocUnsafe(stats.size * 2);
    // Up to the size the stat gave, like readFileSync: a file cut shorter meanwhile ends early.
    const bytes = scratch ? scratch.buffer.subarray(0, stats.size) : Buffer.allocUnsafe(stats.size);
    let length = 0;
    while (length < bytes.length) {
      const count = readSync(fd, bytes, length, bytes.length - length, length);
      if (count === 0) break;
      length += count;
    }
    return { bytes: bytes.subarray(0, length), sizeBytes: stats.size, modifiedMs: stats.mtimeMs };
  } catch (error) {
    return unreadable(error);
  } finally {
    closeSync(fd);
  }
}

function tooLargeRead(stats: Pick<Stats, 'size' | 'mtimeMs'>, maxBytes: number): FileRead | undefined {
  if (stats.size <= maxBytes) return undefined;
  const megabytes = (stats.size / (1024 * 1024)).toFixed(1);
  return {
    problem: {
      code: 'too_large',
      reason: `The file is ${megabytes} MB; workflows are far smaller, so ComfyDesk does not read files over ${Math.round(maxBytes / (1024 * 1024))} MB.`,
    },
    sizeBytes: stats.size,
    modifiedMs: stats.mtimeMs,
  };
}

function unreadable(error: unknown): FileRead {
  const code = systemErrorCode(error);
  if (code === 'ENOENT')
    return { problem: { code: 'unreadable', reason: 'The file is gone.' }, sizeBytes: 0, modifiedMs: 0, isGone: true };
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'ComfyDesk is not allowed to read this file. Check its permissions.'
      : code === 'EISDIR'
        ? 'This is a folder, not a file.'
        : `The file could not be read${code ? ` (${code})` : ''}.`;
  return { problem: { code: 'unreadable', reason }, sizeBytes: 0, modifiedMs: 0 };
}
