import { posix } from 'node:path';
import type { DownloadProgress } from '@shared/domain/llm';
import type { TokenProvider } from '@shared/domain/transfer';
import { backoffDelayMs } from '@shared/backoff';
import { formatBytes } from '@shared/format';
import type { ExecResult, RemoteShell } from '../connections/ssh-tunnel';
import { remoteFreeBytes, runScript, type RemoteTools } from './remote-tools';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { DISK_MARGIN_BYTES, ProgressMeter, TRANSFER_ERROR_CODES, type DownloadResult } from './file-downloader';
import { describeRefusal, looksLikeHtml } from './http-answers';
import { shQuote } from '../lib/shell-quote';

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
    // One session prepares (each session costs the user's shell start-up on the server).
    const prepared = await this.#script(
      [
        `mkdir -p ${shQuote(dir)} || exit 70`,
        `if [ -f ${shQuote(part)} ]; then echo "size $(wc -c < ${shQuote(part)})"; else echo "size 0"; fi`,
        `echo "free $(df -Pk ${shQuote(dir)} 2>/dev/null | tail -n 1 | awk '{print $4}')"`,
      ].join('\n'),
    );
    if (prepared.code === 70)
      throw new AppError(
        'permission_denied',
        `ComfyDesk could not create ${dir} on ${this.#deps.host}: ${prepared.stderr.trim()}`,
      );
    const facts = readFacts(prepared.stdout.toString('utf8'));
    let received = facts.size ?? 0;
    let total = request.sizeBytes ?? null;
    const meter = new ProgressMeter(this.#now, 0, request.onProgress);
    meter.report(received, total, true);
    const free = facts.free === undefined ? null : facts.free * 1024;
    if (total !== null && free !== null && free < total - received + DISK_MARGIN_BYTES) {
      throw new AppError(
        'disk_full',
        `Not enough disk space on ${this.#deps.host} for ${posix.basename(destination)}: it needs ${formatBytes(total - received)} and ${dir} has ${formatBytes(free)} free. Free some space on the server (or use a bigger volume) and try again.`,
        { details: { dir, neededBytes: total - received, freeBytes: free } },
      );
    }

    let failures = 0;
    for (;;) {
      if (signal.aborted) throw cancelled(destination);
      if (total !== null && received >= total) break;
      const before = received;
      let sizeLine = '';
      const result = await this.#script(
        attemptScript(tool, part, request.url, request.headers ?? {}, (this.#deps.pollIntervalMs ?? 1000) / 1000),
        signal,
        (text) => {
          // "@size N" lines: the partial file's size, read on the server while the tool runs.
          sizeLine += text;
          const lines = sizeLine.split('\n');
          sizeLine = lines.pop() ?? '';
          for (const line of lines) {
            const match = /^@size (\d+)$/.exec(line.trim());
            if (match) meter.report(Number(match[1]), total, true);
          }
        },
      );
      if (signal.aborted) {
        await this.stop(destination).catch(() => undefined);
        throw cancelled(destination);
      }
      const outcome = tool === 'curl' ? readCurl(result) : readWget(result);
      received = outcome.size ?? received;
      if (outcome.total !== null) total = outcome.total;
      meter.report(received, total, true);
      if (outcome.kind === 'done') {
        if (/text\/html/i.test(outcome.contentType ?? '')) {
          await this.discard(destination);
          throw loginPage(request.url);
        }
        if (total === null) total = received;
        if (received >= total) break;
        // A shorter file than announced: resume it.
      } else if (outcome.kind === 'refused' && outcome.status === 416 && received > 0) {
        // Nothing after the partial file's end: it is complete (an earlier run finished it). Checked below.
        total = received;
        break;
      } else if (outcome.kind === 'refused') {
        const status = outcome.status;
        if (status < 500 && status !== 429) {
          const hasToken = Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'authorization');
          const code =
            status === 404 || status === 410
              ? TRANSFER_ERROR_CODES.notFound
              : status === 401 || status === 403
                ? TRANSFER_ERROR_CODES.needsToken
                : TRANSFER_ERROR_CODES.failed;
          await this.discard(destination).catch(() => undefined);
          throw new AppError(code, describeRefusal(status, request.url, hasToken, request.provider), {
            details: { url: request.url, status, on: this.#deps.host },
          });
        }
      } else if (outcome.kind === 'no-range') {
        // The server cannot resume: start the file over.
        await this.#script(`rm -f ${shQuote(part)}`);
        received = 0;
      } else if (outcome.kind === 'disk') {
        const left = await remoteFreeBytes(this.#deps.shell, dir, this.#deps.pathPrefix).catch(() => null);
        await this.discard(destination).catch(() => undefined);
        throw new AppError(
          'disk_full',
          `The disk on ${this.#deps.host} filled up while downloading ${posix.basename(destination)}${left === null ? '' : ` (${formatBytes(left)} free in ${dir})`}, so the partial file was deleted. Free some space on the server and try again.`,
          { details: { dir, freeBytes: left, stderr: outcome.message } },
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
    // One session checks the file (size, first bytes, SHA-256 when known)…
    const hasher = this.#hasherCommand(part);
    const checked = await this.#script(
      [
        `echo "size $(wc -c < ${shQuote(part)})"`,
        `echo "head $(head -c 64 ${shQuote(part)} | od -An -tx1 | tr -d ' \\n')"`,
        ...(request.sha256 && hasher ? [`echo "sha256 $(${hasher} | cut -c1-64)"`] : []),
      ].join('\n'),
      signal,
    );
    const verdict = readFacts(checked.stdout.toString('utf8'));
    if (looksLikeHtml(Buffer.from(verdict.head ?? '', 'hex'))) {
      await this.discard(destination);
      throw loginPage(request.url);
    }
    const size = verdict.size ?? -1;
    if (request.sizeBytes !== undefined && size !== request.sizeBytes) {
      await this.discard(destination);
      throw mismatch(destination, request, { receivedBytes: size });
    }
    let digest: string | null = null;
    if (request.sha256) {
      if (!hasher) {
        this.#deps.log.warn('no SHA-256 tool on the server; only the size is checked', { host: this.#deps.host });
      } else {
        digest = verdict.sha256 ?? '';
        if (digest !== request.sha256.toLowerCase()) {
          await this.discard(destination);
          throw mismatch(destination, request, { actualSha256: digest });
        }
      }
    }
    // …and one gives it its real name.
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

  async #script(script: string, signal?: AbortSignal, onStderr?: (text: string) => void): Promise<ExecResult> {
    return runScript(this.#deps.shell, script, { signal, pathPrefix: this.#deps.pathPrefix, onStderr });
  }

  async #size(path: string): Promise<number> {
    const result = await this.#script(`if [ -f ${shQuote(path)} ]; then wc -c < ${shQuote(path)}; else echo 0; fi`);
    const bytes = Number(result.stdout.toString('utf8').trim());
    return Number.isFinite(bytes) ? bytes : 0;
  }

  #hasherCommand(path: string): string | undefined {
    switch (this.#deps.tools.hasher) {
      case 'sha256sum':
        return `sha256sum ${shQuote(path)}`;
      case 'shasum':
        return `shasum -a 256 ${shQuote(path)}`;
      case 'openssl':
        return `openssl dgst -sha256 -r ${shQuote(path)}`;
      default:
        return undefined;
    }
  }
}

/** `key value` lines into numbers (size, free) and strings (head, sha256). */
function readFacts(text: string): { size?: number; free?: number; head?: string; sha256?: string } {
  const facts: { size?: number; free?: number; head?: string; sha256?: string } = {};
  for (const line of text.split('\n')) {
    const [key, value = ''] = line.trim().split(/\s+/, 2);
    if ((key === 'size' || key === 'free') && /^\d+$/.test(value)) facts[key] = Number(value);
    if (key === 'head') facts.head = value;
    if (key === 'sha256' && /^[0-9a-f]{64}$/i.test(value)) facts.sha256 = value.toLowerCase();
  }
  return facts;
}

/** A single run's outcome, read from the tool's exit code and output. */
type Outcome = { total: number | null; size: number | undefined; message: string } & (
  | { kind: 'done'; contentType: string | null }
  | { kind: 'refused'; status: number }
  | { kind: 'no-range' | 'disk' | 'unreachable' | 'retry' }
);

/** Stops an earlier run (an orphan of a dropped SSH session) before its file is touched again; defines `$pidf`. */
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

/**
 * One attempt in one SSH session: the tool runs in the background with its pid kept beside the
 * partial file, while the script reports the file's size on stderr (`@size N`) until it ends
 * (`@exit N`). The address and headers reach the tool on its standard input, so no token shows in `ps`.
 */
function attemptScript(
  tool: 'curl' | 'wget',
  part: string,
  url: string,
  headers: Record<string, string>,
  intervalSeconds: number,
): string {
  const entries = Object.entries(headers);
  let launch: string[];
  if (tool === 'curl') {
    launch = [
      // -q first: no ~/.curlrc.
      `curl -q -sS -L --fail --proto-redir =http,https -C - --connect-timeout 30 --speed-limit 1 --speed-time 60 -o "$part" -w '%{http_code} %{content_type}\\n' -K - <<'COMFYDESK_CURL_CONFIG' &`,
      `url = ${curlConfigValue(url)}`,
      ...entries.map(([name, value]) => `header = ${curlConfigValue(`${name}: ${value}`)}`),
      'COMFYDESK_CURL_CONFIG',
    ];
  } else {
    for (const [name, value] of entries)
      if (/[\r\n]/.test(name + value)) throw new AppError('invalid_input', 'A header contains a line break.');
    launch =
      entries.length > 0
        ? [
            `wget --config=/dev/stdin -c -nv --server-response --tries=1 --connect-timeout=30 --read-timeout=60 -O "$part" -- ${shQuote(url)} <<'COMFYDESK_WGETRC' &`,
            ...entries.map(([name, value]) => `header = ${name}: ${value}`),
            'COMFYDESK_WGETRC',
          ]
        : [
            `wget --no-config -c -nv --server-response --tries=1 --connect-timeout=30 --read-timeout=60 -O "$part" -- ${shQuote(url)} &`,
          ];
  }
  const report = 'if [ -f "$part" ]; then echo "@size $(wc -c < "$part")" >&2; fi';
  return [
    stopOldScript(`${part}.pid`),
    `part=${shQuote(part)}`,
    ...launch,
    'pid=$!',
    'echo "$pid" > "$pidf"',
    'while kill -0 "$pid" 2>/dev/null; do',
    `  ${report}`,
    `  sleep ${intervalSeconds.toFixed(3)} 2>/dev/null || sleep 1`,
    'done',
    'wait "$pid"',
    'code=$?',
    report,
    'echo "@exit $code" >&2',
    'exit $code',
  ].join('\n');
}

/** The tool's own words (its last stderr line that is not one of ours) and the last size reported. */
function toolOutput(result: ExecResult): { message: string; size: number | undefined } {
  const lines = result.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const sizes = lines.flatMap((line) => /^@size (\d+)$/.exec(line)?.[1] ?? []);
  const own = lines.filter((line) => !line.startsWith('@'));
  return {
    message: own.at(-1) ?? `exited with ${result.code ?? result.signal}`,
    size: sizes.length > 0 ? Number(sizes.at(-1)) : undefined,
  };
}

function readCurl(result: ExecResult): Outcome {
  const [status = '', contentType = ''] = result.stdout.toString('utf8').trim().split(/\s+/);
  const http = Number(status);
  const { message, size } = toolOutput(result);
  const base = { total: null, size, message };
  if (result.code === 0) return { ...base, kind: 'done', contentType: contentType || null };
  if (result.code === 22 && http >= 400) return { ...base, kind: 'refused', status: http };
  if (result.code === 33) return { ...base, kind: 'no-range' };
  if (result.code === 23) return { ...base, kind: 'disk' };
  if (result.code === 6 || result.code === 7) return { ...base, kind: 'unreachable' };
  return { ...base, kind: 'retry' };
}

function readWget(result: ExecResult): Outcome {
  const statuses = [...result.stderr.matchAll(/^\s*HTTP\/[\d.]+\s+(\d{3})/gm)].map((match) => Number(match[1]));
  const types = [...result.stderr.matchAll(/^\s*content-type:\s*([^\s;]+)/gim)].map((match) => match[1]!);
  const ranges = [...result.stderr.matchAll(/^\s*content-range:\s*bytes\s+\d+-\d+\/(\d+)/gim)].map((match) =>
    Number(match[1]),
  );
  const status = statuses.at(-1) ?? 0;
  const { message, size } = toolOutput(result);
  const base = { total: ranges.at(-1) ?? null, size, message };
  if (result.code === 0) return { ...base, kind: 'done', contentType: types.at(-1) ?? null };
  if ((result.code === 8 || result.code === 6) && status >= 400) return { ...base, kind: 'refused', status };
  if (result.code === 3) return { ...base, kind: 'disk' };
  if (
    result.code === 4 &&
    statuses.length === 0 &&
    /unable to resolve|connection refused|failed: /i.test(result.stderr)
  )
    return { ...base, kind: 'unreachable' };
  return { ...base, kind: 'retry' };
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
