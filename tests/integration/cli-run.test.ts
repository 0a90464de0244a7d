import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, type RunningCli } from '../support/cli';
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

/** A workflow file: EmptyImage → PeerSlowSteps → SaveImage, with a colour so runs differ. */
function workflowFile(steps: number, color = Math.floor(Math.random() * 0xffffff)): { file: string; out: string } {
  const dir = tempDir('comfydesk-run-');
  dirs.push(dir);
  const file = join(dir.path, 'peer.json');
  writeFileSync(
    file,
    JSON.stringify({
      '1': { class_type: 'EmptyImage', inputs: { width: 32, height: 32, batch_size: 1, color } },
      '2': {
        class_type: 'PeerSlowSteps',
        inputs: { image: ['1', 0], steps, step_ms: 20, preview: true },
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
    const { file, out } = workflowFile(4);
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
        'step',
        'steps',
      ]);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ event: 'generation_complete', prompt_id: started.prompt_id });
    expect((last.outputs as Array<{ path: string }>)[0]!.path.startsWith(out)).toBe(true);
  });

  test('run sets the prompt, seed and any parameter; one the workflow lacks is refused before anything is queued', async () => {
    const { file, out } = workflowFile(1);
    const before = Object.keys(comfy.history()).length;
    const refused = await runCli(['run', file, '--server', comfy.url, '--out', out, '--prompt', 'a fox']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('no prompt to set with --prompt');
    const tooBig = await runCli(['run', file, '--server', comfy.url, '--out', out, '--set', '1.width=99999']);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toContain('at most');
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
    const cli = startCli(['run', file, '--server', comfy.url, '--out', out, '--json']);
    running.push(cli);
    const started = JSON.parse(await cli.waitForLine(/generation_started/)) as { prompt_id: string };
    const queue = await runCli(['queue', '--server', comfy.url, '--json']);
    expect(queue.code).toBe(0);
    expect(
      (JSON.parse(queue.stdout) as { running: Array<{ prompt_id: string }> }).running.map((item) => item.prompt_id),
    ).toEqual([started.prompt_id]);
    const cancelled = await runCli(['cancel', started.prompt_id, '--server', comfy.url]);
    expect(cancelled).toMatchObject({ code: 0 });
    expect(cancelled.stdout).toContain(`Interrupted ${started.prompt_id}`);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('cancelled');
    const again = await runCli(['cancel', started.prompt_id, '--server', comfy.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('neither running nor waiting');
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
