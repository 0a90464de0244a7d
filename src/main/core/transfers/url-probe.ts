import { fileNameFromDisposition, fileNameFromUrl } from './http-answers';

/** What a HEAD request told about a download address. */
export interface HttpProbe {
  status: number;
  /** Exact size, when the server says (Hugging Face's `x-linked-size` before `content-length`). */
  sizeBytes: number | null;
  contentType: string | null;
  fileName: string | null;
  finalUrl: string;
}

/**
 * Asks an address about its file without downloading it: HEAD (redirects followed), else a GET of
 * its first byte for servers that refuse HEAD. Network failures reject.
 */
export async function probeHttp(
  fetchImpl: typeof fetch,
  url: string,
  headers: Record<string, string>,
  timeoutMs = 10_000,
): Promise<HttpProbe> {
  let response = await fetchImpl(url, {
    method: 'HEAD',
    headers,
    redirect: 'follow',
    signal: AbortSignal.timeout(timeoutMs),
  });
  let sizeBytes: number | null = null;
  if (response.status === 405 || response.status === 501) {
    response = await fetchImpl(url, {
      method: 'GET',
      headers: { ...headers, range: 'bytes=0-0' },
      redirect: 'follow',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    const total = /\/(\d+)\s*$/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (total) sizeBytes = Number(total);
  }
  if (sizeBytes === null && response.ok) {
    for (const header of ['x-linked-size', 'content-length']) {
      const value = Number(response.headers.get(header));
      if (Number.isFinite(value) && value > 0) {
        sizeBytes = value;
        break;
      }
    }
  }
  return {
    status: response.status,
    sizeBytes,
    contentType: response.headers.get('content-type'),
    fileName:
      fileNameFromDisposition(response.headers.get('content-disposition')) ?? fileNameFromUrl(response.url || url),
    finalUrl: response.url || url,
  };
}
