import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';
import type { CliIo } from './io';

// The CLI entry (out/main/cli.js). Serve mode finds the built renderer beside it, scan its worker
// thread and enhancement its engine process. The program is loaded after the warning filter is in
// place, since node:sqlite warns as soon as it is imported.
silenceSqliteExperimentalWarning();
const { runCli } = await import('./program');

// Signal listeners are installed only when a command asks for `interrupted` (serve, run, enhance,
// llm download), so every other command keeps the default: Ctrl+C ends it. Once installed they stay
// for the whole run and signals after the first are ignored while the command stops: when-exit
// (conf → atomically) re-raises every signal it sees after its own cleanup, and that echo, arriving
// once a one-shot listener was gone, killed a serve that was still stopping.
let interrupted: Promise<NodeJS.Signals> | undefined;
const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  get interrupted() {
    interrupted ??= new Promise<NodeJS.Signals>((resolve) => {
      process.on('SIGINT', resolve);
      process.on('SIGTERM', resolve);
    });
    return interrupted;
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
