import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DownloadFinished } from '@shared/contract/llm';
import type { DownloadProgress } from '@shared/domain/llm';
import { NoticeCenter } from '../../src/main/core/app/notice-center';
import { silentLogger } from '../../src/main/core/lib/logger';
import type { CatalogModel } from '../../src/main/core/llm/catalog';
import { LlmModelStore, llmDownloader } from '../../src/main/core/llm/model-store';
import { FileDownloader } from '../../src/main/core/transfers/file-downloader';
import { localFileStore } from '../../src/main/core/transfers/file-store';
import { SettingsService } from '../../src/main/core/settings/settings-service';
import { MemorySettingsStore } from '../../src/main/core/settings/settings-store';
import { tempDir, waitFor } from '../support/core';
import { RangeFileServer, sha256 } from '../support/llm';

const CONTENT = randomBytes(3 * 1024 * 1024 + 123);
const PATH = '/models/file.gguf';

let server: RangeFileServer;
let dir: { path: string; remove: () => void };

beforeEach(async () => {
  server = new RangeFileServer().serve(PATH, CONTENT);
  await server.start();
  dir = tempDir('comfydesk-download-');
});

afterEach(async () => {
  await server.stop();
  dir.remove();
});

function downloader(overrides: Partial<Parameters<typeof llmDownloader>[0]> = {}): FileDownloader {
  return llmDownloader({ log: silentLogger, retryDelayMs: () => 1, progressIntervalMs: 0, ...overrides });
}

function destination(): string {
  return join(dir.path, 'models', 'file.gguf');
}

/** The test file to its destination, its SHA-256 checked, with nothing to stop it. */
function downloadVerified(): ReturnType<FileDownloader['download']> {
  return downloader().download({
    url: server.url(PATH),
    destination: destination(),
    sha256: sha256(CONTENT),
    signal: new AbortController().signal,
  });
}

describe('FileDownloader against a local server with Range support', () => {
  test('a download reports progress with speed and ETA, verifies the checksum and appears under its real name', async () => {
    const progress: DownloadProgress[] = [];
    const result = await downloader().download({
      url: server.url(PATH),
      destination: destination(),
      sha256: sha256(CONTENT),
      sizeBytes: CONTENT.length,
      signal: new AbortController().signal,
      onProgress: (update) => progress.push(update),
    });
    expect(result).toEqual({ path: destination(), sizeBytes: CONTENT.length, sha256: sha256(CONTENT) });
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(readdirSync(join(dir.path, 'models'))).toEqual(['file.gguf']);
    expect(progress.length).toBeGreaterThan(2);
    const received = progress.map((update) => update.receivedBytes);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(progress.at(-1)).toMatchObject({ receivedBytes: CONTENT.length, totalBytes: CONTENT.length, etaSeconds: 0 });
    expect(progress.some((update) => update.bytesPerSecond > 0)).toBe(true);
    expect(progress.some((update) => update.etaSeconds !== null && update.etaSeconds > 0)).toBe(true);
  });

  test('when the server drops the connection mid-transfer, the download resumes with a Range request', async () => {
    server.behaviour.dropAfterBytes = 1024 * 1024;
    server.behaviour.dropCount = 2;
    const result = await downloadVerified();
    expect(result.sha256).toBe(sha256(CONTENT));
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    // Each retry asks for the rest from what arrived (bytes in flight when the socket died are lost, so up to the drop point).
    const offsets = server.requests.map((request) =>
      request.range ? Number(/^bytes=(\d+)-$/.exec(request.range)![1]) : 0,
    );
    expect(offsets).toHaveLength(3);
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBeGreaterThan(0);
    expect(offsets[1]).toBeLessThanOrEqual(1024 * 1024);
    expect(offsets[2]).toBeGreaterThan(offsets[1]!);
    expect(server.requests[1]!.ifRange).toBe('"v1"');
  });

  test('a stopped download keeps its partial file and the next run continues from it', async () => {
    server.behaviour.chunkDelayMs = 5;
    const controller = new AbortController();
    const first = downloader().download({
      url: server.url(PATH),
      destination: destination(),
      sha256: sha256(CONTENT),
      signal: controller.signal,
      onProgress: (update) => {
        if (update.receivedBytes > 512 * 1024) controller.abort('stop');
      },
    });
    await expect(first).rejects.toMatchObject({ code: 'cancelled' });
    expect(existsSync(destination())).toBe(false);
    const partial = readFileSync(FileDownloader.partPath(destination()));
    expect(partial.length).toBeGreaterThan(512 * 1024);
    // All it wrote was synced when it stopped, so a restart after a crash resumes from all of it too.
    const record = JSON.parse(readFileSync(`${FileDownloader.partPath(destination())}.json`, 'utf8')) as unknown;
    expect(record).toMatchObject({ url: server.url(PATH), durableBytes: partial.length });

    server.behaviour.chunkDelayMs = 0;
    await downloadVerified();
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(server.requests.at(-1)!.range).toBe(`bytes=${partial.length}-`);
  });

  test('a server that ignores Range sends the whole file again, and the result is still exact', async () => {
    server.behaviour.dropAfterBytes = 700_000;
    server.behaviour.supportsRange = false;
    await downloadVerified();
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(server.requests.length).toBe(2);
  });

  test('a file that changed on the server since the partial download starts over (If-Range)', async () => {
    server.behaviour.dropAfterBytes = 700_000;
    const changed = randomBytes(CONTENT.length);
    let switched = false;
    await downloader({
      retryDelayMs: () => {
        if (!switched) {
          switched = true;
          server.serve(PATH, changed);
          server.behaviour.etag = '"v2"';
        }
        return 1;
      },
    }).download({
      url: server.url(PATH),
      destination: destination(),
      sha256: sha256(changed),
      signal: new AbortController().signal,
    });
    expect(readFileSync(destination()).equals(changed)).toBe(true);
  });

  test('a checksum mismatch is rejected: no model file and no partial file are left', async () => {
    const failure = downloader().download({
      url: server.url(PATH),
      destination: destination(),
      sha256: 'ab'.repeat(32),
      signal: new AbortController().signal,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'llm_checksum_mismatch',
      userMessage: expect.stringContaining('does not match its published checksum'),
    });
    expect(readdirSync(join(dir.path, 'models'))).toEqual([]);
  });

  test('too little free space is refused before anything is requested', async () => {
    const failure = downloader({ freeBytes: async () => 10 * 1024 * 1024 }).download({
      url: server.url(PATH),
      destination: destination(),
      sizeBytes: 2_000_000_000,
      signal: new AbortController().signal,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'disk_full',
      userMessage: expect.stringMatching(/needs 1\.9 GB .* has 10 MB free/),
    });
    expect(server.requests).toEqual([]);
  });

  test('a disk that fills up during the download is reported and the partial file is removed', async () => {
    // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    const failure = downloader({
      store: {
        ...localFileStore(),
        openAppend: async () => {
          const handle = await open('/dev/full', 'a');
          return {
            write: async (chunks) => void (await handle.writev(chunks)),
            sync: () => handle.sync(),
            close: () => handle.close(),
          };
        },
      },
    }).download({
      url: server.url(PATH),
      destination: destination(),
      signal: new AbortController().signal,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'disk_full',
      userMessage: expect.stringContaining('The disk filled up'),
    });
    expect(existsSync(FileDownloader.partPath(destination()))).toBe(false);
  });

  test('a missing file on the server is a clear failure, not a retry loop', async () => {
    const failure = downloader().download({
      url: server.url('/nope.gguf'),
      destination: destination(),
      signal: new AbortController().signal,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'llm_download_failed',
      userMessage: expect.stringContaining('no longer has this file (404)'),
    });
    expect(server.requests).toHaveLength(1);
  });

  test('a server that keeps failing gives up after a few attempts and keeps what it has', async () => {
    server.behaviour.status = 503;
    const failure = downloader({ maxAttempts: 3 }).download({
      url: server.url(PATH),
      destination: destination(),
      signal: new AbortController().signal,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'llm_download_failed',
      userMessage: expect.stringContaining('kept failing (the server answered 503)'),
    });
    expect(server.requests).toHaveLength(3);
  });

  test('a partial file left by a download from another address is not mixed in', async () => {
    const part = FileDownloader.partPath(destination());
    await downloader().download({
      url: server.url(PATH),
      destination: join(dir.path, 'models', 'warm-up.gguf'),
      signal: new AbortController().signal,
    });
    writeFileSync(part, 'garbage from elsewhere');
    writeFileSync(`${part}.json`, JSON.stringify({ url: 'http://elsewhere.invalid/file.gguf' }));
    await downloadVerified();
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(server.requests.at(-1)!.range).toBeUndefined();
  });
});

// A resume after a crash trusts only the length the last sync made durable: bytes past it may be zeros
// or missing after a power loss, and a resume that continued after them would build a wrong file.
describe('FileDownloader resuming after a crash', () => {
  const part = () => FileDownloader.partPath(destination());
  beforeEach(() => mkdirSync(join(dir.path, 'models'), { recursive: true }));

  // What a crash can leave past the durable bytes: zeros the disk never got the data for, or other bytes.
  test.each([
    { tail: 'zeros', extra: Buffer.alloc(300_000), hash: sha256(CONTENT) },
    { tail: 'other bytes, and no hash to catch them', extra: randomBytes(50_000), hash: undefined },
  ])('a partial file longer than its recorded durable length is cut back before resuming ($tail)', async (crash) => {
    const durableBytes = 700_000;
    writeFileSync(part(), Buffer.concat([CONTENT.subarray(0, durableBytes), crash.extra]));
    writeFileSync(`${part()}.json`, JSON.stringify({ url: server.url(PATH), etag: '"v1"', durableBytes }));

    const result = await downloader().download({
      url: server.url(PATH),
      destination: destination(),
      ...(crash.hash ? { sha256: crash.hash } : {}),
      signal: new AbortController().signal,
    });

    expect(result.sha256).toBe(sha256(CONTENT));
    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(server.requests.map((request) => request.range)).toEqual([`bytes=${durableBytes}-`]);
  });

  test('while the download runs, what was synced is recorded as durable', async () => {
    server.behaviour.chunkDelayMs = 5;
    const controller = new AbortController();
    const durable: number[] = [];
    // A store that notes each record, so the checkpoints are seen while the download still runs.
    const store = localFileStore();
    const noting = {
      ...store,
      writeText: async (path: string, text: string) => {
        const written = (JSON.parse(text) as { durableBytes?: number }).durableBytes;
        if (written) durable.push(written);
        await store.writeText(path, text);
      },
    };
    const running = downloader({ store: noting, checkpoint: { bytes: 256 * 1024 } }).download({
      url: server.url(PATH),
      destination: destination(),
      signal: controller.signal,
      onProgress: (update) => {
        if (update.receivedBytes > 1536 * 1024) controller.abort('pause');
      },
    });
    await expect(running).rejects.toMatchObject({ code: 'cancelled' });

    // Checkpoints came before the stop (each at least 256 KiB after the last), and each covered bytes on disk.
    const beforeStop = durable.slice(0, -1);
    expect(beforeStop.length).toBeGreaterThanOrEqual(2);
    expect(beforeStop).toEqual([...beforeStop].sort((a, b) => a - b));
    expect(durable.at(-1)).toBe(statSync(part()).size);
  });

  test('a record with a durable length that is not a length is not trusted: the download starts over', async () => {
    writeFileSync(part(), CONTENT.subarray(0, 500_000));
    writeFileSync(`${part()}.json`, JSON.stringify({ url: server.url(PATH), etag: '"v1"', durableBytes: -5 }));

    await downloadVerified();

    expect(readFileSync(destination()).equals(CONTENT)).toBe(true);
    expect(server.requests.map((request) => request.range)).toEqual([undefined]);
  });
});

describe('LlmModelStore downloads through the catalog', () => {
  async function store(): Promise<{
    store: LlmModelStore;
    finished: DownloadFinished[];
    entry: CatalogModel;
    modelsDir: string;
  }> {
    const settings = new SettingsService({
      store: new MemorySettingsStore(),
      notices: new NoticeCenter(),
      log: silentLogger,
    });
    await settings.start();
    const entry: CatalogModel = {
      id: 'tiny-test',
      name: 'Tiny test model',
      description: 'served locally',
      fileName: 'tiny-test.gguf',
      url: server.url(PATH),
      sizeBytes: CONTENT.length,
      sha256: sha256(CONTENT),
      memoryBytes: 1,
      license: 'MIT',
    };
    const modelsDir = join(dir.path, 'llm');
    const instance = new LlmModelStore({
      settings,
      downloader: downloader(),
      defaultModelsDir: modelsDir,
      catalog: [entry],
      log: silentLogger,
    });
    const finished: DownloadFinished[] = [];
    instance.on('finished', (event) => finished.push(event));
    return { store: instance, finished, entry, modelsDir };
  }

  test('a catalog model goes not installed → downloading → installed, and the same download is joined, not repeated', async () => {
    const { store: models, finished } = await store();
    expect((await models.list()).models[0]).toMatchObject({ id: 'tiny-test', state: 'not_installed' });
    server.behaviour.chunkDelayMs = 2;
    const first = await models.download('tiny-test');
    const second = await models.download('tiny-test');
    expect(second.downloadId).toBe(first.downloadId);
    expect((await models.list()).models[0]).toMatchObject({
      state: 'downloading',
      download: { totalBytes: CONTENT.length },
    });
    await waitFor(() => finished.length === 1, { timeoutMs: 20_000 });
    expect(finished[0]).toMatchObject({ ok: true, downloadId: first.downloadId, modelId: 'tiny-test' });
    expect((await models.list()).models[0]).toMatchObject({ state: 'installed' });
    await expect(models.download('tiny-test')).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await models.resolve('tiny-test')).path).toMatch(/tiny-test\.gguf$/);
  });

  test('cancelling a download deletes what it wrote; removing a model deletes the file', async () => {
    const { store: models, finished, modelsDir } = await store();
    server.behaviour.chunkDelayMs = 20;
    await models.download('tiny-test');
    await waitFor(() => existsSync(join(modelsDir, 'tiny-test.gguf.part')));
    await models.cancelDownload('tiny-test');
    expect(finished[0]).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(readdirSync(modelsDir)).toEqual([]);
    expect((await models.list()).models[0]!.state).toBe('not_installed');

    server.behaviour.chunkDelayMs = 0;
    await models.download('tiny-test');
    await waitFor(() => finished.length === 2, { timeoutMs: 20_000 });
    await models.remove('tiny-test');
    expect(readdirSync(modelsDir)).toEqual([]);
    await expect(models.remove(join(modelsDir, 'mine.gguf'))).rejects.toMatchObject({ code: 'invalid_input' });
  });

  test('stopping keeps a partial download for the next start; a failed checksum reaches listeners as an error', async () => {
    const { store: models, finished, modelsDir } = await store();
    server.behaviour.chunkDelayMs = 20;
    await models.download('tiny-test');
    await waitFor(() => existsSync(join(modelsDir, 'tiny-test.gguf.part')));
    await models.stop();
    expect(finished[0]).toMatchObject({
      ok: false,
      error: { code: 'cancelled', userMessage: expect.stringContaining('resumes') },
    });
    expect(existsSync(join(modelsDir, 'tiny-test.gguf.part'))).toBe(true);

    server.behaviour.chunkDelayMs = 0;
    server.serve(PATH, randomBytes(CONTENT.length));
    server.behaviour.etag = '"v2"';
    await models.download('tiny-test');
    await waitFor(() => finished.length === 2, { timeoutMs: 20_000 });
    expect(finished[1]).toMatchObject({ ok: false, error: { code: 'llm_checksum_mismatch' } });
    expect((await models.list()).models[0]!.state).toBe('not_installed');
  });

  test('GGUF files dropped into the models folder are listed as usable files', async () => {
    const { store: models, modelsDir } = await store();
    await models.download('tiny-test');
    await waitFor(async () => (await models.list()).models[0]!.state === 'installed', { timeoutMs: 20_000 });
    writeFileSync(join(modelsDir, 'my-own.gguf'), 'x');
    const list = await models.list();
    expect(list.modelsDir).toBe(modelsDir);
    expect(list.freeBytes).toBeGreaterThan(0);
    expect(list.models.map((model) => [model.id, model.source, model.state])).toEqual([
      ['tiny-test', 'catalog', 'installed'],
      [join(modelsDir, 'my-own.gguf'), 'file', 'installed'],
    ]);
    expect((await models.resolve('my-own.gguf')).path).toBe(join(modelsDir, 'my-own.gguf'));
    await expect(models.resolve('no-such-model')).rejects.toMatchObject({ code: 'not_found' });
  });
});
