import type { ExecResult, RemoteShell } from '../connections/ssh-tunnel';
import { shQuote } from '../lib/shell-quote';

/** The tools a server offers for downloading and checking files. */
export interface RemoteTools {
  downloader: 'curl' | 'wget' | null;
  /** How the server computes a SHA-256. */
  hasher: 'sha256sum' | 'shasum' | 'openssl' | null;
  hasDf: boolean;
}

/** Runs a script with POSIX sh on the server (whatever the user's login shell), sent on standard input. */
export async function runScript(
  shell: RemoteShell,
  script: string,
  options: { signal?: AbortSignal; pathPrefix?: string; onStderr?: (text: string) => void } = {},
): Promise<ExecResult> {
  const head = options.pathPrefix ? `PATH=${shQuote(options.pathPrefix)}; export PATH\n` : '';
  return shell.exec('sh -s', { stdin: `${head}${script}\n`, signal: options.signal, onStderr: options.onStderr });
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
