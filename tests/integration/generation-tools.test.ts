import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Core } from '../../src/main/core/create-core';
import { RouterCallError } from '../../src/main/core/router';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { recordedObjectInfo } from '../support/corpus';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { GraphBuilder } from '../support/workflow-builder';

const FAST_CONNECTIONS = {
  healthIntervalMs: 300,
  checkTimeoutMs: 1500,
  backoff: { initialDelayMs: 50, maxDelayMs: 300 },
};

/** A UI workflow as ComfyUI's editor saves it: a photo inverted, on a coloured canvas, saved. */
function photoWorkflow(): Record<string, unknown> {
  return new GraphBuilder(recordedObjectInfo())
    .node(1, 'LoadImage', { title: 'Photo', widgets: ['holiday.png', 'image'] })
    .node(2, 'EmptyImage', { title: 'Canvas', widgets: [512, 512, 1, 0xff8000] })
    .node(3, 'ImageBlend', { widgets: [0.5, 'normal'] })
    .node(4, 'SaveImage', { widgets: ['poster'] })
    .link([1, 0], [3, 'image1'])
    .link([2, 0], [3, 'image2'])
    .link([3, 0], [4, 'images'])
    .workflow();
}

/** The same kind of graph as an API prompt. */
const API_PROMPT = {
  '1': { class_type: 'EmptyImage', inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'api' } },
};

interface Harness {
  comfy: ComfyTestServer;
  core: Core;
  dataDir: string;
  workflowId: (file: string) => string;
  restart: () => Promise<void>;
  stop: () => Promise<void>;
}

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function setup(comfyOptions: Parameters<typeof startComfyServer>[0] = {}): Promise<Harness> {
  const comfy = await startComfyServer(comfyOptions);
  const data = tempDir('comfydesk-tools-');
  mkdirSync(join(data.path, 'workflows'), { recursive: true });
  writeFileSync(join(data.path, 'workflows', 'Photo poster.json'), JSON.stringify(photoWorkflow()));
  writeFileSync(join(data.path, 'workflows', 'Api field.json'), JSON.stringify(API_PROMPT));
  const settings = {
    connections: {
      profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
      activeId: 'test',
      alsoOnline: [],
    },
  };
  const open = async () => {
    const started = await startTestCore({ dataDir: data.path, settings, core: { connections: FAST_CONNECTIONS } });
    await waitFor(() => started.core.connections.health('test').state === 'online', { timeoutMs: 8000 });
    await waitFor(() => started.core.library.records().length >= 2);
    return started;
  };
  let started = await open();
  const result: Harness = {
    comfy,
    get core() {
      return started.core;
    },
    dataDir: data.path,
    workflowId: (file) => started.core.library.records().find((record) => record.path === file)!.id,
    restart: async () => {
      await started.core.stop();
      started = await open();
    },
    stop: async () => {
      await started.core.stop();
      await comfy.stop();
      data.remove();
    },
  };
  return result;
}

describe('presets', () => {
  test('a preset is saved per workflow, replaced by name, listed by name, deleted, and still there after a restart', async () => {
    harness = await setup();
    const workflowId = harness.workflowId('Photo poster.json');
    const router = () => harness!.core.router;
    await router().call('presets.save', { workflowId, name: 'Wide', values: { '2.width': 1024 } });
    await router().call('presets.save', {
      workflowId,
      name: 'Soft',
      values: { '3.blend_factor': 0.2 },
      seedMode: 'fixed',
    });
    const { presets } = await router().call('presets.save', {
      workflowId,
      name: 'wide',
      values: { '2.width': 1280 },
    });
    expect(presets.map((preset) => [preset.name, preset.values, preset.seedMode])).toEqual([
      ['Soft', { '3.blend_factor': 0.2 }, 'fixed'],
      ['wide', { '2.width': 1280 }, undefined],
    ]);
    expect((await router().call('presets.list', { workflowId: harness.workflowId('Api field.json') })).presets).toEqual(
      [],
    );

    await harness.restart();
    expect((await router().call('presets.list', { workflowId })).presets.map((preset) => preset.name)).toEqual([
      'Soft',
      'wide',
    ]);
    const after = await router().call('presets.delete', { workflowId, name: 'Soft' });
    expect(after.presets.map((preset) => preset.name)).toEqual(['wide']);
  });

  test('a damaged presets file is moved aside with a notice, never emptied in place', async () => {
    harness = await setup();
    await harness.core.stop();
    writeFileSync(join(harness.dataDir, 'presets.json'), '{"version": 1, "workflows": {"x": [{"name"');
    await harness.restart();
    const workflowId = harness.workflowId('Photo poster.json');
    expect((await harness.core.router.call('presets.list', { workflowId })).presets).toEqual([]);
    const aside = readdirSync(harness.dataDir).filter((name) => name.startsWith('presets.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(harness.dataDir, aside[0]!), 'utf8')).toContain('"name"');
    expect(harness.core.notices.list().map((notice) => notice.message)).toEqual([
      expect.stringMatching(/presets could not be read.*corrupt/),
    ]);
  });
});

describe('Open in ComfyUI', () => {
  test("the workflow is saved into the server's user workflows with the form's values in its widgets, and the server's page is named", async () => {
    harness = await setup();
    const { core, comfy } = harness;
    writeFileSync(join(comfy.dataDir, 'input', 'holiday.png'), 'not really a png');
    const result = await core.router.call('generation.openInComfy', {
      workflowId: harness.workflowId('Photo poster.json'),
      values: { '2.width': 768, '2.color': 0x00ff00, '3.blend_factor': 0.25 },
    });
    expect(result).toEqual({
      savedAs: 'workflows/ComfyDesk/Photo poster.json',
      url: comfy.url,
      openedBy: 'client',
    });
    const listing = (await (await fetch(`${comfy.url}/api/userdata?dir=workflows&recurse=true`)).json()) as string[];
    expect(listing).toEqual(['ComfyDesk/Photo poster.json']);
    const saved = (await (
      await fetch(`${comfy.url}/api/userdata/${encodeURIComponent('workflows/ComfyDesk/Photo poster.json')}`)
    ).json()) as { nodes: Array<{ id: number; widgets_values: unknown[] }> };
    const widgets = (id: number) => saved.nodes.find((node) => node.id === id)!.widgets_values;
    expect(widgets(1)).toEqual(['holiday.png', 'image']);
    expect(widgets(2)).toEqual([768, 512, 1, 0x00ff00]);
    expect(widgets(3)).toEqual([0.25, 'normal']);
  });

  test('a dropped file is uploaded first and the copy names it; opening again replaces the copy', async () => {
    harness = await setup();
    const { core, comfy } = harness;
    const picked = tempDir('comfydesk-pick-');
    const stop = harness.stop;
    harness.stop = async () => {
      await stop();
      picked.remove();
    };
    writeFileSync(join(picked.path, 'beach.png'), 'png bytes');
    const staged = await core.router.call('generation.stageFile', { path: join(picked.path, 'beach.png') });
    const workflowId = harness.workflowId('Photo poster.json');
    await core.router.call('generation.openInComfy', { workflowId, values: { image: { staged: staged.id } } });
    expect(readFileSync(join(comfy.dataDir, 'input', 'beach.png'), 'utf8')).toBe('png bytes');
    await core.router.call('generation.openInComfy', { workflowId, values: {} });
    const folder = join(comfy.dataDir, 'user', 'default', 'workflows', 'ComfyDesk');
    expect(readdirSync(folder)).toEqual(['Photo poster.json']);
    const saved = JSON.parse(readFileSync(join(folder, 'Photo poster.json'), 'utf8')) as {
      nodes: Array<{ id: number; widgets_values: unknown[] }>;
    };
    expect(saved.nodes.find((node) => node.id === 1)!.widgets_values[0]).toBe('holiday.png');
  });

  test('an API prompt cannot go to the workflow browser: the answer says what to do instead, and nothing is written', async () => {
    harness = await setup();
    const error = await harness.core.router
      .call('generation.openInComfy', { workflowId: harness.workflowId('Api field.json'), values: {} })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RouterCallError);
    expect((error as RouterCallError).error.userMessage).toMatch(/API prompt.*Drag the file onto ComfyUI's canvas/);
    expect(existsSync(join(harness.comfy.dataDir, 'user', 'default', 'workflows'))).toBe(false);
  });

  test('a value outside its limits is refused before anything is written', async () => {
    harness = await setup();
    const error = await harness.core.router
      .call('generation.openInComfy', {
        workflowId: harness.workflowId('Photo poster.json'),
        values: { '2.width': 0 },
      })
      .catch((caught: unknown) => caught);
    expect((error as RouterCallError).error).toMatchObject({ code: 'parameter_invalid' });
    expect(existsSync(join(harness.comfy.dataDir, 'user', 'default', 'workflows'))).toBe(false);
  });
});

describe("the server's files", () => {
  test("an image input lists the server's input folder as it is now, not as it was when the connection opened", async () => {
    harness = await setup();
    const workflowId = harness.workflowId('Photo poster.json');
    const before = await harness.core.router.call('generation.form', { workflowId });
    expect(before.parameters.find((parameter) => parameter.id === 'image')!.constraints.options).toEqual([]);
    writeFileSync(join(harness.comfy.dataDir, 'input', 'holiday.png'), 'x');
    writeFileSync(join(harness.comfy.dataDir, 'input', 'notes.txt'), 'x');
    const after = await harness.core.router.call('generation.form', { workflowId });
    expect(after.parameters.find((parameter) => parameter.id === 'image')!.constraints.options).toEqual([
      'holiday.png',
    ]);
  });

  test("the Models page lists model files only: not the node packs' code in custom_nodes", async () => {
    harness = await setup({
      models: {
        checkpoints: ['sd15.safetensors'],
        custom_nodes: ['__init__.py', 'my_pack/nodes.py', 'my_pack/README.md'],
        configs: ['v1-inference.yaml'],
      },
    });
    const listing = await harness.core.router.call('models.list', { refresh: true });
    const folders = Object.fromEntries(listing.folders.map((folder) => [folder.name, folder.files]));
    expect(folders.checkpoints).toEqual(['sd15.safetensors']);
    expect(folders.configs).toEqual(['v1-inference.yaml']);
    expect(folders).not.toHaveProperty('custom_nodes');
    // The server itself does list them (the filter is ComfyDesk's).
    expect(await (await fetch(`${harness.comfy.url}/api/models/custom_nodes`)).json()).toEqual([
      '__init__.py',
      'my_pack/README.md',
      'my_pack/nodes.py',
    ]);
  });
});
