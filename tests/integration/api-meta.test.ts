import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';

/**
 * The seed's metadata convention: an API-format file may carry a top-level `_meta` with the name,
 * description and category its card shows. ComfyUI refuses any top-level entry that is not a node,
 * so the file must still be selectable, convertible and runnable, with `_meta` never sent.
 */
const META = { name: 'Red square', description: 'A red canvas through the slow sampler', category: 'Checks' };

function metaWorkflow(): Record<string, unknown> {
  return {
    _meta: META,
    '1': { class_type: 'EmptyImage', inputs: { width: 32, height: 32, batch_size: 1, color: 16711680 } },
    '2': {
      class_type: 'PeerSlowSteps',
      inputs: { image: ['1', 0], steps: 2, step_ms: 10, preview: false },
      _meta: { title: 'Slow sampler' },
    },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'meta' } },
  };
}

let comfy: ComfyTestServer;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  comfy = await startComfyServer();
  cleanups.push(() => comfy.stop());
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('an API prompt with a top-level _meta', () => {
  test('its card shows the metadata and is ready; selecting it, and a run, work and never send _meta', async () => {
    const data = tempDir('comfydesk-meta-');
    cleanups.push(() => data.remove());
    mkdirSync(join(data.path, 'workflows'), { recursive: true });
    writeFileSync(join(data.path, 'workflows', 'red.json'), JSON.stringify(metaWorkflow()));
    const started = await startTestCore({
      dataDir: data.path,
      settings: {
        library: { includeAppFolder: true, folders: [] },
        connections: {
          profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
          activeId: 'test',
          alsoOnline: [],
        },
      },
      core: { connections: { healthIntervalMs: 300, checkTimeoutMs: 1500 } },
    });
    cleanups.push(() => started.stop());
    const { core } = started;

    // The card: its own name, description and category, and Ready on this server.
    const card = await waitFor(
      async () => {
        const { items } = await core.router.call('workflows.list', {});
        const found = items.find((candidate) => candidate.path === 'red.json');
        return found?.compat.status === 'ready' ? found : undefined;
      },
      { timeoutMs: 10_000, message: 'the card did not become ready' },
    );
    expect(card).toMatchObject({ ...META, error: null, format: 'api' });

    const form = await core.router.call('generation.form', { workflowId: card.id });
    expect(form).toMatchObject({ format: 'api', missingNodeTypes: [] });

    const { jobIds } = await core.router.call('jobs.enqueue', { workflowId: card.id });
    const job = await waitFor(
      () => {
        const current = core.jobs.get(jobIds[0]!);
        return current && ['succeeded', 'failed', 'lost', 'cancelled'].includes(current.status) ? current : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect([job.status, job.error]).toEqual(['succeeded', null]);
    const sent = comfy.history()[job.promptId!] as { prompt: [number, string, Record<string, unknown>] };
    expect(Object.keys(sent.prompt[2]).sort()).toEqual(['1', '2', '3']);
  });

  test('comfydesk convert prints the nodes alone, and comfydesk run runs the file', async () => {
    const dir = tempDir('comfydesk-meta-cli-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'red.json');
    writeFileSync(file, JSON.stringify(metaWorkflow()));

    const converted = await runCli(['convert', file, '--server', comfy.url]);
    expect(converted.stderr).not.toContain('neither');
    expect(converted.code).toBe(0);
    expect(Object.keys(JSON.parse(converted.stdout) as object).sort()).toEqual(['1', '2', '3']);

    const ran = await runCli(['run', file, '--server', comfy.url, '--out', join(dir.path, 'out')]);
    expect([ran.code, ran.stderr]).toEqual([0, expect.not.stringContaining('neither')]);
    expect(ran.stdout).toContain('meta_');
  });
});
