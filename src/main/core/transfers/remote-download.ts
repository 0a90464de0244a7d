import { posix } from 'node:path';
import type { DownloadProgress } from '@shared/domain/llm';
import type { TokenProvider } from '@shared/domain/transfer';
import { backoffDelayMs } from '@shared/backoff';
import { formatBytes } from '@shared/format';
import type { ExecResult, RemoteShell } from '../connections/ssh-tunnel';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { DISK_MARGIN_BYTES, ProgressMeter, TRANSFER_ERROR_CODES, type DownloadResult } from './file-downloader';
import { describeRefusal, looksLikeHtml } from './http-answers';

/** The tools a server offers for downloading and checking files. */
export interface RemoteTools {
  downloader: 'curl' | 'wget' | null;
  /** How the server computes a SHA-256. */
  hasher: 'sha256sum' | 'shasum' | 'openssl' | null;
  hasDf: boolean;
}

/** Quotes a string for POSIX sh. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Runs a script with POSIX sh on the server (whatever the user's login shell), sent on standard input. */
async function runScript(
  shell: RemoteShell,
  script: string,
  options: { signal?: AbortSignal; pathPrefix?: string } = {},
): Promise<ExecResult> {
  const head = options.pathPrefix ? `PATH=${shQuote(options.pathPrefix)}; export PATH\n` : '';
  return shell.exec('sh -s', { stdin: `${head}${script}\n`, signal: options.signal });
}

/** Which of curl/wget, sha256sum/shasum/openssl and df the server has (on the PATH its commands get). */
export async function probeRemoteTools(shell: RemoteShell, pathPrefix?: string): Promise<RemoteTools> {
  const result = await runScript(
    shell,
    'for t in curl wget sha256sum shasum openssl df; do if command -v "$t" >/dev/null 2>&1; then echo "$t"; fi; done; exit 0',
    { pathPrefix },
  );
  const found = new Set(result.stdout.toString('utf8').split(/\s+/).filter(Boolean));
  return {
    downloader: found.has('curl') ? 'curl' : found.has('wget') ? 'wget' : null,
    hasher: found.has('sha256sum')
      ? 'sha256sum'
      : found.has('shasum')
        ? 'shasum'
        : found.has('openssl')
          ? 'openssl'
          : null,
    hasDf: found.has('df'),
  };
}

/** Free bytes for files in `dir` on the server (`df -Pk`), null when unknown. */
export async function remoteFreeBytes(shell: RemoteShell, dir: string, pathPrefix?: string): Promise<number | null> {
  const result = await runScript(shell, `df -Pk ${shQuote(dir)} 2>/dev/null | tail -n 1`, { pathPrefix });
  const fields = result.stdout.toString('utf8').trim().split(/\s+/);
  const kilobytes = Number(fields[3]);
  return fields.length >= 4 && Number.isFinite(kilobytes) ? kilobytes * 1024 : null;
}

/** What the remote downloader needs. */
export interface RemoteDownloaderDeps {
  shell: RemoteShell;
  tools: RemoteTools;
  /** The server's name in messages ("root@pod:22"). */
  host: string;
  log: Logger;
  /** Prepended to the server's PATH for our commands (tests hide curl/wget this way). */
  pathPrefix?: string;
  /** How often the partial file's size is read for progress. @default 1000 */
  pollIntervalMs?: number;
  /** @default Date.now */
  now?: () => number;
  /** Attempts in a row that may fail without progress. @default 5 */
  maxAttempts?: number;
  /** @default backoff from 500 ms to 8 s */
  retryDelayMs?: (attempt: number) => number;
}

/** One file to download on the server. */
export interface RemoteDownloadRequest {
  url: string;
  /** Sent to the download tool on its standard input, never on its command line. */
  headers?: Record<string, string>;
  /** Whose token the address takes (for the words when it is refused). */
  provider?: TokenProvider;
  /** The final absolute path on the server. */
  destination: string;
  sha256?: string;
  sizeBytes?: number;
  signal: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Called when the last byte arrived and the file is being checked. */
  onVerifying?: () => void;
}

/** curl exit codes worth a resumed retry: partial file, timeouts, receive and HTTP/2 stream errors. */
const CURL_RETRY = new Set([16, 18, 28, 52, 55, 56, 92]);

/**
 * Downloads a file on the SSH server itself with its `curl` or `wget`, so the bytes never cross
 * this machine: into `<file>.part` with HTTP Range resume, progress read from the partial file's
 * size, free space checked with `df` first, size and SHA-256 checked on the server, and the real
 * name given only to a complete, verified file. A run cut off with the SSH connection is resumed by
 * the next one, which first stops the old process if it still runs.
 */
export class RemoteDownloader {
  readonly #deps: RemoteDownloaderDeps;
  readonly #now: () => number;

  constructor(deps: RemoteDownloaderDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  static partPath(destination: string): string {
    return `${destination}.part`;
  }

  /** Bytes the partial file holds (0 when there is none). */
  async partialBytes(destination: string): Promise<number> {
    return this.#size(RemoteDownloader.partPath(destination));
  }

  /** Stops the download process of `destination` if it runs (after a pause, a cancel or an app restart). */
  async stop(destination: string): Promise<void> {
    await this.#script(`${stopOldScript(`${RemoteDownloader.partPath(destination)}.pid`)}\nexit 0`);
  }

  /** Stops it and deletes the partial file. */
  async discard(destination: string): Promise<void> {
    const part = RemoteDownloader.partPath(destination);
    await this.#script(`${stopOldScript(`${part}.pid`)}\nrm -f ${shQuote(part)} ${shQuote(`${part}.pid`)}\nexit 0`);
  }

  async download(request: RemoteDownloadRequest): Promise<DownloadResult> {
    const { destination, signal } = request;
    const tool = this.#deps.tools.downloader;
    if (!tool) throw new AppError('transfer_unsupported', `${this.#deps.host} has neither curl nor wget.`);
    const part = RemoteDownloader.partPath(destination);
    const dir = posix.dirname(destination);
    const made = await this.#script(`mkdir -p ${shQuote(dir)}`);
    if (made.code !== 0)
      throw new AppError(
        'permission_denied',
        `ComfyDesk could not create ${dir} on ${this.#deps.host}: ${made.stderr.trim()}`,
      );

    const meter = new ProgressMeter(this.#now, 0, request.onProgress);
    let received = await this.#size(part);
    let total = request.sizeBytes ?? null;
    meter.report(received, total, true);
    if (total !== null) await this.#checkSpace(dir, total - received, destination);

    let failures = 0;
    for (;;) {
      if (signal.aborted) throw cancelled(destination);
      if (total !== null && received >= total) break;
      const before = received;
      const polling = this.#poll(part, total, meter, signal);
      let result: ExecResult;
      try {
        result = await this.#script(
          tool === 'curl'
            ? curlScript(part, request.url, request.headers ?? {})
            : wgetScript(part, request.url, request.headers ?? {}),
          signal,
        );
      } finally {
        polling.stop();
        await polling.done;
      }
      if (signal.aborted) {
        await this.stop(destination).catch(() => undefined);
        throw cancelled(destination);
      }
      received = await this.#size(part);
      meter.report(received, total, true);
      const outcome = tool === 'curl' ? readCurl(result) : readWget(result);
      if (outcome.total !== null) total = outcome.total;
      if (outcome.kind === 'done') {
        if (/text\/html/i.test(outcome.contentType ?? '') || (await this.#isHtml(part))) {
          await this.discard(destination);
          throw loginPage(request.url);
        }
        if (total === null) total = received;
        if (received >= total) break;
        // A shorter file than announced: resume it.
      } else if (outcome.kind === 'refused') {
        const status = outcome.status;
        if (status >= 500 || status === 429) {
          // worth another try, below
        } else {
          const hasToken = Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'authorization');
          const code =
            status === 404 || status === 410
              ? TRANSFER_ERROR_CODES.notFound
              : status === 401 || status === 403
                ? TRANSFER_ERROR_CODES.needsToken
                : TRANSFER_ERROR_CODES.failed;
          throw new AppError(code, describeRefusal(status, request.url, hasToken, request.provider), {
            details: { url: request.url, status, on: this.#deps.host },
          });
        }
      } else if (outcome.kind === 'no-range') {
        // The server cannot resume: start the file over.
        await this.#script(`rm -f ${shQuote(part)}`);
        received = 0;
      } else if (outcome.kind === 'disk') {
        const free = await remoteFreeBytes(this.#deps.shell, dir, this.#deps.pathPrefix).catch(() => null);
        await this.discard(destination).catch(() => undefined);
        throw new AppError(
          'disk_full',
          `The disk on ${this.#deps.host} filled up while downloading ${posix.basename(destination)}${free === null ? '' : ` (${formatBytes(free)} free in ${dir})`}, so the partial file was deleted. Free some space on the server and try again.`,
          { details: { dir, freeBytes: free, stderr: outcome.message } },
        );
      } else if (outcome.kind === 'unreachable') {
        failures += 1;
        if (failures >= 3)
          throw new AppError(
            TRANSFER_ERROR_CODES.failed,
            `${this.#deps.host} cannot reach ${hostOf(request.url)} (${outcome.message}). Check that the server has internet access.`,
            { details: { url: request.url } },
          );
      }
      if (outcome.kind !== 'done') {
        failures = received > before ? 1 : failures + 1;
        if (failures >= (this.#deps.maxAttempts ?? 5))
          throw new AppError(
            TRANSFER_ERROR_CODES.failed,
            `The download of ${posix.basename(destination)} on ${this.#deps.host} kept failing (${outcome.message}). What was downloaded is kept on the server; resume it to continue.`,
            { details: { url: request.url, receivedBytes: received } },
          );
        this.#deps.log.warn('remote download interrupted; resuming', {
          host: this.#deps.host,
          receivedBytes: received,
          reason: outcome.message,
        });
        await sleep(this.#deps.retryDelayMs?.(failures) ?? backoffDelayMs(failures - 1, { maxDelayMs: 8000 }), signal);
      }
    }

    request.onVerifying?.();
    const size = await this.#size(part);
    if (request.sizeBytes !== undefined && size !== request.sizeBytes) {
      await this.discard(destination);
      throw mismatch(destination, request, { receivedBytes: size });
    }
    let digest: string | null = null;
    if (request.sha256) {
      digest = await this.#sha256(part, signal);
      if (digest !== null && digest !== request.sha256.toLowerCase()) {
        await this.discard(destination);
        throw mismatch(destination, request, { actualSha256: digest });
      }
    }
    const moved = await this.#script(
      `mv -f ${shQuote(part)} ${shQuote(destination)} && rm -f ${shQuote(`${part}.pid`)}`,
    );
    if (moved.code !== 0)
      throw new AppError(
        'io_error',
        `ComfyDesk could not rename the finished file on ${this.#deps.host}: ${moved.stderr.trim()}`,
      );
    return { path: destination, sizeBytes: size, sha256: digest ?? '' };
  }

  async #script(script: string, signal?: AbortSignal): Promise<ExecResult> {
    return runScript(this.#deps.shell, script, { signal, pathPrefix: this.#deps.pathPrefix });
  }

  async #size(path: string): Promise<number> {
    const result = await this.#script(`if [ -f ${shQuote(path)} ]; then wc -c < ${shQuote(path)}; else echo 0; fi`);
    const bytes = Number(result.stdout.toString('utf8').trim());
    return Number.isFinite(bytes) ? bytes : 0;
  }

  async #isHtml(path: string): Promise<boolean> {
    const result = await this.#script(`head -c 256 ${shQuote(path)} 2>/dev/null`);
    return looksLikeHtml(result.stdout);
  }

  async #checkSpace(dir: string, neededBytes: number, destination: string): Promise<void> {
    if (neededBytes <= 0 || !this.#deps.tools.hasDf) return;
    const free = await remoteFreeBytes(this.#deps.shell, dir, this.#deps.pathPrefix);
    if (free !== null && free < neededBytes + DISK_MARGIN_BYTES) {
      throw new AppError(
        'disk_full',
        `Not enough disk space on ${this.#deps.host} for ${posix.basename(destination)}: it needs ${formatBytes(neededBytes)} and ${dir} has ${formatBytes(free)} free. Free some space on the server (or a bigger volume) and try again.`,
        { details: { dir, neededBytes, freeBytes: free } },
      );
    }
  }

  async #sha256(path: string, signal: AbortSignal): Promise<string | null> {
    const command =
      this.#deps.tools.hasher === 'sha256sum'
        ? `sha256sum ${shQuote(path)}`
        : this.#deps.tools.hasher === 'shasum'
          ? `shasum -a 256 ${shQuote(path)}`
          : this.#deps.tools.hasher === 'openssl'
            ? `openssl dgst -sha256 -r ${shQuote(path)}`
            : undefined;
    if (!command) {
      this.#deps.log.warn('no SHA-256 tool on the server; only the size is checked', { host: this.#deps.host });
      return null;
    }
    const result = await this.#script(command, signal);
    const digest = /^([0-9a-f]{64})/i.exec(result.stdout.toString('utf8').trim())?.[1];
    if (result.code !== 0 || !digest)
      throw new AppError(
        'io_error',
        `ComfyDesk could not check the file on ${this.#deps.host}: ${result.stderr.trim()}`,
      );
    return digest.toLowerCase();
  }

  /** Reads the partial file's size every few hundred ms while the download runs. */
  #poll(
    part: string,
    total: number | null,
    meter: ProgressMeter,
    signal: AbortSignal,
  ): { stop: () => void; done: Promise<void> } {
    const controller = new AbortController();
    const stopped = AbortSignal.any([controller.signal, signal]);
    const done = (async () => {
      while (!stopped.aborted) {
        await sleep(this.#deps.pollIntervalMs ?? 1000, stopped).catch(() => undefined);
        if (stopped.aborted) return;
        const size = await this.#size(part).catch(() => undefined);
        if (size !== undefined && !stopped.aborted) meter.report(size, total, true);
      }
    })();
    return { stop: () => controller.abort(), done };
  }
}

/** A single run's outcome, read from the tool's exit code and output. */
type Outcome =
  | { kind: 'done'; contentType: string | null; total: number | null; message: string }
  | { kind: 'refused'; status: number; total: number | null; message: string }
  | { kind: 'no-range' | 'disk' | 'unreachable' | 'retry'; total: number | null; message: string };

/** Stops an earlier run (an orphan of a dropped SSH session) before its file is touched again. */
function stopOldScript(pidFile: string): string {
  return [
    `pidf=${shQuote(pidFile)}`,
    'if [ -f "$pidf" ]; then',
    '  old=$(cat "$pidf" 2>/dev/null)',
    '  name=$(cat "/proc/$old/comm" 2>/dev/null || ps -p "$old" -o comm= 2>/dev/null)',
    '  case "$name" in',
    '    *curl*|*wget*)',
    '      kill "$old" 2>/dev/null',
    '      while kill -0 "$old" 2>/dev/null; do sleep 1; done;;',
    '  esac',
    '  rm -f "$pidf"',
    'fi',
  ].join('\n');
}

/** A value inside a curl config file's double quotes. */
function curlConfigValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new AppError('invalid_input', 'A download address or header contains a line break.');
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function curlScript(part: string, url: string, headers: Record<string, string>): string {
  const config = [
    `url = ${curlConfigValue(url)}`,
    ...Object.entries(headers).map(([name, value]) => `header = ${curlConfigValue(`${name}: ${value}`)}`),
  ].join('\n');
  return [
    stopOldScript(`${part}.pid`),
    `echo $$ > "$pidf"`,
    // -q first: no ~/.curlrc. The address and headers come on stdin (-K -), so no token shows in `ps`.
    `exec curl -q -sS -L --fail --proto-redir =http,https -C - --connect-timeout 30 --speed-limit 1 --speed-time 60 -o ${shQuote(part)} -w '%{http_code} %{content_type} %{size_download}\\n' -K - <<'COMFYDESK_CURL_CONFIG'`,
    config,
    'COMFYDESK_CURL_CONFIG',
  ].join('\n');
}

function wgetScript(part: string, url: string, headers: Record<string, string>): string {
  const entries = Object.entries(headers);
  for (const [name, value] of entries)
    if (/[\r\n]/.test(name + value)) throw new AppError('invalid_input', 'A header contains a line break.');
  const config = entries.length > 0 ? `--config=/dev/stdin` : '--no-config';
  const lines = [
    stopOldScript(`${part}.pid`),
    `echo $$ > "$pidf"`,
    `exec wget ${config} -c -nv --server-response --tries=1 --connect-timeout=30 --read-timeout=60 -O ${shQuote(part)} -- ${shQuote(url)}${entries.length > 0 ? " <<'COMFYDESK_WGETRC'" : ''}`,
  ];
  if (entries.length > 0)
    lines.push(...entries.map(([name, value]) => `header = ${name}: ${value}`), 'COMFYDESK_WGETRC');
  return lines.join('\n');
}

function readCurl(result: ExecResult): Outcome {
  const [status = '', contentType = ''] = result.stdout.toString('utf8').trim().split(/\s+/);
  const http = Number(status);
  const message = result.stderr.trim().split('\n').at(-1) ?? `curl exited with ${result.code}`;
  const type = contentType || null;
  if (result.code === 0) return { kind: 'done', contentType: type, total: null, message };
  if (result.code === 22 && http >= 400) return { kind: 'refused', status: http, total: null, message };
  if (result.code === 33) return { kind: 'no-range', total: null, message };
  if (result.code === 23) return { kind: 'disk', total: null, message };
  if (result.code === 6 || result.code === 7) return { kind: 'unreachable', total: null, message };
  if (result.code !== null && CURL_RETRY.has(result.code)) return { kind: 'retry', total: null, message };
  return { kind: 'retry', total: null, message: message || `curl ended (${result.signal ?? result.code})` };
}

function readWget(result: ExecResult): Outcome {
  const statuses = [...result.stderr.matchAll(/^\s*HTTP\/[\d.]+\s+(\d{3})/gm)].map((match) => Number(match[1]));
  const types = [...result.stderr.matchAll(/^\s*content-type:\s*([^\s;]+)/gim)].map((match) => match[1]!);
  const ranges = [...result.stderr.matchAll(/^\s*content-range:\s*bytes\s+\d+-\d+\/(\d+)/gim)].map((match) =>
    Number(match[1]),
  );
  const status = statuses.at(-1) ?? 0;
  const message = result.stderr.trim().split('\n').at(-1) ?? `wget exited with ${result.code}`;
  const total = ranges.at(-1) ?? null;
  if (result.code === 0) return { kind: 'done', contentType: types.at(-1) ?? null, total, message };
  if ((result.code === 8 || result.code === 6) && status >= 400) return { kind: 'refused', status, total, message };
  if (result.code === 3) return { kind: 'disk', total, message };
  if (
    result.code === 4 &&
    /unable to resolve|connection refused|failed: /i.test(result.stderr) &&
    statuses.length === 0
  )
    return { kind: 'unreachable', total, message };
  return { kind: 'retry', total, message };
}

function mismatch(
  destination: string,
  request: RemoteDownloadRequest,
  facts: { receivedBytes?: number; actualSha256?: string },
): AppError {
  return new AppError(
    TRANSFER_ERROR_CODES.checksum,
    `The downloaded ${posix.basename(destination)} does not match its published ${facts.actualSha256 ? 'checksum' : 'size'}, so it was deleted from the server. Try again; if it keeps happening, the file at the address has changed.`,
    {
      details: {
        url: request.url,
        expectedSha256: request.sha256,
        expectedBytes: request.sizeBytes,
        ...facts,
      },
    },
  );
}

function loginPage(url: string): AppError {
  return new AppError(
    TRANSFER_ERROR_CODES.loginPage,
    `${hostOf(url)} sent a web page instead of the file — usually a login or licence page. Open ${url} in a browser, sign in or accept the licence, and set your access token in Downloads › Access tokens.`,
    { details: { url } },
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function cancelled(destination: string): AppError {
  return new AppError('cancelled', `The download of ${posix.basename(destination)} was stopped.`, {
    details: { path: destination },
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AppError('cancelled', 'Stopped.'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AppError('cancelled', 'Stopped.'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
