import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Core } from '../../src/main/core/create-core';
import { RouterCallError } from '../../src/main/core/router';
import { startComfyServer, type ComfyTestServer, type ManagerOptions } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { TestFileServer } from '../support/file-server';
import { customNode, loaderNode, transferIn, workflowOf } from '../support/transfers';

const FAST = { healthIntervalMs: 300, checkTimeoutMs: 1500, backoff: { initialDelayMs: 50, maxDelayMs: 300 } };
const LISTED = randomBytes(300_000);
const POD = '/workspace/ComfyUI';
const KJ = 'https://github.com/kijai/ComfyUI-KJNodes';
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/**
 * A server reached by its web address only, reporting folders of another machine (`/workspace/ComfyUI`,
 * as a RunPod pod does), with or without ComfyUI-Manager.
 */
async function setup(manager: ((files: TestFileServer) => ManagerOptions) | undefined) {
  const files = new TestFileServer().serve('/m/listed.safetensors', LISTED).serve('/m/other.safetensors', LISTED);
  await files.start();
  stops.push(() => files.stop());
  const listed = {
    name: 'Listed checkpoint',
    type: 'checkpoint',
    base: 'SD1.5',
    save_path: 'default',
    filename: 'listed.safetensors',
    url: files.url('/m/listed.safetensors'),
    size: '300KB',
  };
  files.serve('/model-list.json', Buffer.from(JSON.stringify({ models: [listed] })));
  files.serve('/node-map.json', Buffer.from(JSON.stringify({ [KJ]: [['ImageResizeKJ'], { title_aux: 'KJNodes' }] })));
  const comfy: ComfyTestServer = await startComfyServer({
    reportedBase: POD,
    ...(manager ? { manager: manager(files) } : {}),
  });
  stops.push(() => comfy.stop());
  const folder = tempDir('comfydesk-wf-');
  stops.push(() => folder.remove());
  writeFileSync(
    join(folder.path, 'pod.json'),
    JSON.stringify(
      workflowOf('Pod workflow', [
        loaderNode(1, 'CheckpointLoaderSimple', 'listed.safetensors', { url: listed.url, directory: 'checkpoints' }),
        loaderNode(2, 'VAELoader', 'other.safetensors', { url: files.url('/m/other.safetensors'), directory: 'vae' }),
        customNode(3, 'ImageResizeKJ', { aux_id: 'kijai/ComfyUI-KJNodes' }),
      ]),
    ),
  );
  const started = await startTestCore({
    settings: {
      connections: {
        profiles: [{ id: 'pod', kind: 'url', name: 'RunPod', url: comfy.url }],
        activeId: 'pod',
        alsoOnline: [],
      },
      library: { includeAppFolder: false, folders: [folder.path] },
      transfers: { modelListUrl: files.url('/model-list.json'), nodeMapUrl: files.url('/node-map.json') },
    },
    core: { connections: FAST, transfers: { retryDelayMs: () => 1, pollIntervalMs: 30, env: {} } },
  });
  stops.push(() => started.stop());
  const core: Core = started.core;
  const card = await waitFor(
    () => core.library.snapshot().items.find((item) => item.name === 'Pod workflow' && item.compat.serverId === 'pod'),
    { timeoutMs: 10_000 },
  );
  return { core, comfy, files, workflowId: card.id, listedUrl: listed.url };
}

async function failure(promise: Promise<unknown>): Promise<RouterCallError['error']> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RouterCallError);
  return (error as RouterCallError).error;
}

describe('a server reached by its web address, with ComfyUI-Manager', () => {
  test('files of its model list go through ComfyUI-Manager, the others get a command to run on the pod', async () => {
    const s = await setup(() => ({ models: [], packs: [{ url: KJ, nodeTypes: ['ImageResizeKJ'] }] }));
    // The emulated Manager's list is the same public list ComfyDesk read.
    s.comfy.manager!.options.models = [
      {
        name: 'Listed checkpoint',
        type: 'checkpoint',
        base: 'SD1.5',
        save_path: 'default',
        filename: 'listed.safetensors',
        url: s.listedUrl,
      },
    ];
    const report = await s.core.router.call('transfers.missing', { workflowId: s.workflowId });
    expect(report).toMatchObject({ method: 'manager', manager: { version: 'V3.30.4', prefix: '/manager' } });
    const byName = Object.fromEntries(report.models.map((model) => [model.name, model]));
    expect(byName['listed.safetensors']).toMatchObject({
      method: 'manager',
      destinationDir: `${POD}/models/checkpoints`,
    });
    expect(byName['other.safetensors']).toMatchObject({ method: 'manual', destinationDir: `${POD}/models/vae` });
    expect(report.commands).toHaveLength(1);
    expect(report.commands[0]!.command).toContain(
      `mkdir -p '${POD}/models/vae' && cd '${POD}/models/vae' && curl -L --fail -C - -o 'other.safetensors.part' '${s.files.url('/m/other.safetensors')}' && mv 'other.safetensors.part' 'other.safetensors'`,
    );
    expect(report.packs).toMatchObject([
      { id: KJ, title: 'ComfyUI-KJNodes', source: 'manager', nodeTypes: ['ImageResizeKJ'] },
    ]);

    const { ids } = await s.core.router.call('transfers.start', {
      workflowId: s.workflowId,
      models: [{ name: 'listed.safetensors', folder: 'checkpoints', url: s.listedUrl }],
    });
    const done = await transferIn(s.core, ids[0]!, ['done', 'failed']);
    expect(done).toMatchObject({ state: 'done', method: 'manager' });
    expect(readFileSync(join(s.comfy.folderPaths().checkpoints![0]!, 'listed.safetensors')).equals(LISTED)).toBe(true);

    const refused = await failure(
      s.core.router.call('transfers.start', {
        workflowId: s.workflowId,
        models: [{ name: 'other.safetensors', folder: 'vae', url: s.files.url('/m/other.safetensors') }],
      }),
    );
    expect(refused.code).toBe('transfer_unsupported');
    expect(refused.userMessage).toMatch(/only downloads files from its own model list/);
    expect(String(refused.details?.command)).toContain(`cd '${POD}/models/vae'`);
  });

  test('a pack is installed through ComfyUI-Manager and counts as installed only once the restarted server lists its nodes', async () => {
    const s = await setup(() => ({ packs: [{ url: KJ, nodeTypes: ['ImageResizeKJ'] }] }));
    const item = await s.core.router.call('transfers.installPack', { packId: KJ, workflowId: s.workflowId });
    const waiting = await transferIn(s.core, item.id, ['waiting', 'failed']);
    expect(waiting.state).toBe('waiting');
    expect(waiting.note).toMatch(/Restart ComfyUI to load it/);
    expect(s.core.library.snapshot().items.find((card) => card.id === s.workflowId)!.compat.unknownNodeTypes).toEqual([
      'ImageResizeKJ',
    ]);
    await s.core.router.call('transfers.restartServer', {});
    await transferIn(s.core, item.id, ['done'], 20_000);
    await waitFor(
      () =>
        s.core.library.snapshot().items.find((card) => card.id === s.workflowId)!.compat.unknownNodeTypes.length === 0,
      { timeoutMs: 10_000, message: 'the card still lacks the pack' },
    );
  });

  test('a Manager that refuses for its security level says how to allow it', async () => {
    const s = await setup(() => ({ securityLevel: 'strong', packs: [{ url: KJ, nodeTypes: ['ImageResizeKJ'] }] }));
    const item = await s.core.router.call('transfers.installPack', { packId: KJ, workflowId: s.workflowId });
    const failed = await transferIn(s.core, item.id, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'manager_refused' });
    expect(failed.error!.userMessage).toMatch(/security_level = weak/);
  });
});

describe('a server reached by its web address, without ComfyUI-Manager', () => {
  test('ComfyDesk says why it cannot place files and gives the exact commands for that server', async () => {
    const s = await setup(undefined);
    const report = await s.core.router.call('transfers.missing', { workflowId: s.workflowId });
    expect(report.method).toBe('manual');
    expect(report.methodNote).toMatch(/through its web address and the server has no ComfyUI-Manager/);
    expect(report.customNodesDir).toBe(`${POD}/custom_nodes`);
    const text = report.commands.map((command) => command.command).join('\n');
    expect(text).toContain(`cd '${POD}/models/checkpoints'`);
    expect(text).toContain(`cd '${POD}/custom_nodes'`);
    expect(text).toContain(`git clone '${KJ}'`);
    expect(text).toContain("python -m pip install -r 'ComfyUI-KJNodes/requirements.txt'");
    const error = await failure(
      s.core.router.call('transfers.start', {
        workflowId: s.workflowId,
        models: [{ name: 'listed.safetensors', folder: 'checkpoints', url: s.listedUrl }],
      }),
    );
    expect(error.code).toBe('transfer_unsupported');
    expect(existsSync(join(s.comfy.folderPaths().checkpoints![0]!, 'listed.safetensors'))).toBe(false);
  });
});
