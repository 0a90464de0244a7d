import { writeCrashReport } from '../core/lib/file-log';
import type { Logger } from '../core/lib/logger';
import { APP_VERSION } from '../core/version';

/** Exit code after an unexpected main-process error (documented in the README). */
export const CRASH_EXIT_CODE = 4;

/**
 * An error nothing caught in the main process leaves a readable report in the logs folder, tells
 * the user where it is, and ends the app (its state may be broken; continuing could lose data).
 */
export function installCrashHandler(deps: {
  logsDir: string;
  log: Logger;
  showError: (message: string) => void;
  exit: (code: number) => void;
}): void {
  let handled = false;
  const onFatal = (error: unknown) => {
    if (handled) return;
    handled = true;
    deps.log.error('main process crashed', { error });
    const report = writeCrashReport(deps.logsDir, error, {
      version: APP_VERSION,
      platform: `${process.platform} ${process.arch}`,
      electron: process.versions.electron ?? 'none',
      node: process.versions.node,
    });
    deps.showError(
      `ComfyDesk hit an unexpected error and has to close.${report ? ` A report was saved to ${report}.` : ''} Your settings and history are kept.`,
    );
    deps.exit(CRASH_EXIT_CODE);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
}
