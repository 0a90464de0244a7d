import { describe, expect, test } from 'vitest';
import { isRunPodProxyUrl, podReach, type Pod } from '@shared/domain/pod';
import { retryAfter } from '../../../../../src/main/core/pods/runpod-api';
import { parseCustomNodesListing } from '../../../../../src/main/core/snapshots/remote-scripts';
import { normalizeRepository, readPyproject } from '../../../../../src/main/core/snapshots/take-snapshot';

const pod = (overrides: Partial<Pod> = {}): Pod => ({
  id: 'abc123',
  name: 'comfy',
  desiredStatus: 'RUNNING',
  costPerHr: 0.79,
  gpuName: 'RTX 4090',
  gpuCount: 1,
  publicIp: '203.0.113.7',
  portMappings: { '22': 10341 },
  ports: ['8188/http', '22/tcp'],
  image: null,
  lastStatusChange: null,
  ...overrides,
});

describe('how a pod is reached', () => {
  test('full SSH to the public IP and the port mapped to 22 when the pod exposes it', () => {
    expect(podReach(pod(), { comfyPort: 8188, access: 'auto' })).toEqual({
      ok: true,
      route: { kind: 'ssh', host: '203.0.113.7', port: 10341, username: 'root' },
    });
  });

  test("RunPod's HTTPS proxy when SSH is not exposed, saying why basic SSH is no way in", () => {
    const reach = podReach(pod({ portMappings: {}, ports: ['8188/http'] }), { comfyPort: 8188, access: 'auto' });
    expect(reach).toMatchObject({ ok: true, route: { kind: 'proxy', url: 'https://abc123-8188.proxy.runpod.net' } });
    expect(reach.ok && reach.note).toMatch(/basic SSH .* cannot forward ports/);
  });

  test('forcing the proxy or SSH, a pod still starting, a stopped pod and a pod exposing neither', () => {
    expect(podReach(pod(), { comfyPort: 8188, access: 'proxy' })).toMatchObject({ route: { kind: 'proxy' } });
    expect(podReach(pod({ ports: ['22/tcp'] }), { comfyPort: 8188, access: 'proxy' })).toMatchObject({ ok: false });
    expect(podReach(pod({ publicIp: null }), { comfyPort: 8188, access: 'ssh' })).toEqual({
      ok: false,
      reason: 'The pod comfy has no public IP yet; it is probably still starting.',
    });
    expect(podReach(pod({ desiredStatus: 'EXITED' }), { comfyPort: 8188, access: 'auto' })).toEqual({
      ok: false,
      reason: 'The pod comfy is stopped. Start it to connect.',
    });
    expect(
      podReach(pod({ portMappings: {}, ports: ['8888/http'] }), { comfyPort: 8188, access: 'auto' }),
    ).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/exposes neither TCP port 22 nor HTTP port 8188/),
    });
  });

  test('RunPod proxy addresses are recognised (they cut silent requests after 100 s)', () => {
    expect(isRunPodProxyUrl('https://abc123-8188.proxy.runpod.net')).toBe(true);
    expect(isRunPodProxyUrl('https://proxy.runpod.net.evil.example')).toBe(false);
    expect(isRunPodProxyUrl('http://127.0.0.1:8188')).toBe(false);
  });

  test('Retry-After is read as seconds or as an HTTP date', () => {
    expect(retryAfter('7')).toBe(7000);
    expect(retryAfter('Tue, 01 Dec 2026 10:00:30 GMT', Date.parse('2026-12-01T10:00:00Z'))).toBe(30_000);
    expect(retryAfter(null)).toBeUndefined();
    expect(retryAfter('soon')).toBeUndefined();
  });
});

describe('what a snapshot reads from custom_nodes', () => {
  test('git remotes become https repository addresses without credentials or .git', () => {
    expect(normalizeRepository('git@github.com:kijai/ComfyUI-KJNodes.git')).toBe(
      'https://github.com/kijai/ComfyUI-KJNodes',
    );
    expect(normalizeRepository('ssh://git@github.com/kijai/ComfyUI-KJNodes')).toBe(
      'https://github.com/kijai/ComfyUI-KJNodes',
    );
    expect(normalizeRepository('https://user:token@gitlab.example/a/b.git')).toBe('https://gitlab.example/a/b');
  });

  test("pyproject.toml gives a registry pack's id, version and repository", () => {
    expect(
      readPyproject(
        '[project]\nname = "comfyui-impact-pack"\nversion = "8.8.1"\ndependencies = ["x"]\n\n[project.urls]\nRepository = "https://github.com/ltdrdata/ComfyUI-Impact-Pack"\n\n[tool.comfy]\nPublisherId = "drltdata"\n',
      ),
    ).toEqual({
      name: 'comfyui-impact-pack',
      version: '8.8.1',
      repository: 'https://github.com/ltdrdata/ComfyUI-Impact-Pack',
      isRegistryPack: true,
    });
    expect(readPyproject('[project]\nname = "plain"\n').isRegistryPack).toBe(false);
  });

  test('the listing script’s output is read pack by pack', () => {
    const pyproject = Buffer.from('[project]\nname = "p"\n').toString('base64');
    expect(
      parseCustomNodesListing(
        `@@pack\tA\t1\nremote\tgit@github.com:o/a.git\ncommit\t${'a'.repeat(40)}\nbranch\tmain\ndirty\t0\n@@pack\tB.disabled\t0\npyproject\t${pyproject}\n@@git\t1\n`,
      ),
    ).toEqual({
      hasGit: true,
      packs: [
        {
          name: 'A',
          enabled: true,
          remote: 'git@github.com:o/a.git',
          commit: 'a'.repeat(40),
          branch: 'main',
          dirty: false,
        },
        { name: 'B.disabled', enabled: false, pyproject: '[project]\nname = "p"\n' },
      ],
    });
  });
});
