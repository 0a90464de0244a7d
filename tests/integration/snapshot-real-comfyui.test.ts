import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConnectionProfile } from '@shared/domain/connection';
import { parseSnapshot, snapshotText, type RestoreReport } from '@shared/domain/snapshot';
import { ServerConnection } from '../../src/main/core/connections/server-connection';
import { silentLogger } from '../../src/main/core/lib/logger';
import { writeSnapshotFile } from '../../src/main/core/snapshots/snapshot-service';
import { takeSnapshot } from '../../src/main/core/snapshots/take-snapshot';
import { runCli } from '../support/cli';
import { tempDir, waitFor } from '../support/core';
import { sha256, TestFileServer } from '../support/file-server';
import { CAN_RUN_COMFYUI, startRealComfyUi, type RealComfyUi } from '../support/real-comfyui';
import { SSHD_PATH, startSshd, type TestSshd } from '../support/sshd';

// A real ComfyUI 0.3.64 (started here from /opt/ComfyUI, or COMFYUI_SOURCE, as ../shared/comfyui/README.md
// describes) with one custom node pack checked out with git and real model files; the snapshot is
// taken over a real sshd, the way a pod's full SSH is used, and restored onto a second, fresh real
// ComfyUI through the same sshd. Skipped where ComfyUI, sshd or git is missing.
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
  let git: (dir: string, ...args: string[]) => string;
  const models: Record<string, Buffer> = {
    'checkpoints/tiny-model.safetensors': randomBytes(256 * 1024),
    'loras/styles/ink.safetensors': randomBytes(48 * 1024),
  };

  beforeAll(async () => {
    base = tempDir('comfydesk-real-snap-');
    const pack = join(base.path, 'custom_nodes', 'snapshot_probe');
    mkdirSync(pack, { recursive: true });
    writeFileSync(join(pack, '__init__.py'), PACK_NODE);
    git = (dir: string, ...args: string[]) =>
      execFileSync('git', ['-C', dir, ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      }).trim();
    git(pack, 'init', '-q', '-b', 'main');
    git(pack, 'add', '.');
    git(pack, 'commit', '-q', '-m', 'probe');
    git(pack, 'remote', 'add', 'origin', 'https://github.com/comfydesk/snapshot-probe.git');
    packCommit = git(pack, 'rev-parse', 'HEAD');
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

  test('restored through the real sshd onto a second, fresh ComfyUI, it ends with the same model bytes and node types after the restart it asks for', async () => {
    const cleanup: Array<() => Promise<void> | void> = [];
    try {
      const dir = tempDir('comfydesk-real-restore-');
      cleanup.push(() => dir.remove());
      // The pack's repository, reachable from the "server" (this same machine); it has moved on since
      // the snapshot, so only a checkout at the snapshot's commit brings back the node type it had.
      const repository = join(dir.path, 'snapshot-probe.git');
      execFileSync('git', ['clone', '-q', '--bare', join(base.path, 'custom_nodes', 'snapshot_probe'), repository]);
      const later = join(dir.path, 'later');
      execFileSync('git', ['clone', '-q', repository, later]);
      writeFileSync(join(later, '__init__.py'), PACK_NODE.replaceAll('SnapshotProbe', 'SnapshotProbeRenamed'));
      git(later, 'commit', '-q', '-am', 'rename');
      git(later, 'push', '-q', 'origin', 'main');
      expect(git(repository, 'rev-parse', 'main')).not.toBe(packCommit);
      // The models' download addresses: a file server on this machine with the same bytes.
      const files = new TestFileServer();
      for (const [relative, bytes] of Object.entries(models)) files.serve(`/files/${relative}`, bytes);
      await files.start();
      cleanup.push(() => files.stop());
      // The second server: a fresh base folder, no pack, no models.
      const targetBase = join(dir.path, 'target');
      mkdirSync(targetBase);
      let target = await startRealComfyUi({ baseDir: targetBase, customNodes: [] });
      cleanup.push(() => target.stop());
      const before = await objectInfoTypes(target.url);
      expect(before).not.toContain('SnapshotProbe');

      const env = { COMFYDESK_KNOWN_HOSTS: join(dir.path, 'known_hosts'), SSH_AUTH_SOCK: '' };
      writeFileSync(env.COMFYDESK_KNOWN_HOSTS, '');
      const ssh = (port: number) => [
        '--ssh',
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        '--key',
        sshd.clientKeyPath,
        '--remote',
        `127.0.0.1:${port}`,
        '--accept-host-key',
        sshd.hostKeyFingerprint(),
      ];
      const out = join(dir.path, 'pod.json');
      const saved = await runCli(['snapshot', 'save', ...ssh(comfy.port), '--out', out, '--data-dir', dir.path], {
        env,
        timeoutMs: 60_000,
      });
      expect(saved).toMatchObject({ code: 0 });
      // The user fills in where things come from (the file is plain JSON).
      const snapshot = parseSnapshot(JSON.parse(readFileSync(out, 'utf8')));
      writeFileSync(
        out,
        snapshotText({
          ...snapshot,
          customNodes: snapshot.customNodes.map((pack) => ({ ...pack, repository: `file://${repository}` })),
          models: snapshot.models.map((model) => ({
            ...model,
            url: files.url(`/files/${model.folder}/${model.name}`),
            urlSource: 'user' as const,
          })),
        }),
      );

      const restore = async (port: number) => {
        const result = await runCli(['snapshot', 'restore', out, ...ssh(port), '--json', '--data-dir', dir.path], {
          env,
          timeoutMs: 120_000,
        });
        const line = result.stdout
          .trim()
          .split('\n')
          .map((text) => JSON.parse(text) as { type: string })
          .find((entry) => entry.type === 'result');
        if (!line) throw new Error(`no result from the restore:\n${result.stdout}\n${result.stderr}`);
        return { code: result.code, report: line as unknown as RestoreReport & { ok: boolean } };
      };
      const first = await restore(target.port);
      expect(first.report).toMatchObject({
        ok: false,
        needsRestart: true,
        missingModels: [],
        missingNodeTypes: ['SnapshotProbe'],
        withoutSource: [],
      });
      expect(first.code).toBe(1);
      expect(Object.fromEntries(first.report.items.map((item) => [item.name, item.state]))).toEqual({
        snapshot_probe: 'restart',
        'checkpoints/tiny-model.safetensors': 'done',
        'loras/styles/ink.safetensors': 'done',
      });
      // Downloaded on the server (curl over SSH), the pack cloned there at the snapshot's commit.
      expect(
        files.requests.every((request) => request.userAgent?.startsWith('curl/') || request.method === 'HEAD'),
      ).toBe(true);
      expect(git(join(targetBase, 'custom_nodes', 'snapshot_probe'), 'rev-parse', 'HEAD')).toBe(packCommit);

      // ComfyUI loads a new pack only when it starts.
      await target.stop();
      target = await startRealComfyUi({ baseDir: targetBase, customNodes: ['snapshot_probe'] });
      for (const [relative, bytes] of Object.entries(models))
        expect(sha256(readFileSync(join(targetBase, 'models', ...relative.split('/'))))).toBe(sha256(bytes));
      const after = await objectInfoTypes(target.url);
      expect(after).toContain('SnapshotProbe');
      expect(after).toEqual([...snapshot.nodeTypes].sort());

      // Restoring again finds everything there and says the server is complete.
      const second = await restore(target.port);
      expect(second.report).toMatchObject({ ok: true, complete: true, missingModels: [], missingNodeTypes: [] });
      expect(second.code).toBe(0);
      expect(second.report.items.every((item) => item.state === 'present')).toBe(true);
    } finally {
      for (const step of cleanup.reverse()) await step();
    }
  }, 300_000);
});

async function objectInfoTypes(url: string): Promise<string[]> {
  const response = await fetch(`${url}/object_info`);
  expect(response.ok).toBe(true);
  return Object.keys((await response.json()) as Record<string, unknown>).sort();
}
