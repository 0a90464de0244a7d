import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Job } from '@shared/domain/job';
import { CLI, ROOT, runCli, startCli, type RunningCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { tempDir, waitFor } from '../support/core';

let comfy: ComfyTestServer;
const dirs: Array<{ remove: () => void }> = [];
const running: RunningCli[] = [];

beforeAll(async () => {
  comfy = await startComfyServer();
});
afterAll(() => comfy.stop());
afterEach(async () => {
  for (const cli of running.splice(0)) {
    cli.child.kill('SIGKILL');
    await cli.exited;
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

/** A data folder shared by the commands of one test (they attach to whichever of them owns it). */
function home(): { COMFYDESK_HOME: string } {
  const dir = tempDir('comfydesk-run-home-');
  dirs.push(dir);
  return { COMFYDESK_HOME: dir.path };
}

/** A workflow file: EmptyImage → PeerSlowSteps → SaveImage, with a colour so runs differ. */
function workflowFile(
  steps: number,
  color = Math.floor(Math.random() * 0xffffff),
  stepMs = 20,
): { file: string; out: string } {
  const dir = tempDir('comfydesk-run-');
  dirs.push(dir);
  const file = join(dir.path, 'peer.json');
  writeFileSync(
    file,
    JSON.stringify({
      '1': { class_type: 'EmptyImage', inputs: { width: 32, height: 32, batch_size: 1, color } },
      '2': {
        class_type: 'PeerSlowSteps',
        inputs: { image: ['1', 0], steps, step_ms: stepMs, preview: true },
        _meta: { title: 'Slow sampler' },
      },
      '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'cli' } },
    }),
  );
  return { file, out: join(dir.path, 'out') };
}

describe('comfydesk run / queue / cancel', () => {
  test('run queues the workflow, saves its output into --out and prints the path', async () => {
    const { file, out } = workflowFile(3);
    const result = await runCli(['run', file, '--server', comfy.url, '--out', out]);
    expect(result.stderr).toContain('Queued peer');
    expect(result.code).toBe(0);
    const printed = result.stdout.trim().split('\n');
    expect(printed).toHaveLength(1);
    expect(existsSync(printed[0]!)).toBe(true);
    expect(printed[0]!.startsWith(out)).toBe(true);
  });

  test("run --json prints one event per line with the seed's names and fields, ending with generation_complete", async () => {
    const { file, out } = workflowFile(4, undefined, 150);
    const result = await runCli(['run', file, '--server', comfy.url, '--out', out, '--json']);
    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'queue_updated' });
    const started = events.find((event) => event.event === 'generation_started')!;
    expect(started.prompt_id).toEqual(expect.any(String));
    const progress = events.filter((event) => event.event === 'generation_progress');
    expect(progress.some((event) => event.node_name === 'Slow sampler' && event.step === 2 && event.steps === 4)).toBe(
      true,
    );
    for (const event of progress)
      expect(Object.keys(event).sort()).toEqual([
        'eta',
        'event',
        'node_name',
        'progress',
        'prompt_id',
        'server',
        'step',
        'steps',
      ]);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ event: 'generation_complete', prompt_id: started.prompt_id });
    expect((last.outputs as Array<{ path: string }>)[0]!.path.startsWith(out)).toBe(true);
  });

  test('run sets the prompt, seed and any parameter; a value the workflow refuses is a usage error before anything is queued', async () => {
    const { file, out } = workflowFile(1);
    const before = Object.keys(comfy.history()).length;
    const refused = await runCli(['run', file, '--server', comfy.url, '--out', out, '--prompt', 'a fox']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^comfydesk: This workflow has no prompt to set with --prompt \(its parameters: .*\)\.\n$/,
    );
    const tooBig = await runCli(['run', file, '--server', comfy.url, '--out', out, '--set', '1.width=99999']);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toMatch(/^comfydesk: "[^"]+" must be at most \d+ \(got 99999\); nothing was sent\.\n$/);
    const notNumber = await runCli(['run', file, '--server', comfy.url, '--out', out, '--set', '1.width=abc']);
    expect(notNumber.code).toBe(2);
    const missing = await runCli(['run', file, '--server', comfy.url, '--out', out, '--input', 'nowhere.mp3']);
    expect(missing.code).toBe(2);
    expect(Object.keys(comfy.history()).length).toBe(before);
    const ok = await runCli(['run', file, '--server', comfy.url, '--out', out, '--set', '1.width=48']);
    expect(ok.code).toBe(0);
  });

  test("a run that fails on the server exits 1 with ComfyUI's own error text", async () => {
    const { file, out } = workflowFile(2);
    comfy.injectFailure({
      classType: 'PeerSlowSteps',
      kind: 'exception',
      message: 'CUDA out of memory. Tried to allocate 2.00 GiB',
    });
    const result = await runCli(['run', file, '--server', comfy.url, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CUDA out of memory. Tried to allocate 2.00 GiB');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  test("queue lists another process's run, cancel interrupts it, and that run exits non-zero saying it was cancelled", async () => {
    const { file, out } = workflowFile(500);
    const env = home();
    const cli = startCli(['run', file, '--server', comfy.url, '--out', out, '--json'], { env });
    running.push(cli);
    const started = JSON.parse(await cli.waitForLine(/generation_started/)) as { prompt_id: string };
    const queue = await runCli(['queue', '--server', comfy.url, '--json'], { env });
    expect(queue.code).toBe(0);
    const listed = JSON.parse(queue.stdout) as {
      running: Array<{ prompt_id: string; origin: string; workflow: string }>;
    };
    expect(listed.running).toEqual([
      expect.objectContaining({ prompt_id: started.prompt_id, origin: 'comfydesk', workflow: 'peer' }),
    ]);
    const cancelled = await runCli(['cancel', started.prompt_id, '--server', comfy.url], { env });
    expect(cancelled).toMatchObject({ code: 0 });
    expect(cancelled.stdout).toContain(`Interrupted ${started.prompt_id}`);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('cancelled');
    const again = await runCli(['cancel', started.prompt_id, '--server', comfy.url], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('neither running nor waiting');
  });

  test("queue and cancel in a folder nobody owns still see other clients' jobs on the server", async () => {
    const { file, out } = workflowFile(500);
    // The run works in a data folder of its own: for the commands below it is just another client.
    const cli = startCli(['run', file, '--server', comfy.url, '--out', out, '--json'], { env: home() });
    running.push(cli);
    const started = JSON.parse(await cli.waitForLine(/generation_started/)) as { prompt_id: string };
    const env = home();
    const queue = JSON.parse((await runCli(['queue', '--server', comfy.url, '--json'], { env })).stdout) as {
      running: Array<{ prompt_id: string; origin: string }>;
    };
    expect(queue.running).toEqual([
      expect.objectContaining({ prompt_id: started.prompt_id, origin: 'another client' }),
    ]);
    const cancelled = await runCli(['cancel', started.prompt_id, '--server', comfy.url], { env });
    expect(cancelled.stdout).toContain(`Interrupted ${started.prompt_id}`);
    expect(await cli.exited).toBe(1);
  });

  test('Ctrl+C during a run cancels the job on the server and exits 130', async () => {
    const { file, out } = workflowFile(500);
    const cli = startCli(['run', file, '--server', comfy.url, '--out', out, '--json']);
    running.push(cli);
    const started = JSON.parse(await cli.waitForLine(/generation_started/)) as { prompt_id: string };
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    await waitFor(() => comfy.queue().running.length === 0);
    const status = (comfy.history()[started.prompt_id] as { status: { messages: Array<[string]> } }).status.messages.at(
      -1,
    )![0];
    expect(status).toBe('execution_interrupted');
  });

  test('an unreachable server is reported within seconds', async () => {
    const { file } = workflowFile(1);
    const started = Date.now();
    const result = await runCli(['run', file, '--server', 'http://127.0.0.1:9', '--timeout', '3']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused|isn't answering|could not be reached/i);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('comfydesk run when the link to ComfyUI or its own output goes away', () => {
  let server: ComfyTestServer;
  beforeAll(async () => {
    server = await startComfyServer();
  });
  afterAll(() => server.stop());

  test('a ComfyUI that is killed mid-run is waited for; back without the job, run says the job was lost and exits 1', async () => {
    const { file, out } = workflowFile(300, undefined, 50);
    const cli = startCli(['run', file, '--server', server.url, '--out', out]);
    running.push(cli);
    await waitFor(() => cli.stderr().includes('Queued peer'), { timeoutMs: 20_000 });
    await waitFor(() => server.queue().running.length === 1, { timeoutMs: 10_000 });
    await server.crash();
    await waitFor(() => cli.stderr().includes('Lost the live connection to'), {
      timeoutMs: 20_000,
      message: `run did not wait for the server: ${cli.stderr()}`,
    });
    expect(cli.child.exitCode).toBeNull();
    await server.start();
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain(`comfydesk: The job was lost: ${server.url} no longer knows it`);
    expect(cli.stderr()).not.toMatch(/unsettled top-level await|Error:|at async/);
  });

  test('run follows its job across a WebSocket-only drop and finishes it', async () => {
    const { file, out } = workflowFile(20, undefined, 100);
    const cli = startCli(['run', file, '--server', server.url, '--out', out, '--json']);
    running.push(cli);
    await cli.waitForLine(/"step":\d+,/, 20_000);
    server.dropSockets();
    expect(await cli.exited).toBe(0);
    const last = JSON.parse(cli.stdout().trim().split('\n').at(-1)!) as {
      event: string;
      outputs: Array<{ path: string }>;
    };
    expect(last.event).toBe('generation_complete');
    expect(existsSync(last.outputs[0]!.path)).toBe(true);
  });

  test('run --json piped into head -1 stops without an EPIPE error, cancels its job and exits 141', async () => {
    const { file, out } = workflowFile(300, undefined, 50);
    const env = home();
    const dir = tempDir('comfydesk-pipe-');
    dirs.push(dir);
    const stderrFile = join(dir.path, 'stderr');
    // Not spawnSync: the ComfyUI test server lives in this process and must keep answering meanwhile.
    const pipeline = await new Promise<{ status: number | null; stdout: string }>((resolvePromise) => {
      const child = spawn(
        'bash',
        [
          '-c',
          `"${process.execPath}" "${CLI}" run "${file}" --server ${server.url} --out "${out}" --json 2>"${stderrFile}" | head -1; exit \${PIPESTATUS[0]}`,
        ],
        { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('close', (status) => resolvePromise({ status, stdout }));
    });
    expect(JSON.parse(pipeline.stdout)).toMatchObject({ event: 'queue_updated' });
    expect(pipeline.status).toBe(141);
    expect(readFileSync(stderrFile, 'utf8')).toBe('');
    const history = JSON.parse((await runCli(['history', '--json'], { env })).stdout) as Job[];
    expect(history[0]).toMatchObject({ workflowName: 'peer', status: 'cancelled' });
  });

  test('"Queued" is said only once ComfyUI accepted the prompt: a prompt it refuses never claims it was queued', async () => {
    const dir = tempDir('comfydesk-refused-');
    dirs.push(dir);
    const file = join(dir.path, 'mismatch.json');
    writeFileSync(
      file,
      JSON.stringify({
        '1': { class_type: 'EmptyImage', inputs: { width: 32, height: 32, batch_size: 1, color: 0 } },
        '2': { class_type: 'GetImageSize', inputs: { image: ['1', 0] } },
        '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'never' } },
      }),
    );
    const result = await runCli(['run', file, '--server', server.url, '--out', join(dir.path, 'out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ComfyUI refused the prompt');
    expect(result.stderr).not.toContain('Queued');
  });
});
