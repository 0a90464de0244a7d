import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';
import type { CliIo } from './io';

// The CLI entry (out/main/cli.js). Serve mode finds the built renderer beside it. The program is
// loaded after the warning filter is in place, since node:sqlite warns as soon as it is imported.
silenceSqliteExperimentalWarning();
const { runCli } = await import('./program');

const interrupted = new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', () => resolve('SIGINT'));
  process.once('SIGTERM', () => resolve('SIGTERM'));
});

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
