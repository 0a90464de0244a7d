import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './paths';
import { sealDataDir } from './sealed';

export { ROOT };
export const CLI = resolve(ROOT, 'bin', 'comfydesk.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a CLI under test runs in, sealed: the data folder it names with `--data-dir`
 * gets sealed connections, and without one it gets a sealed temporary `COMFYDESK_HOME` instead of
 * the user's own data folder. `cleanup` removes that temporary folder.
 */
function sealedRun(
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
): { env: NodeJS.ProcessEnv; cleanup: () => void } {
  const merged = { ...process.env, ...env };
  const flag = args.indexOf('--data-dir');
  if (flag >= 0 && args[flag + 1]) {
    sealDataDir(resolve(ROOT, args[flag + 1]!));
    return { env: merged, cleanup: () => undefined };
  }
  if (env?.COMFYDESK_HOME) {
    sealDataDir(env.COMFYDESK_HOME);
    return { env: merged, cleanup: () => undefined };
  }
  const home = mkdtempSync(join(tmpdir(), 'comfydesk-cli-home-'));
  sealDataDir(home);
  return { env: { ...merged, COMFYDESK_HOME: home }, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** Runs the built CLI to completion (on this test's Node, which is the project's Node 22), sealed. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  return new Promise<CliResult>((resolvePromise, reject) => {
    const sealed = sealedRun(args, options.env);
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: sealed.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.on('close', sealed.cleanup);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`comfydesk ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A long-running CLI process (e.g. serve) and a way to read its output as it comes. */
export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** Starts the built CLI, sealed like {@link runCli}. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const sealed = sealedRun(args, options.env);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: sealed.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.on('close', sealed.cleanup);
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((waiter) => waiter());
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    notify();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    notify();
  });
  const exited = new Promise<number | null>((resolvePromise) =>
    child.on('close', (code) => {
      notify();
      resolvePromise(code);
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLine(pattern, timeoutMs = 15_000) {
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern} in time\nstdout: ${stdout}\nstderr: ${stderr}`)),
          timeoutMs,
        );
        const check = () => {
          const line = stdout.split('\n').find((candidate) => pattern.test(candidate));
          if (line) {
            clearTimeout(timer);
            resolvePromise(line);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(
              new Error(
                `process exited (${child.exitCode}) before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`,
              ),
            );
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}
