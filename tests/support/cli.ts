import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './paths';

export { ROOT };
export const CLI = resolve(ROOT, 'bin', 'comfydesk.js');

/**
 * The environment of a CLI process under test. Every command that needs ComfyDesk works in a data
 * folder, so each process gets a fresh temporary one (never the user's own) unless the test names
 * one with COMFYDESK_HOME or --data-dir; it is removed when the process ends.
 */
function cliEnv(args: string[], env: NodeJS.ProcessEnv | undefined): { env: NodeJS.ProcessEnv; cleanup: () => void } {
  if (env?.COMFYDESK_HOME || args.includes('--data-dir'))
    return { env: { ...process.env, ...env }, cleanup: () => undefined };
  const home = mkdtempSync(join(tmpdir(), 'comfydesk-cli-home-'));
  return {
    env: { ...process.env, ...env, COMFYDESK_HOME: home },
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion (on this test's Node, which is the project's Node 22). */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const { env, cleanup } = cliEnv(args, options.env);
  return new Promise<CliResult>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
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
  }).finally(cleanup);
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

export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const { env, cleanup } = cliEnv(args, options.env);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      cleanup();
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
