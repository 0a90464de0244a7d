import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../support/cli';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { TestFileServer, sha256 } from '../support/file-server';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';
import { loaderNode, transferIn, workflowOf } from '../support/transfers';

// Opt-in: runs only against a real ComfyUI on this machine named by COMFYUI_REAL_URL (e.g. one
// started with /work/tools/run-comfy.sh PORT). The files it places are deleted afterwards.
const REAL_URL = process.env.COMFYUI_REAL_URL;
const CONTENT = randomBytes(512 * 1024);
const run = randomUUID().slice(0, 8);

async function checkpointsOnServer(): Promise<string[]> {
  const info = (await (await fetch(`${REAL_URL}/object_info/CheckpointLoaderSimple`)).json()) as {
    CheckpointLoaderSimple: { input: { required: { ckpt_name: [string[]] } } };
  };
  return info.CheckpointLoaderSimple.input.required.ckpt_name[0];
}

describe.skipIf(!REAL_URL)('Missing to Ready against a real ComfyUI (COMFYUI_REAL_URL)', () => {
  let files: TestFileServer;
  let dir: { path: string; remove: () => void };
  let checkpointsDir: string;
  const placed: string[] = [];
  const env = () => ({
    COMFYDESK_HOME: join(dir.path, 'data'),
    COMFYDESK_MODEL_LIST_URL: 'http://127.0.0.1:1/model-list.json',
    COMFYDESK_NODE_MAP_URL: 'http://127.0.0.1:1/extension-node-map.json',
  });

  beforeAll(async () => {
    files = new TestFileServer();
    for (const name of ['direct', 'ssh', 'card']) files.serve(`/m/${name}-${run}.safetensors`, CONTENT);
    await files.start();
    dir = tempDir('comfydesk-real-transfers-');
    const folders = (await (await fetch(`${REAL_URL}/internal/folder_paths`)).json()) as Record<string, string[]>;
    checkpointsDir = folders.checkpoints![0]!;
  });
  afterAll(async () => {
    for (const name of placed) rmSync(join(checkpointsDir, name), { force: true });
    await files?.stop();
    dir?.remove();
  });

  test('after models get --server, object_info lists the file', async () => {
    const name = `direct-${run}.safetensors`;
    placed.push(name);
    const result = await runCli(
      ['models', 'get', '--url', files.url(`/m/${name}`), '--folder', 'checkpoints', '--server', REAL_URL!],
      { env: env() },
    );
    expect(result.code).toBe(0);
    expect(await checkpointsOnServer()).toContain(name);
  });

  test.skipIf(!SSHD_PATH)(
    'after models get --ssh (downloaded on the SSH server), object_info lists the file',
    async () => {
      const sshd: TestSshd = await startSshd();
      try {
        const name = `ssh-${run}.safetensors`;
        placed.push(name);
        const real = new URL(REAL_URL!);
        const result = await runCli(
          [
            'models',
            'get',
            '--url',
            files.url(`/m/${name}`),
            '--folder',
            'checkpoints',
            '--ssh',
            `${sshd.user}@${sshd.host}:${sshd.port}`,
            '--key',
            sshd.clientKeyPath,
            '--remote',
            `${real.hostname}:${real.port}`,
            '--accept-host-key',
            sshd.hostKeyFingerprint(),
          ],
          { env: { ...env(), COMFYDESK_KNOWN_HOSTS: join(dir.path, 'none') }, timeoutMs: 60_000 },
        );
        expect(result.code).toBe(0);
        expect(await checkpointsOnServer()).toContain(name);
        expect(
          files.requests
            .filter((request) => request.path.includes(name) && request.method === 'GET')
            .every((request) => request.userAgent?.startsWith('curl/')),
        ).toBe(true);
      } finally {
        await sshd.stop();
      }
    },
  );

  test('Get missing turns the card Ready without a restart of ComfyUI', async () => {
    const name = `card-${run}.safetensors`;
    placed.push(name);
    const folder = tempDir('comfydesk-real-wf-');
    try {
      writeFileSync(
        join(folder.path, 'real.json'),
        JSON.stringify(
          workflowOf(`Real ${run}`, [
            loaderNode(1, 'CheckpointLoaderSimple', name, {
              url: files.url(`/m/${name}`),
              directory: 'checkpoints',
              hash: sha256(CONTENT),
            }),
          ]),
        ),
      );
      const started = await startTestCore({
        settings: {
          connections: {
            profiles: [{ id: 'real', kind: 'url', name: 'Real ComfyUI', url: REAL_URL }],
            activeId: 'real',
          },
          library: { includeAppFolder: false, folders: [folder.path] },
          transfers: { modelListUrl: 'http://127.0.0.1:1/a.json', nodeMapUrl: 'http://127.0.0.1:1/b.json' },
        },
        core: { connections: { healthIntervalMs: 500 }, transfers: { env: {} } },
      });
      try {
        const core = started.core;
        const card = await waitFor(
          () =>
            core.library
              .snapshot()
              .items.find((item) => item.name === `Real ${run}` && item.compat.serverId === 'real'),
          { timeoutMs: 15_000 },
        );
        expect(card.compat.status).toBe('missing');
        const report = await core.router.call('transfers.missing', { workflowId: card.id });
        const { ids } = await core.router.call('transfers.start', {
          workflowId: card.id,
          models: report.models.map((model) => ({
            name: model.name,
            folder: model.folder!,
            url: model.url!,
            sha256: model.sha256,
          })),
        });
        await transferIn(core, ids[0]!, ['done']);
        await waitFor(
          () => core.library.snapshot().items.find((item) => item.id === card.id)!.compat.status === 'ready',
          {
            timeoutMs: 15_000,
            message: 'the card did not turn Ready',
          },
        );
      } finally {
        await started.stop();
      }
    } finally {
      folder.remove();
    }
  });
});
