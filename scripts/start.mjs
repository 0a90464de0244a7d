// `npm start`: build, then launch the desktop app. Where the Electron runtime cannot be fetched
// (no internet, as on CI), say so plainly and point at serve mode instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

// COMFYDESK_SKIP_BUILD=1 lets tests check the launcher without rebuilding under other tests' feet.
if (process.env.COMFYDESK_SKIP_BUILD !== '1') {
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
    { cwd: root, stdio: 'inherit' },
  );
  if (build.status !== 0) process.exit(build.status ?? 1);
}

/** The Electron binary, fetching it first if this machine can. */
function electronBinary() {
  const packageDir = dirname(require.resolve('electron/package.json'));
  const pathFile = join(packageDir, 'path.txt');
  const installed = () => existsSync(pathFile) && existsSync(join(packageDir, 'dist', readFileSync(pathFile, 'utf8')));
  if (!installed() && process.env.COMFYDESK_SKIP_ELECTRON_DOWNLOAD !== '1') {
    console.log('Fetching the Electron runtime (first start only)…');
    spawnSync(process.execPath, [join(packageDir, 'install.js')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return installed() ? join(packageDir, 'dist', readFileSync(pathFile, 'utf8')) : undefined;
}

const binary = electronBinary();
if (!binary) {
  console.error(
    [
      '',
      'ComfyDesk cannot open its desktop window: the Electron runtime is missing. npm installs only',
      "Electron's small package; the runtime itself (about 100 MB) is downloaded from GitHub on first",
      'start, and that download did not work on this machine (no internet access, or a proxy blocking',
      'github.com). To get it, run "npm start" again on a connected machine, or fetch it by hand with',
      '"npx install-electron" (set ELECTRON_MIRROR to use a mirror). Until then the same app runs in your',
      'browser: "npx comfydesk serve" prints a link to open.',
      '',
    ].join('\n'),
  );
  process.exit(1);
}

const child = spawn(binary, [root, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
