import { afterEach, describe, expect, test } from 'vitest';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { runCli } from '../support/cli';
import { startRunPodStandIn, type RunPodStandIn } from '../support/runpod-stand-in';

const KEY = 'rpa_CLITEST';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(): Promise<{ standIn: RunPodStandIn; comfy: ComfyTestServer; env: NodeJS.ProcessEnv }> {
  const comfy = await startComfyServer();
  cleanup.push(() => comfy.stop());
  const standIn = await startRunPodStandIn({
    apiKey: KEY,
    pods: [
      {
        id: 'clipod4090',
        name: 'comfy-4090',
        desiredStatus: 'RUNNING',
        costPerHr: 0.69,
        gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, displayName: 'RTX 4090' },
        publicIp: '203.0.113.5',
        portMappings: { '22': 10022 },
        ports: ['8188/http', '22/tcp'],
        image: 'runpod/comfyui:latest',
        stopDelayMs: 300,
      },
      {
        id: 'clipodstopped',
        name: 'old-a40',
        desiredStatus: 'EXITED',
        costPerHr: 0.44,
        gpu: { id: 'NVIDIA A40', count: 2, displayName: 'A40' },
        publicIp: null,
        portMappings: {},
        ports: ['8188/http'],
        image: 'runpod/comfyui:latest',
        startDelayMs: 300,
      },
    ],
    onStopped: () => comfy.crash(),
    onStarted: () => comfy.start(),
  });
  cleanup.push(() => standIn.stop());
  const env = {
    RUNPOD_API_KEY: KEY,
    RUNPOD_API_URL: standIn.url,
    // The pod's HTTPS proxy address, pointed at the test's ComfyUI.
    COMFYDESK_RUNPOD_PROXY_URL: comfy.url,
    SSH_AUTH_SOCK: '',
  };
  return { standIn, comfy, env };
}

describe('comfydesk pods', () => {
  test('lists the pods with status, GPU, $/h and how to reach ComfyUI', async () => {
    const { env } = await setup();
    const table = await runCli(['pods'], { env });
    expect(table).toMatchObject({ code: 0 });
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +STATUS +GPU +COST +COMFYUI$/);
    expect(lines[1]).toMatch(
      /^clipod4090 +comfy-4090 +running +RTX 4090 +\$0\.69\/h +ssh root@203\.0\.113\.5 -p 10022$/,
    );
    expect(lines[2]).toMatch(/^clipodstopped +old-a40 +stopped +2× A40 +\$0\.44\/h *$/);
    const json = await runCli(['pods', '--json'], { env });
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        id: 'clipod4090',
        status: 'running',
        gpu: 'RTX 4090',
        costPerHr: 0.69,
        ssh: 'root@203.0.113.5 -p 10022',
        proxyUrl: expect.any(String),
      }),
      expect.objectContaining({ id: 'clipodstopped', status: 'stopped', ssh: null, proxyUrl: null }),
    ]);
  });

  test('without RUNPOD_API_KEY, or with a wrong one, it says what to do and exits 1', async () => {
    const { env } = await setup();
    const missing = await runCli(['pods'], { env: { ...env, RUNPOD_API_KEY: '' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Set RUNPOD_API_KEY/);
    const wrong = await runCli(['pods', '--json'], { env: { ...env, RUNPOD_API_KEY: 'rpa_WRONG' } });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr)).toMatchObject({ error: { code: 'runpod_unauthorized' } });
  });

  test('stop waits until RunPod reports the pod stopped', async () => {
    const { env, standIn } = await setup();
    const stopped = await runCli(['pods', 'stop', 'comfy-4090', '--poll', '0.05'], { env });
    expect(stopped).toMatchObject({ code: 0 });
    expect(stopped.stdout).toMatch(/^Stopped comfy-4090 \(clipod4090\)\./);
    expect(standIn.pod('clipod4090').desiredStatus).toBe('EXITED');
    expect(standIn.requests.filter((request) => request.path.endsWith('/stop'))).toHaveLength(1);
  });

  test('start waits until the pod runs and its ComfyUI answers', async () => {
    const { env, comfy } = await setup();
    await comfy.crash(); // the stopped pod's ComfyUI is not there yet
    const started = await runCli(['pods', 'start', 'clipodstopped', '--poll', '0.05', '--json'], { env });
    expect(started).toMatchObject({ code: 0 });
    expect(JSON.parse(started.stdout)).toEqual({
      id: 'clipodstopped',
      name: 'old-a40',
      status: 'running',
      costPerHr: 0.44,
      comfyui: { route: `${comfy.url} (HTTPS proxy)`, version: '0.3.64' },
    });
  });

  test('an unknown pod is named in the error', async () => {
    const { env } = await setup();
    const result = await runCli(['pods', 'stop', 'nope'], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/No pod nope in this RunPod account/);
  });
});
