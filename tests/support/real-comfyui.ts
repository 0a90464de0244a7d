import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ROOT } from './paths';

/** ComfyUI's source (0.3.64, as ../shared/comfyui/README.md sets it up) and the stand-ins it needs here. */
export const COMFYUI_SOURCE = process.env.COMFYUI_SOURCE ?? '/opt/ComfyUI';
const STAND_INS = resolve(ROOT, '..', 'shared', 'comfyui', 'stand-ins', 'pythonpath');
const PYTHON = '/usr/bin/python3';

/** Whether a real ComfyUI can be started on this machine. */
export const CAN_RUN_COMFYUI = [join(COMFYUI_SOURCE, 'main.py'), STAND_INS, PYTHON].every((path) => existsSync(path));

/** Ports this project's real-ComfyUI tests may use (so they never meet another engineer's or a user's 8188). */
const PORTS = [8270, 8271, 8272, 8273, 8274, 8275, 8276, 8277, 8278, 8279];

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolvePromise) => {
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

export interface RealComfyUi {
  url: string;
  port: number;
  baseDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real ComfyUI on 127.0.0.1 (CPU, core nodes plus the custom node packs named in
 * `customNodes`, which must already be in `<baseDir>/custom_nodes`) and waits until it answers.
 */
export async function startRealComfyUi(options: { baseDir: string; customNodes: string[] }): Promise<RealComfyUi> {
  let port: number | undefined;
  for (const candidate of PORTS)
    if (await isFree(candidate)) {
      port = candidate;
      break;
    }
  if (port === undefined) throw new Error('no free port in 8270–8279 for a real ComfyUI');
  const front = join(options.baseDir, 'front');
  mkdirSync(front, { recursive: true });
  writeFileSync(join(front, 'index.html'), '<html>ComfyUI</html>');
  const child: ChildProcess = spawn(
    PYTHON,
    [
      'main.py',
      '--cpu',
      '--listen',
      '127.0.0.1',
      '--port',
      String(port),
      '--disable-all-custom-nodes',
      ...(options.customNodes.length > 0 ? ['--whitelist-custom-nodes', ...options.customNodes] : []),
      '--disable-api-nodes',
      '--front-end-root',
      front,
      '--base-directory',
      options.baseDir,
      '--database-url',
      'sqlite:///:memory:',
    ],
    { cwd: COMFYUI_SOURCE, env: { ...process.env, PYTHONPATH: STAND_INS }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ComfyUI exited while starting:\n${stderr}`);
    try {
      const response = await fetch(`${url}/system_stats`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ComfyUI did not answer on ${url} in time:\n${stderr}`);
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 200));
  }
  return { url, port, baseDir: options.baseDir, stop };
}
