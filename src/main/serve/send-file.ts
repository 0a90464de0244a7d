import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mediaTypeOf } from '../core/lib/media-types';

/**
 * Sends one file that has already been checked (serve mode's `/media/`): its type by extension, a
 * validator for revalidation (ETag, 304), and byte ranges so video and audio can seek. It is given
 * the real path, so nothing here resolves a URL against the disk again.
 */
export async function sendFile(request: IncomingMessage, response: ServerResponse, file: string): Promise<void> {
  const stats = await stat(file);
  const etag = `W/"${stats.size}-${Math.trunc(stats.mtimeMs)}"`;
  response.setHeader('ETag', etag);
  response.setHeader('Last-Modified', stats.mtime.toUTCString());
  response.setHeader('Cache-Control', 'no-cache');
  response.setHeader('Accept-Ranges', 'bytes');
  response.setHeader('Content-Type', mediaTypeOf(file).mime ?? 'application/octet-stream');
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304);
    response.end();
    return;
  }
  const range = parseRange(request.headers.range, stats.size);
  if (range === 'unsatisfiable') {
    response.writeHead(416, { 'Content-Range': `bytes */${stats.size}` });
    response.end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: stats.size - 1 };
  const length = stats.size === 0 ? 0 : end - start + 1;
  response.writeHead(range ? 206 : 200, {
    'Content-Length': length,
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${stats.size}` } : {}),
  });
  if (request.method === 'HEAD' || length === 0) {
    response.end();
    return;
  }
  const stream = createReadStream(file, { start, end });
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; anything else is served whole, as RFC 9110 allows. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
