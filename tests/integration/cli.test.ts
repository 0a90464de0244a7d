import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ROOT, runCli, startCli, type RunningCli } from '../support/cli';
import { tempDir } from '../support/core';

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

  // On a developer machine that has the runtime, npm start opens the window instead.
  const hasElectronRuntime = existsSync(resolve(ROOT, 'node_modules', 'electron', 'path.txt'));
  test.skipIf(hasElectronRuntime)('npm start without the Electron runtime explains itself and exits non-zero', () => {
    const result = spawnSync(process.execPath, [resolve(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: { ...process.env, COMFYDESK_SKIP_ELECTRON_DOWNLOAD: '1', COMFYDESK_SKIP_BUILD: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Electron runtime is missing');
    expect(result.stderr).toContain('npx comfydesk serve');
  });
});
