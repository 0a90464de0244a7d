import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';
import type { CliIo, StopReason } from './io';

// The CLI entry (out/main/cli.js). Serve mode finds the built renderer beside it, scan its reader
// thread and enhancement its engine process. The program is loaded after the warning filter is in
// place, since node:sqlite warns as soon as it is imported.
silenceSqliteExperimentalWarning();
const { runCli } = await import('./program');

let stop: (reason: StopReason) => void = () => undefined;
const stopped = new Promise<StopReason>((resolve) => (stop = resolve));
let stopRequested = false;
// The first request to stop counts; repeats are ignored: when-exit (conf → atomically) re-raises every
// signal it sees after its own cleanup, and that echo killed a serve that was still stopping.
const requestStop = (reason: StopReason) => {
  if (stopRequested) return;
  stopRequested = true;
  stop(reason);
};

// The reader of our output went away (`comfydesk scan … | head -1`): stop writing, and let a command
// that is still working stop too (run cancels its job), instead of dying with an EPIPE stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
    process.stdout.destroy();
    requestStop('output-closed');
    return;
  }
  throw error;
});
process.stderr.on('error', () => process.stderr.destroy()); // nowhere left to say anything

// Signal listeners are installed only when a command asks for `interrupted` (serve, run, enhance,
// llm download, the CLI's own core), so every other command keeps the default: Ctrl+C ends it.
// Once installed they stay for the whole run.
let isListening = false;
const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  get interrupted() {
    if (!isListening) {
      isListening = true;
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal));
    }
    return stopped;
  },
};

const code = await runCli(process.argv.slice(2), io, {
  rendererDir: join(import.meta.dirname, '..', 'renderer'),
  scanWorkerPath: join(import.meta.dirname, 'scan-worker.js'),
  llmWorkerPath: join(import.meta.dirname, 'llm-worker.js'),
});
process.exitCode = code;
// Commands that finished must not be kept alive by a stray handle (a socket in a keep-alive pool).
setTimeout(() => process.exit(code), 200).unref();
