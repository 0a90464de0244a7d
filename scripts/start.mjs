// `npm start`: build, then launch the desktop app. Where the Electron runtime cannot be had (no
// binary, download blocked — CI, a server), the same app starts in serve mode instead and opens in
// the default browser. `npm start -- --serve` chooses serve mode on purpose; other arguments go to
// serve mode (e.g. `--port 9000`) or to Electron.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const isServeForced = args.includes('--serve');
const passThrough = args.filter((arg) => arg !== '--serve');

// COMFYDESK_SKIP_BUILD=1 lets tests check the launcher without rebuilding under other tests' feet.
if (process.env.COMFYDESK_SKIP_BUILD !== '1') {
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) process.exit(build.status ?? 1);
}

/** The Electron binary, fetching it first if this machine can; undefined when it cannot be had. */
function electronBinary() {
  let packageDir;
  try {
    packageDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return undefined;
  }
  const pathFile = join(packageDir, 'path.txt');
  const installed = () => existsSync(pathFile) && existsSync(join(packageDir, 'dist', readFileSync(pathFile, 'utf8')));
  if (!installed() && process.env.COMFYDESK_SKIP_ELECTRON_DOWNLOAD !== '1') {
    console.log('Fetching the Electron runtime (first start only)…');
    spawnSync(process.execPath, [join(packageDir, 'install.js')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return installed() ? join(packageDir, 'dist', readFileSync(pathFile, 'utf8')) : undefined;
}

/** Runs a child with our stdio, passing Ctrl+C and SIGTERM on, and exits with its code. */
function runChild(command, commandArgs) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const binary = isServeForced ? undefined : electronBinary();
if (binary) {
  runChild(binary, [root, ...passThrough]);
} else {
  if (!isServeForced)
    console.error(
      'The desktop window cannot open here: the Electron runtime is missing (its download failed or is blocked), so ComfyDesk starts in serve mode in your browser instead.',
    );
  runChild(process.execPath, [join(root, 'bin', 'comfydesk.js'), 'serve', '--open', ...passThrough]);
}
