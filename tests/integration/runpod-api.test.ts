import { afterEach, describe, expect, test } from 'vitest';
import type { AppError } from '../../src/main/core/lib/errors';
import { silentLogger } from '../../src/main/core/lib/logger';
import { RunPodApi } from '../../src/main/core/pods/runpod-api';
import { startRunPodStandIn, type RunPodStandIn, type StandInPod } from '../support/runpod-stand-in';

const KEY = 'rpa_TESTKEY';

const a100: StandInPod = {
  id: 'xedezhzb9la3ye',
  name: 'comfy-a100',
  desiredStatus: 'RUNNING',
  costPerHr: 1.19,
  gpu: { id: 'NVIDIA A100 80GB PCIe', count: 1, displayName: 'A100 PCIe' },
  publicIp: '203.0.113.7',
  portMappings: { '22': 10341 },
  ports: ['8188/http', '22/tcp'],
  image: 'runpod/comfyui:latest',
};

const stopped: StandInPod = {
  id: 'k2v9stoppedpod',
  name: 'old-4090',
  desiredStatus: 'EXITED',
  costPerHr: 0.69,
  gpu: { id: 'NVIDIA GeForce RTX 4090', count: 1, displayName: 'RTX 4090' },
  publicIp: null,
  portMappings: {},
  ports: ['8188/http'],
  image: 'runpod/comfyui:latest',
};

let standIn: RunPodStandIn | undefined;
afterEach(async () => {
  await standIn?.stop();
  standIn = undefined;
});

function api(options: { key?: string; waits?: number[]; now?: () => number } = {}): RunPodApi {
  return new RunPodApi({
    apiKey: options.key ?? KEY,
    baseUrl: standIn!.url,
    log: silentLogger,
    wait: async (ms) => {
      options.waits?.push(ms);
    },
  });
}

describe("RunPod's REST API (against the documented shapes)", () => {
  test('lists the pods with status, GPU, $/h, public IP and port mappings, sending the key as a bearer token', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100, stopped] });
    const pods = await api().listPods();
    expect(pods).toEqual([
      {
        id: 'xedezhzb9la3ye',
        name: 'comfy-a100',
        desiredStatus: 'RUNNING',
        costPerHr: 1.19,
        gpuName: 'A100 PCIe',
        gpuCount: 1,
        publicIp: '203.0.113.7',
        portMappings: { '22': 10341 },
        ports: ['8188/http', '22/tcp'],
        image: 'runpod/comfyui:latest',
        lastStatusChange: expect.stringMatching(/^Rented by User: /),
      },
      expect.objectContaining({ id: 'k2v9stoppedpod', desiredStatus: 'EXITED', publicIp: null, portMappings: {} }),
    ]);
    expect(standIn.requests).toEqual([{ method: 'GET', path: '/v1/pods', authorized: true }]);
  });

  test('a wrong key is refused with a message that says where to make one', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100] });
    const error = (await api({ key: 'rpa_WRONG' })
      .listPods()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('runpod_unauthorized');
    expect(error.userMessage).toMatch(/HTTP 401.*Settings › API Keys/);
  });

  test('rate limiting is waited out as Retry-After asks, then the answer comes', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100] });
    standIn.rateLimit(2, 3);
    const waits: number[] = [];
    const pod = await api({ waits }).getPod(a100.id);
    expect(pod.id).toBe(a100.id);
    expect(waits).toEqual([3000, 3000]);
    expect(standIn.requests.map((request) => request.path)).toEqual(Array(3).fill(`/v1/pods/${a100.id}`));
  });

  test('rate limiting that does not end becomes a runpod_rate_limited error after a few tries', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100] });
    standIn.rateLimit(10, 1);
    const error = (await api()
      .listPods()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('runpod_rate_limited');
    expect(standIn.requests).toHaveLength(4);
  });

  test("an unknown pod is pod_not_found; stopping one is refused in RunPod's own words", async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100] });
    const missing = (await api()
      .getPod('nosuchpod')
      .catch((caught: unknown) => caught)) as AppError;
    expect(missing.code).toBe('pod_not_found');
    const refused = (await api()
      .stopPod('nosuchpod')
      .catch((caught: unknown) => caught)) as AppError;
    expect(refused.code).toBe('runpod_error');
    expect(refused.userMessage).toBe('RunPod refused the request for pod nosuchpod: Invalid Pod ID.');
  });

  test('a pod that takes a minute to stop reads as running until then, and then as exited without its address', async () => {
    let clock = Date.parse('2026-12-01T10:00:00Z');
    standIn = await startRunPodStandIn({
      apiKey: KEY,
      pods: [{ ...a100, stopDelayMs: 60_000 }],
      now: () => clock,
    });
    const client = api();
    await client.stopPod(a100.id);
    clock += 30_000;
    expect((await client.getPod(a100.id)).desiredStatus).toBe('RUNNING');
    clock += 31_000;
    const pod = await client.getPod(a100.id);
    expect(pod).toMatchObject({ desiredStatus: 'EXITED', publicIp: null, portMappings: {} });
    expect(pod.lastStatusChange).toMatch(/^Exited by user/);
  });

  test('costPerHr is read whether RunPod sends it as a number or as a string', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [a100] });
    const fetchWithString: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = (await response.json()) as Record<string, unknown>;
      return Response.json({ ...body, costPerHr: '0.74' });
    };
    const pod = await new RunPodApi({
      apiKey: KEY,
      baseUrl: standIn.url,
      log: silentLogger,
      fetch: fetchWithString,
    }).getPod(a100.id);
    expect(pod.costPerHr).toBe(0.74);
  });

  test('an API that cannot be reached is runpod_unreachable, not a crash', async () => {
    standIn = await startRunPodStandIn({ apiKey: KEY, pods: [] });
    const url = standIn.url;
    await standIn.stop();
    standIn = undefined;
    const error = (await new RunPodApi({ apiKey: KEY, baseUrl: url, log: silentLogger })
      .listPods()
      .catch((caught: unknown) => caught)) as AppError;
    expect(error.code).toBe('runpod_unreachable');
    expect(error.userMessage).toMatch(/ECONNREFUSED/);
  });
});
