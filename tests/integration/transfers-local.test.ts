import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { TransfersDelta } from '../../src/shared/domain/transfer';
import type { DownloadProgress } from '../../src/shared/domain/llm';
import { silentLogger } from '../../src/main/core/lib/logger';
import { FileDownloader } from '../../src/main/core/transfers/file-downloader';
import type { Core } from '../../src/main/core/create-core';
import { RouterCallError } from '../../src/main/core/router';
import { startComfyServer, type ComfyServerOptions, type ComfyTestServer } from '../support/comfy-server';
import { startTestCore, tempDir, waitFor } from '../support/core';
import { TestFileServer, sha256, type ServedFile } from '../support/file-server';
import { customNode, loaderNode, noteNode, transferIn, workflowOf } from '../support/transfers';

const FAST = { healthIntervalMs: 300, checkTimeoutMs: 1500, backoff: { initialDelayMs: 50, maxDelayMs: 300 } };
const CONTENT = randomBytes(2 * 1024 * 1024 + 77);
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

interface Setup {
  core: Core;
  comfy: ComfyTestServer;
  files: TestFileServer;
  dataDir: string;
  workflowsDir: string;
  /** The id of the workflow named `name` once the library shows it with its status against the server. */
  workflowId(name: string): Promise<string>;
  restart(): Promise<Core>;
}

/** A core whose default connection is the protocol test server, with one workflow folder and a file server. */
async function setup(
  options: {
    workflows?: Record<string, unknown>;
    files?: Record<string, ServedFile | Buffer>;
    comfy?: ComfyServerOptions;
    /** Environment of the transfer service (HF_ENDPOINT, tokens), given the started file server. */
    env?: (files: TestFileServer) => NodeJS.ProcessEnv;
  } = {},
): Promise<Setup> {
  const files = new TestFileServer();
  for (const [path, file] of Object.entries(options.files ?? {})) files.serve(path, file);
  await files.start();
  stops.push(() => files.stop());
  const comfy = await startComfyServer(options.comfy ?? {});
  stops.push(() => comfy.stop());
  const folder = tempDir('comfydesk-wf-');
  stops.push(() => folder.remove());
  const data = tempDir('comfydesk-transfers-');
  stops.push(() => data.remove());
  for (const [name, workflow] of Object.entries(options.workflows ?? {}))
    writeFileSync(join(folder.path, `${name}.json`), JSON.stringify(workflow));
  const settings = {
    connections: {
      profiles: [{ id: 'comfy', kind: 'url', name: 'Test ComfyUI', url: comfy.url }],
      activeId: 'comfy',
      alsoOnline: [],
    },
    library: { includeAppFolder: false, folders: [folder.path] },
    transfers: { modelListUrl: files.url('/model-list.json'), nodeMapUrl: files.url('/node-map.json') },
  };
  const start = async () => {
    const started = await startTestCore({
      dataDir: data.path,
      settings,
      core: {
        connections: FAST,
        transfers: { retryDelayMs: () => 1, pollIntervalMs: 20, stallTimeoutMs: 400, env: options.env?.(files) ?? {} },
      },
    });
    return started.core;
  };
  let core = await start();
  let stopped = false;
  stops.push(async () => {
    if (!stopped) await core.stop();
  });
  const result: Setup = {
    core,
    comfy,
    files,
    dataDir: data.path,
    workflowsDir: folder.path,
    workflowId: async (name) => {
      const card = await waitFor(
        () => result.core.library.snapshot().items.find((item) => item.name === name && item.compat.serverId !== null),
        { timeoutMs: 10_000, message: `no card for ${name}` },
      );
      return card.id;
    },
    restart: async () => {
      stopped = true;
      await core.stop();
      core = await start();
      stopped = false;
      result.core = core;
      return core;
    },
  };
  return result;
}

async function failure(promise: Promise<unknown>): Promise<RouterCallError['error']> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RouterCallError);
  return (error as RouterCallError).error;
}

const checkpoint = (url: string, hash?: string) =>
  workflowOf('Portrait', [
    loaderNode(1, 'CheckpointLoaderSimple', 'sd15.safetensors', { url, directory: 'checkpoints', hash }),
  ]);

describe('what a workflow lacks on a server', () => {
  test('the report gives each missing model its source, size, destination and method, and groups unknown node types by pack', async () => {
    const nodeMap = {
      'https://github.com/kijai/ComfyUI-KJNodes': [
        ['ImageResizeKJ', 'GetImageSizeAndCount', 'ColorMatch', 'SomethingElseKJ'],
        { title_aux: 'KJNodes for ComfyUI' },
      ],
    };
    const modelList = {
      models: [
        {
          name: 'A VAE',
          type: 'VAE',
          base: 'SD1.5',
          save_path: 'default',
          filename: 'listed-vae.safetensors',
          url: 'http://127.0.0.1:1/never-fetched/listed-vae.safetensors',
          size: '335MB',
        },
      ],
    };
    const s = await setup({
      files: {
        '/models/sd15.safetensors': CONTENT,
        '/models/detail.safetensors': Buffer.alloc(1000, 1),
        '/model-list.json': Buffer.from(JSON.stringify(modelList)),
        '/node-map.json': Buffer.from(JSON.stringify(nodeMap)),
      },
      workflows: {
        portrait: workflowOf('Portrait', [
          loaderNode(1, 'CheckpointLoaderSimple', 'sd15.safetensors', {
            url: 'URL1',
            directory: 'checkpoints',
            hash: sha256(CONTENT),
          }),
          uiNodeLora(2, 'detail.safetensors'),
          loaderNode(3, 'VAELoader', 'listed-vae.safetensors'),
          loaderNode(4, 'ControlNetLoader', 'canny.safetensors'),
          noteNode(5, 'Models:\n- [detail.safetensors](URL2) goes to loras'),
          customNode(6, 'ImageResizeKJ', { cnr_id: 'comfyui-kjnodes', aux_id: 'kijai/ComfyUI-KJNodes' }),
          customNode(7, 'GetImageSizeAndCount', { cnr_id: 'comfyui-kjnodes' }),
          customNode(8, 'ColorMatch'),
          customNode(9, 'MysteryNode'),
        ]),
      },
      comfy: {},
    });
    // The file server's port is known only now: write the addresses into the workflow.
    const path = join(s.workflowsDir, 'portrait.json');
    writeFileSync(
      path,
      readFileSync(path, 'utf8')
        .replace('URL1', s.files.url('/models/sd15.safetensors'))
        .replace('URL2', s.files.url('/models/detail.safetensors')),
    );
    const id = await waitFor(
      () =>
        s.core.library
          .snapshot()
          .items.find((item) => item.name === 'Portrait' && item.models.some((model) => model.url?.startsWith('http')))
          ?.id,
    );
    const report = await s.core.router.call('transfers.missing', { workflowId: id });
    const folders = s.comfy.folderPaths();
    expect(report).toMatchObject({ serverId: 'comfy', method: 'local', connectionKind: 'url', manager: null });
    const byName = Object.fromEntries(report.models.map((model) => [model.name, model]));
    expect(byName['sd15.safetensors']).toMatchObject({
      source: 'workflow',
      url: s.files.url('/models/sd15.safetensors'),
      sizeBytes: CONTENT.length,
      sha256: sha256(CONTENT),
      destinationDir: folders.checkpoints![0],
      destinationChoices: folders.checkpoints,
      method: 'local',
    });
    expect(byName['detail.safetensors']).toMatchObject({
      source: 'note',
      url: s.files.url('/models/detail.safetensors'),
      sizeBytes: 1000,
      destinationDir: folders.loras![0],
    });
    // From the public model list (its address is not reachable, so the size is the list's own figure).
    expect(byName['listed-vae.safetensors']).toMatchObject({ source: 'catalog', sizeBytes: 335_000_000 });
    expect(byName['canny.safetensors']).toMatchObject({ source: 'none', destinationDir: folders.controlnet![0] });
    expect(byName['canny.safetensors']!.problem).toMatch(/No known source: paste a download link/);
    expect(report.packs).toEqual([
      {
        id: 'https://github.com/kijai/ComfyUI-KJNodes',
        title: 'ComfyUI-KJNodes',
        url: 'https://github.com/kijai/ComfyUI-KJNodes',
        registryId: 'comfyui-kjnodes',
        nodeTypes: ['ColorMatch', 'GetImageSizeAndCount', 'ImageResizeKJ'],
        source: 'node-map',
      },
    ]);
    expect(report.unresolvedNodeTypes).toEqual(['MysteryNode']);
    expect(report.sources.nodes).toMatchObject({ count: 1, problem: null });
    expect(report.sources.nodes.fetchedAt).not.toBeNull();
    // The lists are cached with their date in the data folder.
    const cached = JSON.parse(readFileSync(join(s.dataDir, 'cache', 'extension-node-map.json'), 'utf8')) as {
      url: string;
      fetchedAt: number;
    };
    expect(cached).toMatchObject({ url: s.files.url('/node-map.json') });
    expect(typeof cached.fetchedAt).toBe('number');
  });

  test('without the public lists (no internet) the report still works and says there is no known source', async () => {
    const s = await setup({
      workflows: { a: workflowOf('Alone', [loaderNode(1, 'VAELoader', 'mystery-vae.safetensors')]) },
    });
    await s.core.router.call('settings.update', {
      transfers: { modelListUrl: 'http://127.0.0.1:1/model-list.json', nodeMapUrl: 'http://127.0.0.1:1/map.json' },
    });
    const report = await s.core.router.call('transfers.missing', { workflowId: await s.workflowId('Alone') });
    expect(report.models[0]).toMatchObject({ name: 'mystery-vae.safetensors', source: 'none' });
    expect(report.sources.models.problem).toMatch(/Could not fetch http:\/\/127\.0\.0\.1:1\/model-list\.json/);
    expect(report.sources.models.fetchedAt).toBeNull();
  });

  test('destinations are never guessed: a server that does not say where its folders are is an error', async () => {
    const s = await setup({
      workflows: { a: checkpoint('http://127.0.0.1:1/sd15.safetensors') },
      comfy: { hidesFolderPaths: true },
    });
    const error = await failure(
      s.core.router.call('transfers.missing', { workflowId: await s.workflowId('Portrait') }),
    );
    expect(error.code).toBe('comfy_unexpected_response');
    expect(error.userMessage).toMatch(/did not say where its model folders are/);
  });
});

describe('putting a file on a server on this machine', () => {
  async function started(
    file: ServedFile | Buffer,
    options: { hash?: string; env?: (files: TestFileServer) => NodeJS.ProcessEnv } = {},
  ) {
    const s = await setup({ files: { '/m/sd15.safetensors': file }, env: options.env });
    writeFileSync(
      join(s.workflowsDir, 'portrait.json'),
      JSON.stringify(checkpoint(s.files.url('/m/sd15.safetensors'), options.hash)),
    );
    const workflowId = await s.workflowId('Portrait');
    const destination = join(s.comfy.folderPaths().checkpoints![0]!, 'sd15.safetensors');
    const start = (extra: Record<string, unknown> = {}) =>
      s.core.router.call('transfers.start', {
        workflowId,
        models: [
          {
            name: 'sd15.safetensors',
            folder: 'checkpoints',
            url: s.files.url('/m/sd15.safetensors'),
            ...(options.hash ? { sha256: options.hash } : {}),
            ...extra,
          },
        ],
      });
    return { ...s, workflowId, destination, start };
  }

  test('Get missing downloads into the server folder, checks the SHA-256, and the card turns Ready with a notice', async () => {
    const s = await started(CONTENT, { hash: sha256(CONTENT) });
    expect(s.core.library.snapshot().items.find((item) => item.id === s.workflowId)!.compat.status).toBe('missing');
    const deltas: TransfersDelta[] = [];
    s.core.events.on('transfers.updated', (delta) => deltas.push(delta));
    const { ids } = await s.start();
    const done = await transferIn(s.core, ids[0]!, ['done', 'failed']);
    expect(done).toMatchObject({ state: 'done', method: 'local', receivedBytes: CONTENT.length, error: null });
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual(['sd15.safetensors']);
    await waitFor(
      () => s.core.library.snapshot().items.find((item) => item.id === s.workflowId)!.compat.status === 'ready',
      { message: 'the card did not turn Ready' },
    );
    expect(s.core.notices.list().map((notice) => notice.message)).toContain('Portrait is Ready on Test ComfyUI.');
    // Events are throttled: the last one, sent within an interval of the change, says done.
    const states = () => deltas.flatMap((delta) => delta.items.map((item) => item.state));
    await waitFor(() => states().at(-1) === 'done', { message: 'no transfers.updated event said done' });
    expect(states()).toContain('running');
    // ComfyUI's own lists were read again: object_info's loader offers the file.
    const info = (await (await fetch(`${s.comfy.url}/object_info/CheckpointLoaderSimple`)).json()) as {
      CheckpointLoaderSimple: { input: { required: { ckpt_name: [string[]] } } };
    };
    expect(info.CheckpointLoaderSimple.input.required.ckpt_name[0]).toContain('sd15.safetensors');
  });

  test('a connection dropped mid-transfer is resumed with a Range request, and only the complete file gets its name', async () => {
    const s = await started({ content: CONTENT, dropAfterBytes: 700_000, dropCount: 2 }, { hash: sha256(CONTENT) });
    const { ids } = await s.start();
    await transferIn(s.core, ids[0]!, ['done']);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    const ranges = s.files.requests.filter((request) => request.method === 'GET').map((request) => request.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.slice(1).every((range) => range && /^bytes=\d+-$/.test(range))).toBe(true);
    expect(ranges.length).toBeGreaterThanOrEqual(3);
  });

  test('a stalled server is dropped and the download resumes from what arrived', async () => {
    const s = await started({ content: CONTENT, stallAfterBytes: 900_000 }, { hash: sha256(CONTENT) });
    const { ids } = await s.start();
    await transferIn(s.core, ids[0]!, ['done']);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(s.files.requests.some((request) => request.range?.startsWith('bytes='))).toBe(true);
  });

  test('a file whose SHA-256 does not match is deleted and never appears under its name', async () => {
    const s = await started(CONTENT, { hash: sha256(Buffer.from('something else')) });
    const { ids } = await s.start();
    const failed = await transferIn(s.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'checksum_mismatch' });
    expect(failed.error!.userMessage).toMatch(/does not match its published checksum, so it was deleted/);
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual([]);
  });

  test('a 404 fails in words and leaves nothing behind', async () => {
    const s = await started(CONTENT);
    const { ids } = await s.start({ url: s.files.url('/m/gone.safetensors') });
    const failed = await transferIn(s.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'download_not_found' });
    expect(failed.error!.userMessage).toMatch(/no longer has this file \(404\)/);
    expect(existsSync(s.destination)).toBe(false);
  });

  test('an HTML login page is refused instead of being saved as a model', async () => {
    const s = await started({ content: CONTENT, isLoginPage: true });
    const { ids } = await s.start();
    const failed = await transferIn(s.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'download_login_page' });
    expect(failed.error!.userMessage).toMatch(/sent a web page instead of the file/);
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual([]);
  });

  test('a gated model asks for the Hugging Face token, and with it set the download goes through', async () => {
    // HF_ENDPOINT names a Hugging Face mirror: the local file server stands in for huggingface.co.
    const gated = await started(
      { content: CONTENT, token: 'hf_secret_token' },
      { env: (files) => ({ HF_ENDPOINT: new URL(files.url('/')).origin }) },
    );
    const report = await gated.core.router.call('transfers.missing', { workflowId: gated.workflowId });
    expect(report.models[0]).toMatchObject({ needsToken: 'huggingface' });
    expect(report.models[0]!.problem).toMatch(/Needs your Hugging Face token: set it in Downloads › Access tokens/);
    const { ids } = await gated.start();
    const failed = await transferIn(gated.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'download_needs_token' });
    expect(failed.error!.userMessage).toMatch(/needs your Hugging Face token/);
    const tokens = await gated.core.router.call('transfers.setToken', {
      provider: 'huggingface',
      token: 'hf_secret_token',
    });
    expect(tokens).toEqual({ huggingface: true, civitai: false, storage: 'session-memory' });
    await gated.core.router.call('transfers.resume', { id: ids[0]! });
    await transferIn(gated.core, ids[0]!, ['done']);
    expect(readFileSync(gated.destination).equals(CONTENT)).toBe(true);
    expect(gated.files.requests.at(-1)!.authorization).toBe('Bearer hf_secret_token');
    // Secrets stay in the secret store: never in the transfers file.
    await gated.core.stop();
    expect(readFileSync(join(gated.dataDir, 'transfers.json'), 'utf8')).not.toContain('hf_secret');
  });

  test('pause keeps the partial file, resume continues it with a Range request', async () => {
    const s = await started({ content: CONTENT, chunkDelayMs: 15 }, { hash: sha256(CONTENT) });
    const { ids } = await s.start();
    const id = ids[0]!;
    await waitFor(() => s.core.transfers.list().items.find((item) => item.id === id)!.receivedBytes > 200_000);
    await s.core.router.call('transfers.pause', { id });
    const paused = await transferIn(s.core, id, ['paused']);
    expect(existsSync(s.destination)).toBe(false);
    const partial = readFileSync(`${s.destination}.part`);
    expect(partial.length).toBeGreaterThan(0);
    expect(paused.receivedBytes).toBeGreaterThan(0);
    s.files.files.get('/m/sd15.safetensors')!.chunkDelayMs = 0;
    await s.core.router.call('transfers.resume', { id });
    await transferIn(s.core, id, ['done']);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    expect(s.files.requests.at(-1)!.range).toBe(`bytes=${partial.length}-`);
  });

  test('cancel stops the transfer and deletes its partial file', async () => {
    const s = await started({ content: CONTENT, chunkDelayMs: 15 });
    const { ids } = await s.start();
    const id = ids[0]!;
    await waitFor(() => s.core.transfers.list().items.find((item) => item.id === id)!.receivedBytes > 100_000);
    const cancelled = await s.core.router.call('transfers.cancel', { id });
    expect(cancelled.state).toBe('cancelled');
    expect(readdirSync(s.comfy.folderPaths().checkpoints![0]!)).toEqual([]);
    const cleared = await s.core.router.call('transfers.clear', {});
    expect(cleared.items).toEqual([]);
  });

  test('a transfer running when the app stops resumes after the restart from its partial file', async () => {
    const s = await started({ content: CONTENT, chunkDelayMs: 15 }, { hash: sha256(CONTENT) });
    const { ids } = await s.start();
    const id = ids[0]!;
    await waitFor(() => s.core.transfers.list().items.find((item) => item.id === id)!.receivedBytes > 200_000);
    s.files.files.get('/m/sd15.safetensors')!.chunkDelayMs = 0;
    const core = await s.restart();
    await transferIn(core, id, ['done'], 30_000);
    expect(readFileSync(s.destination).equals(CONTENT)).toBe(true);
    const resumed = s.files.requests.filter((request) => request.method === 'GET').at(-1)!;
    expect(Number(/^bytes=(\d+)-$/.exec(resumed.range ?? '')?.[1])).toBeGreaterThan(0);
  });

  test('free space is checked before anything is written', async () => {
    const s = await started(CONTENT);
    const { ids } = await s.start({ sizeBytes: 10 ** 15 });
    const failed = await transferIn(s.core, ids[0]!, ['failed', 'done']);
    expect(failed.error).toMatchObject({ code: 'disk_full' });
    expect(failed.error!.userMessage).toMatch(/Not enough disk space for sd15\.safetensors/);
    expect(s.files.requests.filter((request) => request.method === 'GET')).toEqual([]);
  });

  test('a destination that is not one of the server folders is refused', async () => {
    const s = await started(CONTENT);
    const error = await failure(s.start({ destinationDir: '/etc' }));
    expect(error).toMatchObject({ code: 'invalid_input' });
    expect(error.userMessage).toMatch(/\/etc is not one of Test ComfyUI's "checkpoints" folders/);
  });
});

function uiNodeLora(id: number, name: string): Record<string, unknown> {
  return { ...loaderNode(id, 'LoraLoader', name), widgets_values: [name, 1, 1] };
}

describe('download progress', () => {
  /** A download as the transfer service runs it (at most ten reports a second) from a server that stalls after 1,500,000 bytes. */
  async function stallingDownload() {
    const files = new TestFileServer().serve('/m/half.safetensors', {
      content: CONTENT,
      stallAfterBytes: 1_500_000,
    });
    await files.start();
    stops.push(() => files.stop());
    const dir = tempDir('comfydesk-progress-');
    stops.push(() => dir.remove());
    const controller = new AbortController();
    const reports: DownloadProgress[] = [];
    const downloader = new FileDownloader({ log: silentLogger, progressIntervalMs: 100 });
    const download = downloader.download({
      url: files.url('/m/half.safetensors'),
      destination: join(dir.path, 'half.safetensors'),
      sizeBytes: CONTENT.length,
      signal: controller.signal,
      onProgress: (update) => reports.push(update),
    });
    return { controller, reports, download };
  }

  test('while a server stalls, progress shows every byte that arrived before it (a held-back report is sent when its interval ends)', async () => {
    const { controller, reports, download } = await stallingDownload();
    await waitFor(() => reports.at(-1)?.receivedBytes === 1_500_000, {
      message: 'progress never showed the 1500000 bytes sent before the stall',
    });
    controller.abort('stop');
    await expect(download).rejects.toMatchObject({ code: 'cancelled' });
    const count = reports.length;
    expect(reports.at(-1)).toMatchObject({ receivedBytes: 1_500_000, totalBytes: CONTENT.length });
    // Nothing is reported after the download ended.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(reports).toHaveLength(count);
  });

  test('while a server stalls, the speed shown falls and the time left grows', async () => {
    const { controller, reports, download } = await stallingDownload();
    const atStall = await waitFor(() => (reports.at(-1)?.receivedBytes === 1_500_000 ? reports.at(-1) : undefined), {
      message: 'progress never showed the 1500000 bytes sent before the stall',
    });
    expect(atStall.bytesPerSecond).toBeGreaterThan(0);
    const fallen = await waitFor(() => {
      const last = reports.at(-1)!;
      return last.bytesPerSecond < atStall.bytesPerSecond / 2 ? last : undefined;
    });
    expect(fallen.receivedBytes).toBe(1_500_000);
    expect(fallen.etaSeconds ?? Number.POSITIVE_INFINITY).toBeGreaterThan(atStall.etaSeconds!);
    controller.abort('stop');
    await expect(download).rejects.toMatchObject({ code: 'cancelled' });
  });
});
