import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { writeJson, writeLine, type CliIo } from '../../../../src/main/cli/io';
import { browserPlan } from '../../../../src/main/cli/open-browser';
import { runCli } from '../../../../src/main/cli/program';

const LINK = 'http://127.0.0.1:8082/?token=abc&x=1';

describe('opening the link in a browser', () => {
  test('$BROWSER wins: the link goes where %s stands, or after the command; only the first of a list is used', () => {
    expect(browserPlan(LINK, { BROWSER: 'firefox --new-tab' }, 'linux')).toEqual({
      command: 'firefox',
      args: ['--new-tab', LINK],
    });
    expect(browserPlan(LINK, { BROWSER: 'open-in %s --private:lynx' }, 'linux')).toEqual({
      command: 'open-in',
      args: [LINK, '--private'],
    });
  });

  test('without $BROWSER: open on macOS, start on Windows, xdg-open on Linux only when there is a display', () => {
    expect(browserPlan(LINK, {}, 'darwin')).toEqual({ command: 'open', args: [LINK] });
    expect(browserPlan(LINK, {}, 'win32')).toEqual({
      command: 'cmd',
      args: ['/c', 'start', '""', 'http://127.0.0.1:8082/?token=abc^&x=1'],
    });
    expect(browserPlan(LINK, { DISPLAY: ':0' }, 'linux')).toEqual({ command: 'xdg-open', args: [LINK] });
    expect(browserPlan(LINK, { WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toEqual({ command: 'xdg-open', args: [LINK] });
    expect(browserPlan(LINK, {}, 'linux')).toEqual({
      reason: 'there is no display here (no DISPLAY or WAYLAND_DISPLAY)',
    });
  });
});

/** The CLI in-process with its output collected (nothing here needs a data folder). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const io: CliIo = {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: {},
    cwd: process.cwd(),
    interrupted: new Promise(() => undefined),
  };
  const code = await runCli(args, io, { rendererDir: '/nowhere' });
  return { code, stdout: out, stderr: err };
}

describe('usage errors and closed output', () => {
  test('a bad option value names the option, the value given and the help to read, in one sentence', async () => {
    expect(await cli(['history', '--limit', '-3'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'comfydesk: --limit must be a whole number of 1 or more (got "-3"); see "comfydesk history --help".\n',
    });
    expect((await cli(['llm', 'download'])).stderr).toBe(
      `comfydesk: missing required argument 'id'; see "comfydesk llm download --help".\n`,
    );
    expect((await cli(['serve', '--port', '0x10'])).stderr).toBe(
      'comfydesk: --port must be a whole number from 0 to 65535 (got "0x10"); see "comfydesk serve --help".\n',
    );
  });

  test('nothing is written to an output whose reader went away', () => {
    const stdout = new PassThrough();
    const io = { stdout } as unknown as CliIo;
    stdout.destroy();
    expect(() => {
      writeJson(io, { event: 'generation_progress' });
      writeLine(stdout, 'more');
    }).not.toThrow();
    expect(stdout.writableLength).toBe(0);
  });
});
