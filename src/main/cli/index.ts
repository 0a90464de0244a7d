import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';
import type { CliIo, StopReason } from './io';

// The CLI entry (out/main/cli.js). Serve mode finds the built renderer beside it. The program is
// loaded after the warning filter is in place, since node:sqlite warns as soon as it is imported.
silenceSqliteExperimentalWarning();
const { runCli } = await import('./program');

let stop: (reason: StopReason) => void = () => undefined;
const interrupted = new Promise<StopReason>((resolve) => (stop = resolve));
let stopRequested = false;
// The first request to stop counts; repeats are ignored (a library's exit hook may even deliver the
// same signal twice). Every wait a command does after it is bounded, so it ends by itself.
const requestStop = (reason: StopReason) => {
  if (stopRequested) return;
  stopRequested = true;
  stop(reason);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal));

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

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  interrupted,
};

const code = await runCli(process.argv.slice(2), io, { rendererDir: join(import.meta.dirname, '..', 'renderer') });
process.exitCode = code;
// Commands that finished must not be kept alive by a stray handle (a socket in a keep-alive pool).
setTimeout(() => process.exit(code), 200).unref();
