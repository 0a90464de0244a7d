import { join } from 'node:path';
import Conf from 'conf';
import { createCore, type Core, type CoreOptions } from '../core/create-core';
import { RotatingFileLog, teeSinks } from '../core/lib/file-log';
import { forkEngineProcess } from '../core/llm/process-engine';
import { createLogger, filterSink, streamSink, type Logger, type LogLevel } from '../core/lib/logger';
import { defaultDataDir, resolvePaths, type Paths } from '../core/paths';
import { confSettingsStore } from '../core/settings/settings-store';
import { APP_VERSION } from '../core/version';
import type { CliIo } from './io';

/** Options every subcommand that needs the core shares. */
export interface RuntimeOptions extends Pick<
  CoreOptions,
  'command' | 'lean' | 'isQueueHeld' | 'sessionServer' | 'connections' | 'library'
> {
  dataDir?: string;
  verbose?: boolean;
  mode: 'serve' | 'cli';
  /** The built engine process (out/main/llm-worker.js): prompt enhancement runs there, not in this process. */
  llmWorkerPath?: string;
}

/**
 * Warnings and errors on stderr (everything with --verbose). Long-running serve mode also keeps the
 * rotating, redacted log file in the data folder, like the desktop app.
 */
export function cliLogger(
  io: CliIo,
  verbose: boolean | undefined,
  scope: string,
  logsDir?: string,
  quietLevel: LogLevel = 'warn',
): Logger {
  const level: LogLevel = verbose ? 'debug' : ((io.env.COMFYDESK_LOG_LEVEL as LogLevel | undefined) ?? quietLevel);
  const terminal = filterSink(streamSink(io.stderr), level);
  if (!logsDir) return createLogger(terminal, { level, scope });
  const file = filterSink(new RotatingFileLog({ dir: logsDir }).sink, 'info');
  return createLogger(teeSinks(file, terminal), { level: 'debug', scope });
}

export function cliPaths(io: CliIo, dataDir: string | undefined): Paths {
  return resolvePaths(dataDir ?? defaultDataDir(io.env));
}

/**
 * Starts the same core the desktop app runs, with file-based settings in the data folder. It takes
 * the data folder's lock: another process that owns it makes this fail with `already_running`.
 */
export async function openCore(io: CliIo, options: RuntimeOptions): Promise<{ core: Core; paths: Paths; log: Logger }> {
  const paths = cliPaths(io, options.dataDir);
  // A command's own core keeps its warnings (a server that went away, a retry) off the terminal: the
  // command says what matters in its own words, and --verbose shows everything.
  const log =
    options.mode === 'serve'
      ? cliLogger(io, options.verbose, 'serve', paths.logsDir)
      : cliLogger(io, options.verbose, options.command ?? 'cli', undefined, 'error');
  const settingsStore = confSettingsStore(
    () => new Conf({ cwd: paths.dataDir, configName: 'settings', projectName: 'comfydesk', clearInvalidConfig: false }),
    join(paths.dataDir, 'settings.json'),
  );
  const core = await createCore({
    mode: options.mode,
    command: options.command,
    lean: options.lean,
    isQueueHeld: options.isQueueHeld,
    sessionServer: options.sessionServer,
    connections: options.connections,
    version: APP_VERSION,
    paths,
    settingsStore,
    log,
    library: options.library,
    llm: options.llmWorkerPath ? { spawnEngine: forkEngineProcess(options.llmWorkerPath) } : undefined,
  });
  return { core, paths, log };
}
