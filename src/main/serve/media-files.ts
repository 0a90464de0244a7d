import { createReadStream, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { mediaTypeOf } from '../core/lib/media-types';

/**
 * The file a `/media/…` path names inside `dir`, or undefined when it names nothing there. Each
 * segment is decoded exactly once (the page encodes each with encodeURIComponent), so any file
 * name round-trips — `+ & , # $ : = @ %` included — and an encoded `/` or `..` cannot leave `dir`.
 */
export function resolveMediaFile(dir: string, encodedPath: string): string | undefined {
  const segments: string[] = [];
  for (const raw of encodedPath.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (
      segment === '.' ||
      segment === '..' ||
      segment.includes('/') ||
      segment.includes('\\') ||
      segment.includes('\0')
    )
      return undefined;
    // Hidden files are never outputs.
    if (segment.startsWith('.')) return undefined;
    segments.push(segment);
  }
  if (segments.length === 0) return undefined;
  const root = resolve(dir);
  const file = resolve(root, ...segments);
  const inside = relative(root, file);
  return inside && !inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside) ? file : undefined;
}

/**
 * Sends a saved output: its type by extension, a weak ETag (304 when it matches), and single byte
 * ranges (video and audio seek with them). Answers false when there is no such file.
 */
export function sendMediaFile(
  request: IncomingMessage,
  response: ServerResponse,
  file: string,
  setHeaders: (response: ServerResponse) => void,
): boolean {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    return false;
  }
  if (!stats.isFile()) return false;
  const etag = `W/"${stats.size}-${stats.mtime.getTime()}"`;
  setHeaders(response);
  response.setHeader('ETag', etag);
  response.setHeader('Last-Modified', stats.mtime.toUTCString());
  response.setHeader('Cache-Control', 'no-cache');
  response.setHeader('Accept-Ranges', 'bytes');
  response.setHeader('Content-Type', mediaTypeOf(file).mime ?? 'application/octet-stream');
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304);
    response.end();
    return true;
  }
  let start = 0;
  let end = stats.size - 1;
  let status = 200;
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
  if (range && (range[1] || range[2])) {
    if (range[1]) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(Number(range[2]), stats.size - 1);
    } else {
      // "bytes=-N": the last N bytes.
      start = Math.max(0, stats.size - Number(range[2]));
    }
    if (start >= stats.size || start > end) {
      response.writeHead(416, { 'Content-Range': `bytes */${stats.size}` });
      response.end();
      return true;
    }
    status = 206;
    response.setHeader('Content-Range', `bytes ${start}-${end}/${stats.size}`);
  }
  response.writeHead(status, { 'Content-Length': stats.size === 0 ? 0 : end - start + 1 });
  if (request.method === 'HEAD' || stats.size === 0) {
    response.end();
    return true;
  }
  createReadStream(file, { start, end }).pipe(response);
  return true;
}
