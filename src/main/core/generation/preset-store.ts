import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { Preset } from '@shared/domain/generation';
import type { NoticeCenter } from '../app/notice-center';
import { AppError, fileError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** The file: presets per workflow id. */
const PresetFile = z.object({ version: z.literal(1), workflows: z.record(z.string(), z.array(Preset)) });
type PresetFile = z.infer<typeof PresetFile>;

export interface PresetStoreDeps {
  /** The JSON file presets live in (`presets.json` in the data folder). */
  file: string;
  log: Logger;
  /** Told when a damaged file was moved aside. */
  notices?: Pick<NoticeCenter, 'raise'>;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Named sets of form values per workflow, kept in one JSON file in the data folder. Writes are
 * atomic (a temporary file renamed over the old one) and one at a time; a damaged file is moved
 * aside (`presets.json.corrupt-<date>`) and the person told, never silently emptied.
 */
export class PresetStore {
  readonly #deps: PresetStoreDeps;
  #data: PresetFile = { version: 1, workflows: {} };
  /** The read of the file: undefined until started, then an error when the file could not be read. */
  #loaded: Promise<AppError | undefined> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: PresetStoreDeps) {
    this.#deps = deps;
  }

  /**
   * Reads the file (once). A file that cannot be read does not stop the app: every later call
   * answers with that error instead, and nothing is written over the file.
   */
  async start(): Promise<void> {
    this.#loaded ??= this.#load().then(
      () => undefined,
      (error: unknown) => {
        this.#deps.log.warn('presets unreadable', { file: this.#deps.file, error });
        return error instanceof AppError ? error : fileError(error, 'read', this.#deps.file);
      },
    );
    await this.#loaded;
  }

  /** Waits for a write in progress. */
  async stop(): Promise<void> {
    await this.#writing;
  }

  async list(workflowId: string): Promise<Preset[]> {
    await this.#ready();
    return sorted(this.#data.workflows[workflowId] ?? []);
  }

  /** Saves a preset, replacing one of the same name (names compare without regard to case). */
  async save(workflowId: string, preset: Omit<Preset, 'savedAt'>): Promise<Preset[]> {
    await this.#ready();
    const others = (this.#data.workflows[workflowId] ?? []).filter(
      (item) => item.name.toLowerCase() !== preset.name.toLowerCase(),
    );
    const saved = Preset.parse({ ...preset, savedAt: (this.#deps.now ?? Date.now)() });
    this.#data = { ...this.#data, workflows: { ...this.#data.workflows, [workflowId]: [...others, saved] } };
    await this.#write();
    return sorted(this.#data.workflows[workflowId]!);
  }

  async delete(workflowId: string, name: string): Promise<Preset[]> {
    await this.#ready();
    const remaining = (this.#data.workflows[workflowId] ?? []).filter((item) => item.name !== name);
    const workflows = { ...this.#data.workflows };
    if (remaining.length > 0) workflows[workflowId] = remaining;
    else delete workflows[workflowId];
    this.#data = { ...this.#data, workflows };
    await this.#write();
    return sorted(remaining);
  }

  async #ready(): Promise<void> {
    await this.start();
    const error = await this.#loaded;
    if (error) throw error;
  }

  async #load(): Promise<void> {
    const { file, log } = this.#deps;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (systemErrorCode(error) === 'ENOENT') return;
      throw fileError(error, 'read', file);
    }
    let parsed: ReturnType<typeof PresetFile.safeParse> | undefined;
    try {
      parsed = PresetFile.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) {
      this.#data = parsed.data;
      return;
    }
    const aside = `${file}.corrupt-${new Date((this.#deps.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`;
    try {
      await rename(file, aside);
    } catch (error) {
      throw fileError(error, 'move aside', file);
    }
    log.warn('presets file damaged; moved aside', { file, aside });
    this.#deps.notices?.raise(
      'warning',
      `Your saved presets could not be read, so the file was kept as ${aside} and ComfyDesk starts with none.`,
    );
  }

  /** Queues a write of the whole file; the next write starts after this one, so the file ends as the data is. */
  #write(): Promise<void> {
    const { file } = this.#deps;
    const text = JSON.stringify(this.#data, null, 1);
    const write = this.#writing.then(async () => {
      const temporary = `${file}.${process.pid}.tmp`;
      try {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(temporary, text);
        await rename(temporary, file);
      } catch (error) {
        throw fileError(error, 'save presets to', file);
      }
    });
    // A failed write must not block the ones after it; its caller still sees the error.
    this.#writing = write.catch(() => undefined);
    return write;
  }
}

function sorted(presets: readonly Preset[]): Preset[] {
  return [...presets].sort((a, b) => a.name.localeCompare(b.name));
}
