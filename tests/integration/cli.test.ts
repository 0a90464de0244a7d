import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import type { ConnectionsSnapshot } from '@shared/domain/connection';
import { CLI, ROOT, runCli, startCli, type RunningCli } from '../support/cli';
import { startComfyServer } from '../support/comfy-server';
import { tempDir, waitFor } from '../support/core';

const version = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const running: RunningCli[] = [];
const dirs: Array<{ remove: () => void }> = [];

afterEach(async () => {
  for (const cli of running.splice(0)) {
    cli.child.kill('SIGKILL');
    await cli.exited;
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

function dataDir(): string {
  const dir = tempDir('comfydesk-cli-');
  dirs.push(dir);
  return dir.path;
}

describe('comfydesk CLI', () => {
  test('--help lists the commands and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: comfydesk');
    expect(result.stdout).toContain('serve');
  });

  test('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.trim()).toBe(version);
  });

  test('an unknown command or a bad option is a usage error: exit 2, message on stderr', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(unknown.stdout).toBe('');
    const badPort = await runCli(['serve', '--port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('must be a whole number');
  });

  test('serve prints a tokened loopback URL, serves the app, and stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir()]);
      running.push(cli);
      const line = await cli.waitForLine(/http:\/\/127\.0\.0\.1:\d+\/\?token=/);
      const url = /(http:\S+)/.exec(line)![1]!;
      expect((await fetch(url)).status).toBe(200);
      expect((await fetch(url.replace(/\?token=.*/, ''))).status).toBe(401);
      cli.child.kill(signal);
      expect(await cli.exited).toBe(0);
      expect(cli.stderr()).toContain('ComfyDesk stopped.');
    }
  });

  test('serve --json prints the address as JSON', async () => {
    const cli = startCli(['serve', '--port', '0', '--json', '--data-dir', dataDir()]);
    running.push(cli);
    const line = await cli.waitForLine(/^\{/);
    expect(JSON.parse(line)).toMatchObject({
      host: '127.0.0.1',
      port: expect.any(Number),
      url: expect.stringContaining('?token='),
    });
  });

  test('serve on a non-loopback address warns that the network can reach it', async () => {
    const cli = startCli(['serve', '--port', '0', '--host', '0.0.0.0', '--data-dir', dataDir()]);
    running.push(cli);
    await cli.waitForLine(/token=/);
    await expect.poll(() => cli.stderr()).toContain('other machines on the network can reach ComfyDesk');
  });

  test('serve on a port that is taken explains what to do, exit 1', async () => {
    const first = startCli(['serve', '--port', '0', '--json', '--data-dir', dataDir()]);
    running.push(first);
    const { port } = JSON.parse(await first.waitForLine(/^\{/)) as { port: number };
    const second = await runCli(['serve', '--port', String(port), '--data-dir', dataDir()]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
  });

  test('--help documents the exit codes, for the program and for each command', async () => {
    for (const args of [['--help'], ['run', '--help'], ['history', '--help']]) {
      const result = await runCli(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Exit codes:');
      expect(result.stdout).toMatch(/2 {4}usage error/);
      expect(result.stdout).toMatch(/141 {2}the output was closed/);
    }
  });

  test(
    'bad option values are usage errors: exit 2 and one sentence on stderr, never a stack',
    { timeout: 180_000 },
    async () => {
      const cases = [
        ['run', 'x.json', '--seed', '-5'],
        ['run', 'x.json', '--seed', 'abc'],
        ['run', 'x.json', '--seed', '1.5'],
        ['history', '--limit', '0'],
        ['status', '--timeout', 'abc'],
        ['serve', '--port', '99999'],
        ['intent', 'a fox', '--limit', '1e3'],
        ['queue', '--server', 'localhost:8188'],
        ['run', 'x.json', '--bogus'],
      ];
      const results = [];
      for (const args of cases) results.push(await runCli(args, { timeoutMs: 60_000 }));
      results.forEach((result, index) => {
        const said = `${cases[index]!.join(' ')} → ${result.stderr}`;
        expect(result.code, said).toBe(2);
        expect(result.stdout, said).toBe('');
        expect(result.stderr.trimEnd().split('\n'), said).toHaveLength(1);
        expect(result.stderr, said).toMatch(/^comfydesk: \S[^\n]*\.\n$/);
        expect(result.stderr, said).not.toMatch(/Error|\bat /);
      });
      expect(results[0]!.stderr).toBe(
        'comfydesk: --seed must be a whole number from 0 to 9007199254740991 (got "-5"); see "comfydesk run --help".\n',
      );
    },
  );

  test('a prompt nested 100 000 levels deep is refused as too deeply nested, never with a stack overflow', async () => {
    const dir = dataDir();
    const depth = 100_000;
    const prompt = `{"1": {"class_type": "PreviewAny", "inputs": {"source": ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}}`;
    mkdirSync(join(dir, 'deep'));
    writeFileSync(join(dir, 'deep', 'deep.json'), prompt);
    const file = join(dir, 'deep', 'deep.json');
    const objectInfo = resolve(ROOT, 'tests', 'fixtures', 'comfyui', 'object_info.json');
    for (const args of [
      ['convert', file, '--object-info', objectInfo],
      // Refused while reading the file, before any server is asked anything.
      ['run', file, '--server', 'http://127.0.0.1:9'],
    ]) {
      const result = await runCli(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `comfydesk: ${file} is too deeply nested: more than 512 levels of brackets, which no ComfyUI workflow needs.\n`,
      );
    }
    const scan = await runCli(['scan', join(dir, 'deep'), '--json']);
    expect(JSON.parse(scan.stdout)).toEqual([
      expect.objectContaining({ path: 'deep.json', error: expect.objectContaining({ code: 'too_deep' }) }),
    ]);
  });

  test('scan piped into head -1 ends quietly when head stops reading: no EPIPE error', async () => {
    const dir = dataDir();
    const workflow = JSON.stringify({ '1': { class_type: 'PreviewAny', inputs: { source: 'x' } } });
    mkdirSync(join(dir, 'many'));
    // Enough rows that the table cannot fit in the pipe before head exits.
    for (let index = 0; index < 1500; index += 1) writeFileSync(join(dir, 'many', `workflow-${index}.json`), workflow);
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolvePromise) => {
      const child = spawn(
        'bash',
        ['-c', `"${process.execPath}" "${CLI}" scan "${join(dir, 'many')}" | head -1; exit \${PIPESTATUS[0]}`],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
    });
    expect(result.stdout).toMatch(/^NAME\s+TYPE/);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('serve --server makes that ComfyUI the default for this run only: it is never saved in settings', async () => {
    const comfy = await startComfyServer();
    const dir = dataDir();
    try {
      const cli = startCli(['serve', '--port', '0', '--json', '--data-dir', dir, '--server', comfy.url]);
      running.push(cli);
      const { port, url } = JSON.parse(await cli.waitForLine(/^\{/)) as { port: number; url: string };
      const token = new URL(url).searchParams.get('token')!;
      const snapshot = await contract(`ws://127.0.0.1:${port}/ws?token=${token}`, 'connections.list');
      const active = snapshot.profiles.find((profile) => profile.id === snapshot.activeId);
      expect(active).toMatchObject({ kind: 'url', url: comfy.url });
      expect(snapshot.sessionOnly).toEqual([snapshot.activeId]);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      const settings = existsSync(join(dir, 'settings.json')) ? readFileSync(join(dir, 'settings.json'), 'utf8') : '';
      expect(settings).not.toContain(comfy.url);
    } finally {
      await comfy.stop();
    }
  });

  describe('npm start', () => {
    /** Runs scripts/start.mjs (without rebuilding) in a fresh data folder; resolves with the link it prints. */
    function npmStart(args: string[], env: NodeJS.ProcessEnv) {
      const child = spawn(process.execPath, [resolve(ROOT, 'scripts', 'start.mjs'), ...args], {
        cwd: ROOT,
        env: { ...env, COMFYDESK_SKIP_BUILD: '1', COMFYDESK_HOME: dataDir() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolvePromise) => child.on('close', resolvePromise));
      const link = new Promise<string>((resolvePromise, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const found = /ComfyDesk is ready: (http:\S+)/.exec(stdout);
          if (found) resolvePromise(found[1]!);
        });
        void exited.then((code) => reject(new Error(`npm start exited (${code}) before serving: ${stderr}`)));
      });
      return { child, link, exited, stderr: () => stderr };
    }

    /** The environment without a display or a browser of its own, so nothing real is ever opened. */
    function headless(): NodeJS.ProcessEnv {
      const env = { ...process.env };
      delete env.DISPLAY;
      delete env.WAYLAND_DISPLAY;
      delete env.BROWSER;
      return env;
    }

    test('npm start -- --serve serves the app: the tokened link answers 200 and opens in the browser $BROWSER names', async () => {
      const dir = dataDir();
      const opened = join(dir, 'opened.txt');
      const browser = join(dir, 'browser.sh');
      writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > "${opened}"\n`, { mode: 0o755 });
      const start = npmStart(['--serve', '--port', '0'], { ...headless(), BROWSER: browser });
      const link = await start.link;
      expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
      expect((await fetch(link)).status).toBe(200);
      await waitFor(() => existsSync(opened) && readFileSync(opened, 'utf8') === link, {
        message: 'the browser was not opened with the link',
      });
      start.child.kill('SIGTERM');
      expect(await start.exited).toBe(0);
    });

    // On a developer machine that has the runtime, npm start opens the window instead.
    const hasElectronRuntime = existsSync(resolve(ROOT, 'node_modules', 'electron', 'path.txt'));
    test.skipIf(hasElectronRuntime)(
      'npm start without the Electron runtime says why in one line, then serves the app in the browser instead',
      async () => {
        const start = npmStart(['--port', '0'], { ...headless(), COMFYDESK_SKIP_ELECTRON_DOWNLOAD: '1' });
        const link = await start.link;
        expect((await fetch(link)).status).toBe(200);
        const lines = start.stderr().trimEnd().split('\n');
        expect(lines[0]).toContain('the Electron runtime is missing');
        expect(lines[0]).toContain('serve mode');
        // No display here: it says so instead of failing.
        await waitFor(() => start.stderr().includes('The browser was not opened: there is no display here'));
        start.child.kill('SIGTERM');
        expect(await start.exited).toBe(0);
      },
    );
  });
});

/** One contract call over serve mode's WebSocket, as a page would make it. */
function contract(url: string, command: 'connections.list'): Promise<ConnectionsSnapshot> {
  return new Promise((resolvePromise, reject) => {
    const socket = new WebSocket(url);
    socket.on('open', () => socket.send(JSON.stringify({ kind: 'request', id: 'c1', command, input: {} })));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { kind: string; id?: string; output?: ConnectionsSnapshot };
      if (message.kind !== 'response' || message.id !== 'c1') return;
      socket.close();
      resolvePromise(message.output!);
    });
    socket.on('error', reject);
  });
}
