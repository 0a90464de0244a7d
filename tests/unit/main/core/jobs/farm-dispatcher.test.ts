import { describe, expect, test } from 'vitest';
import type { ServerInventory } from '@shared/domain/inventory';
import { FarmDispatcher, needsOf } from '../../../../../src/main/core/jobs/farm-dispatcher';
import { entryFromRun, type Entry } from '../../../../../src/main/core/jobs/job-entry';
import type { ServerAttachment } from '../../../../../src/main/core/jobs/server-attachment';
import type { ServerDirectory } from '../../../../../src/main/core/jobs/server-directory';
import { preparedRun } from '../../../../support/prepared-run';

const PROMPT = {
  '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd15.safetensors' } },
  '2': { class_type: 'VAELoader', inputs: { vae_name: 'taesd' } },
  '3': { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: 3 } },
  '4': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: 'x.safetensors.png' } },
};

function entry(options: { servers?: string[]; workflowId?: string } = {}): Entry {
  const run = preparedRun({ workflowId: options.workflowId ?? 'wf', serverId: 'a', prompt: PROMPT });
  const made = entryFromRun(run, { id: 'job', now: 0, position: 0, batch: null });
  if (options.servers) made.job = { ...made.job, servers: options.servers };
  return made;
}

/** A server as the dispatcher sees it: online or not, its inventory, its load and room. */
interface FakeServer {
  id: string;
  isOnline?: boolean;
  nodeTypes?: string[];
  checkpoints?: string[];
  load?: number;
  hasRoom?: boolean;
  learnedMs?: number;
  hasInventory?: boolean;
}

function farm(servers: FakeServer[], farmIds = servers.map((server) => server.id)) {
  const attachments = new Map(
    servers
      .filter((server) => server.isOnline !== false)
      .map((server) => [
        server.id,
        {
          serverId: server.id,
          hasRoom: () => server.hasRoom ?? true,
          load: () => server.load ?? 0,
        } as unknown as ServerAttachment,
      ]),
  );
  const inventories = new Map<string, ServerInventory>(
    servers
      .filter((server) => server.hasInventory !== false)
      .map((server) => [
        server.id,
        {
          serverId: server.id,
          nodeTypes: server.nodeTypes ?? ['CheckpointLoaderSimple', 'VAELoader', 'PeerSlowSteps', 'SaveImage'],
          models: { checkpoints: server.checkpoints ?? ['sd15.safetensors'], vae: [] },
          fetchedAt: 0,
        },
      ]),
  );
  const directory: ServerDirectory = {
    client: () => undefined,
    defaultId: () => farmIds[0] ?? null,
    generationIds: () => farmIds,
    onlineIds: () => [...attachments.keys()],
    inventory: (id) => inventories.get(id),
    label: (id) => `Server ${id.toUpperCase()}`,
    onChange: () => () => undefined,
  };
  return new FarmDispatcher({
    servers: directory,
    attachment: (id) => attachments.get(id),
    attachments: () => attachments.values(),
    learnedMs: (_workflowId, serverId) => servers.find((server) => server.id === serverId)?.learnedMs,
  });
}

const placed = (dispatcher: FarmDispatcher, job: Entry) => dispatcher.place(job).target?.serverId;

describe('FarmDispatcher', () => {
  test('a prompt needs every node type it uses and the model files it names, not built-in decoders or output names', () => {
    expect(needsOf(PROMPT)).toEqual({
      nodeTypes: ['CheckpointLoaderSimple', 'VAELoader', 'PeerSlowSteps', 'SaveImage'],
      models: ['sd15.safetensors'],
    });
  });

  test('the least busy server that can run the job takes it; on equal load, the one that ran the workflow fastest', () => {
    expect(
      placed(
        farm([
          { id: 'a', load: 2 },
          { id: 'b', load: 1 },
          { id: 'c', load: 3 },
        ]),
        entry(),
      ),
    ).toBe('b');
    const tie = farm([
      { id: 'a', load: 1, learnedMs: 9000 },
      { id: 'b', load: 1, learnedMs: 3000 },
    ]);
    expect(placed(tie, entry())).toBe('b');
    // A server the workflow never ran on is tried (so its speed is learned).
    expect(placed(farm([{ id: 'a', learnedMs: 3000 }, { id: 'b' }]), entry())).toBe('b');
  });

  test('servers without a node type or a model the prompt needs, full, offline or not yet read are passed over', () => {
    const dispatcher = farm([
      { id: 'a', nodeTypes: ['CheckpointLoaderSimple', 'VAELoader', 'SaveImage'] },
      { id: 'b', checkpoints: ['sdxl.safetensors'] },
      { id: 'c', hasRoom: false },
      { id: 'd', isOnline: false },
      { id: 'e', hasInventory: false },
      { id: 'f', load: 5 },
    ]);
    expect(placed(dispatcher, entry())).toBe('f');
  });

  test('a job no connected server can run waits with the reason; busy servers give no reason', () => {
    const noModel = farm([
      { id: 'a', checkpoints: [] },
      { id: 'b', checkpoints: ['other.safetensors'] },
    ]);
    expect(noModel.place(entry())).toEqual({ waitReason: 'No connected server has sd15.safetensors.' });
    const noNode = farm([{ id: 'a', nodeTypes: ['SaveImage'] }]);
    expect(noNode.place(entry())).toEqual({
      waitReason: 'No connected server has the node type CheckpointLoaderSimple.',
    });
    expect(farm([{ id: 'a', hasRoom: false }]).place(entry())).toEqual({});
    expect(farm([{ id: 'a', isOnline: false }]).place(entry())).toEqual({
      waitReason: 'Waiting for a server it can run on to connect.',
    });
  });

  test('a pinned job goes only to its servers, and waits for one that is offline', () => {
    const dispatcher = farm([{ id: 'a' }, { id: 'b', load: 4 }, { id: 'c', isOnline: false }]);
    expect(placed(dispatcher, entry({ servers: ['b'] }))).toBe('b');
    expect(dispatcher.place(entry({ servers: ['c'] }))).toEqual({ waitReason: 'Waiting for Server C to connect.' });
    // A pin to one server sends even before its inventory is read: that server checks the prompt itself.
    expect(placed(farm([{ id: 'a', hasInventory: false }]), entry({ servers: ['a'] }))).toBe('a');
  });

  test('isFull says whether no online server has room', () => {
    expect(
      farm([
        { id: 'a', hasRoom: false },
        { id: 'b', hasRoom: false },
      ]).isFull(),
    ).toBe(true);
    expect(farm([{ id: 'a', hasRoom: false }, { id: 'b' }]).isFull()).toBe(false);
  });
});
