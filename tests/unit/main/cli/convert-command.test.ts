import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterEach, describe, expect, test } from 'vitest';
import type { Parameter } from '@shared/domain/generation';
import { createRunner, type CommandContext } from '../../../../src/main/cli/command';
import { createConvertRegistration, type ObjectInfoSource } from '../../../../src/main/cli/commands/convert';
import { parseSetValues } from '../../../../src/main/cli/parameter-flags';
import type { CliIo } from '../../../../src/main/cli/io';
import { AppError } from '../../../../src/main/core/lib/errors';
import { recordedObjectInfo } from '../../../support/corpus';
import { tempDir } from '../../../support/core';
import { textToImage } from '../../../support/workflow-builder';

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((dir) => dir.remove()));

/** Runs `comfydesk convert …` in-process with the given object_info source; returns exit code and output. */
async function run(
  args: string[],
  fetchObjectInfo: ObjectInfoSource,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const dir = tempDir();
  dirs.push(dir);
  const io: CliIo = {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: {},
    cwd: dir.path,
    interrupted: new Promise(() => undefined),
  };
  writeFileSync(join(dir.path, 'workflow.json'), JSON.stringify(textToImage(recordedObjectInfo()).workflow()));
  let code = -1;
  const context: CommandContext = { io, rendererDir: dir.path, run: createRunner(io, (exitCode) => (code = exitCode)) };
  const program = new Command('comfydesk')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  createConvertRegistration({ fetchObjectInfo })(program, context);
  await program.parseAsync(['convert', 'workflow.json', ...args], { from: 'user' });
  return { code, stdout: out, stderr: err };
}

describe('the object_info source behind --server', () => {
  test('is a function the command calls with the server URL and the timeout, so another client can take its place', async () => {
    const calls: Array<[string, number]> = [];
    const source: ObjectInfoSource = async (url, options) => {
      calls.push([url, options.timeoutMs]);
      return recordedObjectInfo();
    };
    const result = await run(['--server', 'http://gpu-pod:8188', '--timeout', '1500', '--set', 'steps=9'], source);
    expect(result.code).toBe(0);
    expect(calls).toEqual([['http://gpu-pod:8188', 1500]]);
    expect(JSON.parse(result.stdout)['3'].inputs.steps).toBe(9);
  });

  test('its failures reach the user as they are, on stderr with exit 1', async () => {
    const result = await run(['--server', 'http://gpu-pod:8188', '--json'], async () => {
      throw new AppError('comfy_unreachable', 'The tunnel to gpu-pod is down. Reconnect it in Settings.');
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toEqual({
      error: { code: 'comfy_unreachable', message: 'The tunnel to gpu-pod is down. Reconnect it in Settings.' },
    });
  });
});

describe('--set values', () => {
  const parameter = (id: string, constraints: Parameter['constraints']): Parameter => ({
    id,
    kind: 'text',
    label: id,
    group: 'advanced',
    section: 's',
    targets: [{ nodeId: '1', inputName: id }],
    value: null,
    constraints,
  });

  test('are typed by the parameter they name: numbers, booleans, numeric combo options; text stays text', () => {
    const parameters = [
      parameter('steps', { type: 'INT' }),
      parameter('on', { type: 'BOOLEAN' }),
      parameter('size', { type: 'COMBO', options: [512, 768] }),
      parameter('name', { type: 'COMBO', options: ['512'] }),
      parameter('prompt', { type: 'STRING' }),
    ];
    expect(parseSetValues(['steps=30', 'on=yes', 'size=768', 'name=512', 'prompt=12 monkeys=fun'], parameters)).toEqual(
      { steps: 30, on: true, size: 768, name: '512', prompt: '12 monkeys=fun' },
    );
  });

  test('a number that does not parse is kept as written so validation can say what was wrong', () => {
    expect(parseSetValues(['steps=many', 'other=1'], [parameter('steps', { type: 'INT' })])).toEqual({
      steps: 'many',
      other: '1',
    });
  });
});
