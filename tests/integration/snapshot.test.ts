import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { SnapshotFinished, type SnapshotProgressEvent } from '@shared/contract/snapshots';
import { ConnectionProfile } from '@shared/domain/connection';
import { parseSnapshot, snapshotText, SNAPSHOT_FORMAT, type ServerSnapshot } from '@shared/domain/snapshot';
import { ComfyClient } from '../../src/main/core/comfy/comfy-client';
import { ServerConnection } from '../../src/main/core/connections/server-connection';
import { silentLogger } from '../../src/main/core/lib/logger';
import { knownModelSources } from '../../src/main/core/snapshots/model-sources';
import { takeSnapshot } from '../../src/main/core/snapshots/take-snapshot';
import { ModelCatalog } from '../../src/main/core/workflows/catalog';
import { bundledCatalog } from '../../src/main/core/workflows/resources';
import { runCli } from '../support/cli';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { SSHD_PATH, startSshd } from '../support/sshd';

const SD15 = 'v1-5-pruned-emaonly-fp16.safetensors';
const catalogSources = () => knownModelSources({ catalog: new ModelCatalog([bundledCatalog()]) });

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(options: Parameters<typeof startComfyServer>[0] = {}): Promise<ComfyTestServer> {
  const comfy = await startComfyServer({
    models: { checkpoints: [SD15, 'mine/portrait.safetensors'], loras: ['style.safetensors'] },
    ...options,
  });
  cleanup.push(() => comfy.stop());
  return comfy;
}

function client(comfy: ComfyTestServer): ComfyClient {
  const made = new ComfyClient({ baseUrl: comfy.url, log: silentLogger });
  cleanup.push(() => made.close());
  return made;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@e',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@e',
    },
  }).trim();
}

/** A custom node pack checked out with git in `custom_nodes`, as a user or ComfyUI-Manager would have it. */
function gitPack(root: string, name: string, remote: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '__init__.py'), 'NODE_CLASS_MAPPINGS = {}\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'pack');
  git(dir, 'remote', 'add', 'origin', remote);
  return git(dir, 'rev-parse', 'HEAD');
}

describe('snapshot save over HTTP', () => {
  test("records the node types, packs from ComfyUI's node list, model sizes and the catalog's addresses", async () => {
    const comfy = await server();
    const snapshot = await takeSnapshot(
      { client: client(comfy), address: comfy.url },
      { sources: catalogSources(), createdBy: 'ComfyDesk test', now: () => new Date('2026-12-01T10:00:00Z') },
    );
    expect(snapshot).toMatchObject({
      format: SNAPSHOT_FORMAT,
      version: 1,
      createdAt: '2026-12-01T10:00:00.000Z',
      createdBy: 'ComfyDesk test',
      server: { comfyuiVersion: '0.3.64', os: 'posix', device: 'cpu', address: comfy.url },
      sources: { customNodes: 'object_info', hashes: 'none' },
    });
    expect(snapshot.customNodes).toEqual([
      {
        name: 'comfydesk_peer_nodes',
        enabled: true,
        repository: null,
        commit: null,
        branch: null,
        registryId: null,
        version: null,
        hasLocalChanges: null,
        nodeTypes: ['PeerSlowSteps'],
      },
    ]);
    expect(snapshot.models).toEqual([
      {
        folder: 'checkpoints',
        name: 'mine/portrait.safetensors',
        sizeBytes: 7,
        sha256: null,
        url: null,
        urlSource: null,
      },
      {
        folder: 'checkpoints',
        name: SD15,
        sizeBytes: 7,
        sha256: null,
        url: expect.stringMatching(/^https:\/\/huggingface\.co\/Comfy-Org\//),
        urlSource: 'catalog',
      },
      { folder: 'loras', name: 'style.safetensors', sizeBytes: 7, sha256: null, url: null, urlSource: null },
    ]);
    expect(snapshot.nodeTypes).toContain('KSampler');
    expect(snapshot.nodeTypes).toContain('PeerSlowSteps');
    expect(snapshot.nodeTypes).toEqual([...snapshot.nodeTypes].sort());
  });

  test("with ComfyUI-Manager on the server, packs come with Manager's repository, commit or registry version", async () => {
    const comfy = await server({
      manager: {
        installed: {
          comfydesk_peer_nodes: {
            ver: 'a'.repeat(40),
            cnr_id: '',
            aux_id: 'comfydesk/comfydesk_peer_nodes',
            enabled: true,
          },
          'comfyui-kjnodes': { ver: '1.1.7', cnr_id: 'comfyui-kjnodes', aux_id: null, enabled: false },
        },
      },
    });
    const snapshot = await takeSnapshot(
      { client: client(comfy), address: comfy.url },
      { sources: catalogSources(), createdBy: 'ComfyDesk test' },
    );
    expect(snapshot.sources.customNodes).toBe('comfyui-manager');
    expect(snapshot.customNodes).toEqual([
      {
        name: 'comfydesk_peer_nodes',
        enabled: true,
        repository: 'https://github.com/comfydesk/comfydesk_peer_nodes',
        commit: 'a'.repeat(40),
        branch: null,
        registryId: null,
        version: null,
        hasLocalChanges: null,
        nodeTypes: ['PeerSlowSteps'],
      },
      {
        name: 'comfyui-kjnodes',
        enabled: false,
        repository: null,
        commit: null,
        branch: null,
        registryId: 'comfyui-kjnodes',
        version: '1.1.7',
        hasLocalChanges: null,
        nodeTypes: [],
      },
    ]);
  });
});

describe('the snapshot file', () => {
  test('is sorted with 2-space indentation and a final newline, reads back the same, and refuses other versions', async () => {
    const comfy = await server();
    const snapshot = await takeSnapshot(
      { client: client(comfy), address: comfy.url },
      { sources: catalogSources(), createdBy: 'ComfyDesk test' },
    );
    const shuffled: ServerSnapshot = { ...snapshot, models: [...snapshot.models].reverse() };
    const text = snapshotText(shuffled);
    expect(text).toBe(snapshotText(snapshot));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe(`  "format": "${SNAPSHOT_FORMAT}",`);
    expect(parseSnapshot(JSON.parse(text))).toEqual(JSON.parse(text));
    expect(() => parseSnapshot({ ...JSON.parse(text), version: 2 })).toThrow(
      'This snapshot is version 2; this ComfyDesk reads version 1. Update ComfyDesk to read it.',
    );
    expect(() => parseSnapshot({ models: [] })).toThrow(/not a ComfyDesk server snapshot/);
    // Unknown keys from a later ComfyDesk are ignored, not refused.
    expect(() => parseSnapshot({ ...JSON.parse(text), restoreHints: {} })).not.toThrow();
  });
});

describe.skipIf(!SSHD_PATH || !existsSync('/usr/bin/git'))('snapshot save over SSH (a real sshd)', () => {
  test('custom_nodes are read from disk (remote, commit, branch, local changes, disabled and registry packs) and every model is hashed on the server', async () => {
    const comfy = await server();
    const root = join(comfy.dataDir, 'custom_nodes');
    mkdirSync(root, { recursive: true });
    const peerCommit = gitPack(root, 'comfydesk_peer_nodes', 'git@github.com:comfydesk/comfydesk_peer_nodes.git');
    const kjCommit = gitPack(root, 'ComfyUI-KJNodes.disabled', 'https://github.com/kijai/ComfyUI-KJNodes.git');
    writeFileSync(join(root, 'comfydesk_peer_nodes', '__init__.py'), 'NODE_CLASS_MAPPINGS = {"x": 1}\n'); // a local edit
    mkdirSync(join(root, '.disabled', 'old-pack'), { recursive: true });
    const registry = join(root, 'comfyui-impact-pack');
    mkdirSync(registry, { recursive: true });
    writeFileSync(
      join(registry, 'pyproject.toml'),
      '[project]\nname = "comfyui-impact-pack"\nversion = "8.8.1"\n\n[project.urls]\nRepository = "https://github.com/ltdrdata/ComfyUI-Impact-Pack"\n\n[tool.comfy]\nPublisherId = "drltdata"\n',
    );
    writeFileSync(join(root, 'single_file_node.py'), 'NODE_CLASS_MAPPINGS = {}\n');
    writeFileSync(join(root, 'notes.txt'), 'not a pack');

    const sshd = await startSshd();
    cleanup.push(() => sshd.stop());
    const connection = new ServerConnection({
      profile: ConnectionProfile.parse({
        id: 'ssh',
        name: 'pod',
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
    cleanup.push(() => connection.stop());
    connection.start();
    await waitFor(() => connection.health.state === 'online', { timeoutMs: 10_000 });
    const progress: string[] = [];
    const snapshot = await takeSnapshot(
      { client: connection.client!, shell: connection.shell, address: `ssh://${sshd.user}@127.0.0.1:${sshd.port}` },
      {
        sources: catalogSources(),
        createdBy: 'ComfyDesk test',
        onProgress: (update) => {
          if (update.phase === 'hashing' && update.item) progress.push(update.item);
        },
      },
    );
    expect(snapshot.sources).toEqual({ customNodes: 'ssh', hashes: 'ssh' });
    const byName = Object.fromEntries(snapshot.customNodes.map((pack) => [pack.name, pack]));
    expect(byName.comfydesk_peer_nodes).toEqual({
      name: 'comfydesk_peer_nodes',
      enabled: true,
      repository: 'https://github.com/comfydesk/comfydesk_peer_nodes',
      commit: peerCommit,
      branch: 'main',
      registryId: null,
      version: null,
      hasLocalChanges: true,
      nodeTypes: ['PeerSlowSteps'],
    });
    expect(byName['ComfyUI-KJNodes']).toMatchObject({
      enabled: false,
      repository: 'https://github.com/kijai/ComfyUI-KJNodes',
      commit: kjCommit,
      hasLocalChanges: false,
      nodeTypes: [],
    });
    expect(byName['old-pack']).toMatchObject({ enabled: false, repository: null, commit: null });
    expect(byName['comfyui-impact-pack']).toMatchObject({
      enabled: true,
      repository: 'https://github.com/ltdrdata/ComfyUI-Impact-Pack',
      registryId: 'comfyui-impact-pack',
      version: '8.8.1',
      commit: null,
      hasLocalChanges: null,
    });
    expect(byName['single_file_node.py']).toMatchObject({ enabled: true, repository: null });
    expect(byName['notes.txt']).toBeUndefined();
    const models = join(comfy.dataDir, 'models');
    expect(snapshot.models.map((model) => [model.folder, model.name, model.sizeBytes, model.sha256])).toEqual([
      [
        'checkpoints',
        'mine/portrait.safetensors',
        7,
        sha256(join(models, 'checkpoints', 'mine', 'portrait.safetensors')),
      ],
      ['checkpoints', SD15, 7, sha256(join(models, 'checkpoints', SD15))],
      ['loras', 'style.safetensors', 7, sha256(join(models, 'loras', 'style.safetensors'))],
    ]);
    expect(progress).toEqual([
      'checkpoints/mine/portrait.safetensors',
      `checkpoints/${SD15}`,
      'loras/style.safetensors',
    ]);
  });
});

describe('snapshots from the app and the command line', () => {
  test('snapshots.save returns at once, reports progress, and writes the file; a cancelled one writes nothing', async () => {
    const comfy = await server();
    const data = tempDir('comfydesk-snap-');
    cleanup.push(() => data.remove());
    const started = await startTestCore({
      dataDir: data.path,
      settings: {
        connections: {
          profiles: [{ id: 'test', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
          activeId: 'test',
          alsoOnline: [],
        },
      },
      core: { connections: { healthIntervalMs: 300, checkTimeoutMs: 1500 } },
    });
    cleanup.push(() => started.stop());
    const { core } = started;
    await waitFor(() => core.connections.health('test').state === 'online', { timeoutMs: 8000 });
    const progress: SnapshotProgressEvent[] = [];
    const finished: SnapshotFinished[] = [];
    core.events.on('snapshots.progress', (event) => progress.push(event));
    core.events.on('snapshots.finished', (event) => finished.push(event));

    const { snapshotId, path } = await core.router.call('snapshots.save', {});
    expect(path).toMatch(new RegExp(`^${data.path}/snapshots/Test ComfyUI-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d\\.json$`));
    const done = await waitFor(() => finished.find((event) => event.snapshotId === snapshotId));
    expect(SnapshotFinished.parse(done)).toMatchObject({
      ok: true,
      path,
      summary: {
        packs: 1,
        models: 3,
        hashed: 0,
        modelsWithoutSource: ['checkpoints/mine/portrait.safetensors', 'loras/style.safetensors'],
      },
    });
    expect(progress.map((event) => event.phase)).toEqual(
      expect.arrayContaining(['server', 'nodes', 'models', 'writing']),
    );
    expect(parseSnapshot(JSON.parse(readFileSync(path, 'utf8'))).models).toHaveLength(3);

    const other = join(data.path, 'kept', 'cancelled.json');
    const cancelled = await core.router.call('snapshots.save', { path: other });
    await core.router.call('snapshots.cancel', { snapshotId: cancelled.snapshotId });
    const end = await waitFor(() => finished.find((event) => event.snapshotId === cancelled.snapshotId));
    expect(end).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(existsSync(other)).toBe(false);
  });

  test('comfydesk snapshot save --server writes the file and prints a summary', async () => {
    const comfy = await server();
    const dir = tempDir('comfydesk-snapcli-');
    cleanup.push(() => dir.remove());
    const out = join(dir.path, 'pod.json');
    const result = await runCli([
      'snapshot',
      'save',
      '--server',
      comfy.url,
      '--out',
      out,
      '--json',
      '--data-dir',
      dir.path,
    ]);
    expect(result).toMatchObject({ code: 0 });
    expect(JSON.parse(result.stdout)).toMatchObject({
      path: out,
      server: { comfyuiVersion: '0.3.64', address: comfy.url },
      sources: { customNodes: 'object_info', hashes: 'none' },
      summary: { packs: 1, models: 3, hashed: 0 },
    });
    expect(parseSnapshot(JSON.parse(readFileSync(out, 'utf8'))).nodeTypes).toContain('PeerSlowSteps');
    const text = await runCli(['snapshot', 'save', '--server', comfy.url, '--out', out, '--data-dir', dir.path]);
    expect(text.stdout).toMatch(
      /^Saved a snapshot of ComfyUI 0\.3\.64 at http:\/\/127\.0\.0\.1:\d+ to .*pod\.json:\n {2}1 custom node pack .*3 models, 0 with SHA-256\.\n {2}No download address known for: checkpoints\/mine\/portrait\.safetensors, loras\/style\.safetensors/,
    );
  });

  test.skipIf(!SSHD_PATH)(
    'comfydesk snapshot save --ssh refuses an unknown host with its fingerprint, and with --accept-host-key hashes the models on the server',
    async () => {
      const comfy = await server();
      const sshd = await startSshd();
      cleanup.push(() => sshd.stop());
      const dir = tempDir('comfydesk-snapssh-');
      cleanup.push(() => dir.remove());
      const knownHosts = join(dir.path, 'known_hosts');
      writeFileSync(knownHosts, '');
      const out = join(dir.path, 'pod.json');
      const args = [
        'snapshot',
        'save',
        '--ssh',
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        '--key',
        sshd.clientKeyPath,
        '--remote',
        `127.0.0.1:${comfy.port}`,
        '--out',
        out,
        '--data-dir',
        dir.path,
      ];
      const env = { COMFYDESK_KNOWN_HOSTS: knownHosts, SSH_AUTH_SOCK: '' };
      const refused = await runCli(args, { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`--accept-host-key ${sshd.hostKeyFingerprint()}`);
      expect(existsSync(out)).toBe(false);
      const saved = await runCli([...args, '--accept-host-key', sshd.hostKeyFingerprint(), '--json'], {
        env,
        timeoutMs: 60_000,
      });
      expect(saved).toMatchObject({ code: 0 });
      expect(JSON.parse(saved.stdout)).toMatchObject({
        path: out,
        server: { address: `ssh://${sshd.user}@127.0.0.1:${sshd.port}` },
        sources: { customNodes: 'ssh', hashes: 'ssh' },
        summary: { models: 3, hashed: 3 },
      });
      const models = join(comfy.dataDir, 'models');
      expect(
        parseSnapshot(JSON.parse(readFileSync(out, 'utf8'))).models.find((model) => model.folder === 'loras'),
      ).toMatchObject({
        sha256: sha256(join(models, 'loras', 'style.safetensors')),
      });
    },
  );
});
