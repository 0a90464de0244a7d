import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatLogRecord, type LogRecord, type LogSink } from './logger';
import { redact, redactText } from './redact';

export interface RotatingFileLogOptions {
  dir: string;
  /** @default 'comfydesk.log' */
  fileName?: string;
  /** Rotate when the file passes this size. @default 5 MiB */
  maxBytes?: number;
  /** Rotated files kept beside the current one (name.1 … name.N). @default 4 */
  keep?: number;
}

/**
 * A log file in the user data folder that rotates by size and never holds secrets: every record is
 * redacted before it is written. Writes are synchronous appends, so the last lines before a crash
 * are on disk. A log that cannot be written never takes the app down.
 */
export class RotatingFileLog {
  readonly path: string;
  readonly #options: Required<RotatingFileLogOptions>;
  #size: number;
  #broken = false;

  constructor(options: RotatingFileLogOptions) {
    this.#options = { fileName: 'comfydesk.log', maxBytes: 5 * 1024 * 1024, keep: 4, ...options };
    this.path = join(this.#options.dir, this.#options.fileName);
    try {
      mkdirSync(this.#options.dir, { recursive: true });
      this.#size = existsSync(this.path) ? statSync(this.path).size : 0;
    } catch {
      this.#broken = true;
      this.#size = 0;
    }
  }

  readonly sink: LogSink = (record: LogRecord) => {
    if (this.#broken) return;
    const line = `${formatLogRecord({ ...record, message: redactText(record.message), fields: record.fields ? (redact(record.fields) as Record<string, unknown>) : undefined })}\n`;
    try {
      if (this.#size + line.length > this.#options.maxBytes) this.#rotate();
      appendFileSync(this.path, line);
      this.#size += Buffer.byteLength(line);
    } catch {
      // Disk full or folder gone: stop logging to the file rather than failing the app.
      this.#broken = true;
    }
  };

  #rotate(): void {
    const { keep } = this.#options;
    rmSync(`${this.path}.${keep}`, { force: true });
    for (let index = keep - 1; index >= 1; index -= 1) {
      if (existsSync(`${this.path}.${index}`)) renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
    }
    if (existsSync(this.path)) renameSync(this.path, `${this.path}.1`);
    this.#size = 0;
  }
}

/** Fans one record out to several sinks (e.g. the log file and stderr). */
export function teeSinks(...sinks: LogSink[]): LogSink {
  return (record) => {
    for (const sink of sinks) sink(record);
  };
}

/**
 * Writes a readable crash report (what failed, where, versions) into the logs folder and returns
 * its path, or undefined when even that is impossible.
 */
export function writeCrashReport(
  dir: string,
  error: unknown,
  facts: Record<string, string>,
  now = new Date(),
): string | undefined {
  const safe = redact(error) as { name?: string; message?: string; stack?: string } | string;
  const lines = [
    `ComfyDesk crash report — ${now.toISOString()}`,
    '',
    ...Object.entries(facts).map(([key, value]) => `${key}: ${value}`),
    '',
    typeof safe === 'string' ? safe : `${safe.name ?? 'Error'}: ${safe.message ?? ''}`,
    '',
    typeof safe === 'string' ? '' : (safe.stack ?? '(no stack)'),
    '',
  ];
  try {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `crash-${now.toISOString().replace(/[:.]/g, '-')}.txt`);
    writeFileSync(path, lines.join('\n'));
    return path;
  } catch {
    return undefined;
  }
}
