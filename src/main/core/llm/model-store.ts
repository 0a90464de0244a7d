import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { SerializedError } from '@shared/contract/errors';
import type { DownloadFinished } from '@shared/contract/llm';
import type { DownloadProgress, LlmModel, LlmModelList } from '@shared/domain/llm';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, fileError, serializeError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { SettingsService } from '../settings/settings-service';
import { LLM_CATALOG, type CatalogModel } from './catalog';
import { FileDownloader, freeBytesOf, type DownloadErrorCodes } from '../transfers/file-downloader';

interface ModelStoreEvents {
  /** Install or download state changed; listeners re-read `list()`. */
  changed: undefined;
  progress: { downloadId: string; modelId: string; progress: DownloadProgress };
  finished: DownloadFinished;
}

/** The store's collaborators: settings (models folder, selection), the downloader, and overrides for tests. */
export interface LlmModelStoreDeps {
  settings: SettingsService;
  downloader: FileDownloader;
  /** Used when the `llm.modelsDir` setting is empty. */
  defaultModelsDir: string;
  log: Logger;
  /** @default fs.statfs */
  freeBytes?: (dir: string) => Promise<number | null>;
  /** The models offered for download. @default LLM_CATALOG */
  catalog?: readonly CatalogModel[];
  /**
   * A Hugging Face mirror (the `HF_ENDPOINT` convention of huggingface_hub, e.g.
   * `https://hf-mirror.com`): catalog URLs on huggingface.co are fetched from there instead.
   */
  hfEndpoint?: string;
}

/** A model ready to load. */
export interface ResolvedModel {
  /** Catalog id or absolute path (what status and results report). */
  id: string;
  name: string;
  path: string;
}

interface ActiveDownload {
  id: string;
  controller: AbortController;
  progress: DownloadProgress;
  done: Promise<void>;
}

/**
 * The models on this machine: the catalog (downloaded into the models folder), GGUF files found in
 * that folder, and a file chosen from disk. Owns downloads — one per model at a time — and removal.
 */
export class LlmModelStore {
  readonly #deps: LlmModelStoreDeps;
  readonly #emitter: Emitter<ModelStoreEvents>;
  readonly #downloads = new Map<string, ActiveDownload>();
  readonly #catalog: readonly CatalogModel[];

  constructor(deps: LlmModelStoreDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
    const mirror = deps.hfEndpoint?.trim().replace(/\/+$/, '');
    this.#catalog = (deps.catalog ?? LLM_CATALOG).map((entry) =>
      mirror ? { ...entry, url: entry.url.replace(/^https:\/\/huggingface\.co(?=\/)/, mirror) } : entry,
    );
  }

  on<K extends keyof ModelStoreEvents>(name: K, listener: (payload: ModelStoreEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /** The folder catalog models go to: the setting, or `<data dir>/models/llm`. */
  get modelsDir(): string {
    const configured = this.#deps.settings.get().llm.modelsDir.trim();
    return configured ? resolve(configured) : this.#deps.defaultModelsDir;
  }

  /** Whether a model is being downloaded. */
  isDownloading(modelId: string): boolean {
    return this.#downloads.has(modelId);
  }

  /** Every model with its state on disk (loading state is added by the service). */
  async list(): Promise<LlmModelList> {
    const dir = this.modelsDir;
    const selected = this.#deps.settings.get().llm.model;
    const models: LlmModel[] = [];
    for (const entry of this.#catalog) models.push(await this.#catalogModel(entry, dir, selected));

    const seen = new Set(models.map((model) => model.path));
    const files = await this.#ggufFilesIn(dir);
    const selectedPath = this.#find(selected) ? undefined : this.#pathOf(selected);
    if (selectedPath && !files.includes(selectedPath)) files.push(selectedPath);
    for (const path of files) {
      if (seen.has(path)) continue;
      seen.add(path);
      const size = await fileSize(path);
      models.push({
        id: path,
        name: basename(path),
        source: 'file',
        description: dirname(path) === dir ? 'A GGUF file in the models folder.' : 'A GGUF file chosen from disk.',
        path,
        sizeBytes: size,
        memoryBytes: size === null ? null : Math.round(size * 1.25),
        state: size === null ? 'missing' : 'installed',
        isSelected: path === selectedPath,
      });
    }
    return { modelsDir: dir, freeBytes: await this.#freeBytes(dir), models };
  }

  /** The file behind a catalog id or path, checked to exist; throws `not_found` or `llm_model_missing`. */
  async resolve(ref: string): Promise<ResolvedModel> {
    const entry = this.#find(ref);
    if (entry) {
      const path = join(this.modelsDir, entry.fileName);
      if ((await fileSize(path)) === null) {
        const how = this.isDownloading(entry.id)
          ? 'It is still downloading; try again when the download is done.'
          : `Download it in Settings › AI prompt enhancement, or run \`comfydesk llm download ${entry.id}\`.`;
        throw new AppError('llm_model_missing', `${entry.name} is not installed yet. ${how}`, {
          details: { model: entry.id, path },
        });
      }
      return { id: entry.id, name: entry.name, path };
    }
    const path = this.#pathOf(ref);
    if (!path) {
      throw new AppError('not_found', `"${ref}" is neither a catalog model (${this.#ids()}) nor a .gguf file.`, {
        details: { model: ref },
      });
    }
    if ((await fileSize(path)) === null) {
      throw new AppError(
        'llm_model_missing',
        `The model file ${path} does not exist. Choose another file in Settings › AI prompt enhancement.`,
        { details: { model: ref, path } },
      );
    }
    return { id: path, name: basename(path), path };
  }

  /** Starts downloading a catalog model, or joins the download already running. */
  async download(modelId: string): Promise<{ downloadId: string; modelId: string }> {
    const entry = this.#find(modelId);
    if (!entry)
      throw new AppError('not_found', `There is no catalog model "${modelId}". Known: ${this.#ids()}.`, {
        details: { model: modelId },
      });
    const running = this.#downloads.get(entry.id);
    if (running) return { downloadId: running.id, modelId: entry.id };
    const destination = join(this.modelsDir, entry.fileName);
    if ((await fileSize(destination)) !== null) {
      throw new AppError('invalid_input', `${entry.name} is already installed.`, {
        details: { model: entry.id, path: destination },
      });
    }

    const id = randomUUID();
    const controller = new AbortController();
    const download: ActiveDownload = {
      id,
      controller,
      progress: { receivedBytes: 0, totalBytes: entry.sizeBytes, bytesPerSecond: 0, etaSeconds: null },
      done: Promise.resolve(),
    };
    this.#downloads.set(entry.id, download);
    // Runs in the background: the caller gets the id now and follows progress through events.
    download.done = this.#run(entry, destination, download);
    this.#emitter.emit('changed', undefined);
    return { downloadId: id, modelId: entry.id };
  }

  /** Stops a download and deletes what it wrote. Resolves once it has stopped. */
  async cancelDownload(modelId: string): Promise<void> {
    const download = this.#downloads.get(modelId);
    if (!download) return;
    download.controller.abort('cancel');
    await download.done;
  }

  /** Deletes a downloaded catalog model (and any partial download of it). Files chosen from disk are left alone. */
  async remove(modelId: string): Promise<void> {
    const entry = this.#find(modelId);
    if (!entry) {
      throw new AppError(
        'invalid_input',
        'ComfyDesk only deletes catalog models it downloaded. To stop using a file from disk, choose another model.',
        { details: { model: modelId } },
      );
    }
    await this.cancelDownload(entry.id);
    const path = join(this.modelsDir, entry.fileName);
    try {
      await rm(path, { force: true });
      await FileDownloader.discardPartial(path);
    } catch (error) {
      throw fileError(error, 'delete', path);
    }
    this.#emitter.emit('changed', undefined);
  }

  /** Stops every download, keeping what was downloaded so the next start resumes it. */
  async stop(): Promise<void> {
    const running = [...this.#downloads.values()];
    for (const download of running) download.controller.abort('stop');
    await Promise.all(running.map((download) => download.done));
  }

  async #run(entry: CatalogModel, destination: string, download: ActiveDownload): Promise<void> {
    let outcome: DownloadFinished;
    try {
      await this.#deps.downloader.download({
        url: entry.url,
        destination,
        sha256: entry.sha256,
        sizeBytes: entry.sizeBytes,
        signal: download.controller.signal,
        onProgress: (progress) => {
          download.progress = progress;
          this.#emitter.emit('progress', { downloadId: download.id, modelId: entry.id, progress });
        },
      });
      outcome = { downloadId: download.id, modelId: entry.id, ok: true, path: destination };
      this.#deps.log.info('model downloaded', { model: entry.id, path: destination });
    } catch (error) {
      if (download.controller.signal.reason === 'cancel')
        await FileDownloader.discardPartial(destination).catch(() => undefined);
      const serialized: SerializedError =
        download.controller.signal.reason === 'cancel'
          ? { code: 'cancelled', userMessage: `The download of ${entry.name} was cancelled.` }
          : download.controller.signal.reason === 'stop'
            ? {
                code: 'cancelled',
                userMessage: `The download of ${entry.name} stopped because ComfyDesk is closing; it resumes from where it was.`,
              }
            : serializeError(error, this.#deps.log);
      outcome = { downloadId: download.id, modelId: entry.id, ok: false, error: serialized };
      if (serialized.code !== 'cancelled') this.#deps.log.warn('model download failed', { model: entry.id, error });
    }
    this.#downloads.delete(entry.id);
    this.#emitter.emit('finished', outcome);
    this.#emitter.emit('changed', undefined);
  }

  async #catalogModel(entry: CatalogModel, dir: string, selected: string): Promise<LlmModel> {
    const path = join(dir, entry.fileName);
    const download = this.#downloads.get(entry.id);
    const installed = (await fileSize(path)) !== null;
    return {
      id: entry.id,
      name: entry.name,
      source: 'catalog',
      description: entry.description,
      path,
      sizeBytes: entry.sizeBytes,
      memoryBytes: entry.memoryBytes,
      url: entry.url,
      sha256: entry.sha256,
      license: entry.license,
      state: download ? 'downloading' : installed ? 'installed' : 'not_installed',
      ...(download ? { download: download.progress } : {}),
      isSelected: entry.id === selected,
    };
  }

  #find(id: string): CatalogModel | undefined {
    return this.#catalog.find((entry) => entry.id === id);
  }

  #ids(): string {
    return this.#catalog.map((entry) => entry.id).join(', ');
  }

  /** A reference that is not a catalog id, as a path: absolute, or a `.gguf` name inside the models folder. */
  #pathOf(ref: string): string | undefined {
    if (isAbsolute(ref)) return ref;
    if (ref.toLowerCase().endsWith('.gguf')) return join(this.modelsDir, ref);
    return undefined;
  }

  async #ggufFilesIn(dir: string): Promise<string[]> {
    try {
      const names = await readdir(dir);
      const catalogFiles = new Set(this.#catalog.map((entry) => entry.fileName));
      return names
        .filter((name) => name.toLowerCase().endsWith('.gguf') && !catalogFiles.has(name))
        .map((name) => join(dir, name));
    } catch (error) {
      if (systemErrorCode(error) !== 'ENOENT') this.#deps.log.warn('models folder unreadable', { dir, error });
      return [];
    }
  }

  #freeBytes(dir: string): Promise<number | null> {
    return (this.#deps.freeBytes ?? freeBytesOf)(dir);
  }
}

/** Prompt enhancement keeps its own error codes for downloads (the renderer and the CLI branch on them). */
export const LLM_DOWNLOAD_CODES: DownloadErrorCodes = {
  failed: 'llm_download_failed',
  checksum: 'llm_checksum_mismatch',
  notFound: 'llm_download_failed',
  needsToken: 'llm_download_failed',
  loginPage: 'llm_download_failed',
};

/** A downloader for catalog models: their error codes, words and retry hint. */
export function llmDownloader(
  deps: Omit<ConstructorParameters<typeof FileDownloader>[0], 'codes' | 'retryHint' | 'describeRefusal'>,
): FileDownloader {
  return new FileDownloader({
    ...deps,
    codes: LLM_DOWNLOAD_CODES,
    retryHint: 'press Download again to resume.',
    describeRefusal: llmRefusal,
  });
}

function llmRefusal(status: number, url: string): string {
  const host = new URL(url).host;
  if (status === 404)
    return `${host} no longer has this file (404). The catalog may be out of date; choose another model or use a GGUF file from disk.`;
  if (status === 401 || status === 403)
    return `${host} refused the download (${status}). The model may need an account there; download it in a browser and choose the file from disk.`;
  return `${host} refused the download (${status}). Try again later.`;
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats.size : null;
  } catch {
    return null;
  }
}
