import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConnectionProfile } from '@shared/domain/connection';
import { parseSnapshot } from '@shared/domain/snapshot';
import { ServerConnection } from '../../src/main/core/connections/server-connection';
import { silentLogger } from '../../src/main/core/lib/logger';
import { writeSnapshotFile } from '../../src/main/core/snapshots/snapshot-service';
import { takeSnapshot } from '../../src/main/core/snapshots/take-snapshot';
import { runCli } from '../support/cli';
import { tempDir, waitFor } from '../support/core';
import { CAN_RUN_COMFYUI, startRealComfyUi, type RealComfyUi } from '../support/real-comfyui';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

// A real ComfyUI 0.3.64 (started here from /opt/ComfyUI, or COMFYUI_SOURCE, as ../shared/comfyui/README.md
// describes) with one custom node pack checked out with git and real model files; the snapshot is
// taken over a real sshd, the way a pod's full SSH is used. Skipped where ComfyUI or sshd is missing.
const PACK_NODE = `
class SnapshotProbe:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, image):
        return (image,)


NODE_CLASS_MAPPINGS = {"SnapshotProbe": SnapshotProbe}
`;

const canRun = CAN_RUN_COMFYUI && Boolean(SSHD_PATH) && existsSync('/usr/bin/git');

describe.skipIf(!canRun)('snapshot save of a real ComfyUI over a real sshd', () => {
  let base: { path: string; remove: () => void };
  let comfy: RealComfyUi;
  let sshd: TestSshd;
  let packCommit: string;
  const models: Record<string, Buffer> = {
    'checkpoints/tiny-model.safetensors': randomBytes(256 * 1024),
    'loras/styles/ink.safetensors': randomBytes(48 * 1024),
  };

  beforeAll(async () => {
    base = tempDir('comfydesk-real-snap-');
    const pack = join(base.path, 'custom_nodes', 'snapshot_probe');
    mkdirSync(pack, { recursive: true });
    writeFileSync(join(pack, '__init__.py'), PACK_NODE);
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', pack, ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      }).trim();
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'probe');
    git('remote', 'add', 'origin', 'https://github.com/comfydesk/snapshot-probe.git');
    packCommit = git('rev-parse', 'HEAD');
    for (const [relative, bytes] of Object.entries(models)) {
      const path = join(base.path, 'models', relative);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, bytes);
    }
    comfy = await startRealComfyUi({ baseDir: base.path, customNodes: ['snapshot_probe'] });
    sshd = await startSshd();
  }, 120_000);

  afterAll(async () => {
    await sshd?.stop();
    await comfy?.stop();
    base?.remove();
  });

  test('the pack comes with its repository, commit and node type, and every model with its size and SHA-256', async () => {
    const connection = new ServerConnection({
      profile: ConnectionProfile.parse({
        id: 'real',
        name: 'real',
        kind: 'ssh',
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.user,
        auth: 'key',
        keyPath: sshd.clientKeyPath,
        remotePort: comfy.port,
        pinnedHostKey: sshd.hostKeyFingerprint(),
      }),
      secrets: {},
      log: silentLogger,
      readKnownHosts: async () => '',
      readInventory: false,
    });
    try {
      connection.start();
      await waitFor(() => connection.health.state === 'online', { timeoutMs: 15_000 });
      const snapshot = await takeSnapshot(
        { client: connection.client!, shell: connection.shell, address: `ssh://${sshd.user}@127.0.0.1:${sshd.port}` },
        { sources: { find: () => undefined }, createdBy: 'ComfyDesk test' },
      );
      expect(snapshot.server).toMatchObject({ comfyuiVersion: '0.3.64', os: 'posix', device: 'cpu' });
      expect(snapshot.sources).toEqual({ customNodes: 'ssh', hashes: 'ssh' });
      expect(snapshot.customNodes).toEqual([
        {
          name: 'snapshot_probe',
          enabled: true,
          repository: 'https://github.com/comfydesk/snapshot-probe',
          commit: packCommit,
          branch: 'main',
          registryId: null,
          version: null,
          hasLocalChanges: false,
          nodeTypes: ['SnapshotProbe'],
        },
      ]);
      expect(snapshot.models).toEqual(
        Object.entries(models).map(([relative, bytes]) => ({
          folder: relative.split('/')[0],
          name: relative.split('/').slice(1).join('/'),
          sizeBytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          url: null,
          urlSource: null,
        })),
      );
      expect(snapshot.nodeTypes).toEqual(expect.arrayContaining(['SnapshotProbe', 'KSampler', 'SaveImage']));
      const file = join(base.path, 'snapshot.json');
      await writeSnapshotFile(file, snapshot);
      expect(parseSnapshot(JSON.parse(readFileSync(file, 'utf8')))).toEqual(
        parseSnapshot(JSON.parse(JSON.stringify(snapshot))),
      );
    } finally {
      await connection.stop();
    }
  });

  test('over plain HTTP the same server gives the sizes but no hashes, and the pack without its repository', async () => {
    const out = join(base.path, 'http.json');
    const result = await runCli([
      'snapshot',
      'save',
      '--server',
      comfy.url,
      '--out',
      out,
      '--json',
      '--data-dir',
      base.path,
    ]);
    expect(result).toMatchObject({ code: 0 });
    const snapshot = parseSnapshot(JSON.parse(readFileSync(out, 'utf8')));
    expect(snapshot.sources).toEqual({ customNodes: 'object_info', hashes: 'none' });
    expect(snapshot.customNodes).toEqual([
      expect.objectContaining({ name: 'snapshot_probe', repository: null, nodeTypes: ['SnapshotProbe'] }),
    ]);
    expect(snapshot.models.map((model) => [model.folder, model.name, model.sizeBytes, model.sha256])).toEqual([
      ['checkpoints', 'tiny-model.safetensors', 256 * 1024, null],
      ['loras', 'styles/ink.safetensors', 48 * 1024, null],
    ]);
  });
});
