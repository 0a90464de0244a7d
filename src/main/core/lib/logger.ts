import { inspect } from 'node:util';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/** Structured logging port. Implementations decide where lines go (stderr, a file, memory). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry `scope` (e.g. "settings", "ws"). */
  child(scope: string): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One log record, as sinks receive it. */
export interface LogRecord {
  time: number;
  level: LogLevel;
  scope: string;
  message: string;
  fields: LogFields | undefined;
}

export type LogSink = (record: LogRecord) => void;

/** A logger that hands records at or above `level` to a sink. */
export function createLogger(sink: LogSink, options: { level?: LogLevel; scope?: string } = {}): Logger {
  const minRank = LEVEL_RANK[options.level ?? 'info'];
  const make = (scope: string): Logger => {
    const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (LEVEL_RANK[level] < minRank) return;
      sink({ time: Date.now(), level, scope, message, fields });
    };
    return {
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      child: (child) => make(scope ? `${scope}.${child}` : child),
    };
  };
  return make(options.scope ?? '');
}

/** Passes on only records at or above `level`. */
export function filterSink(sink: LogSink, level: LogLevel): LogSink {
  const minRank = LEVEL_RANK[level];
  return (record) => {
    if (LEVEL_RANK[record.level] >= minRank) sink(record);
  };
}

/** Renders a record as one readable line (errors with their stack and cause). */
export function formatLogRecord(record: LogRecord): string {
  const time = new Date(record.time).toISOString();
  const scope = record.scope ? ` [${record.scope}]` : '';
  const fields =
    record.fields && Object.keys(record.fields).length > 0
      ? ` ${inspect(record.fields, { depth: 4, breakLength: Infinity })}`
      : '';
  return `${time} ${record.level.toUpperCase()}${scope} ${record.message}${fields}`;
}

/** Lines to a writable stream (stderr for the CLI and serve mode). */
export function streamSink(stream: NodeJS.WritableStream): LogSink {
  return (record) => {
    stream.write(`${formatLogRecord(record)}\n`);
  };
}

/** Keeps records in memory; tests read them. */
export class MemorySink {
  readonly records: LogRecord[] = [];
  readonly sink: LogSink = (record) => {
    this.records.push(record);
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger(() => undefined);
