import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { encodeBinaryFrame } from '../../../src/main/core/comfy/binary-frames';
import { PREVIEW_JPEG, solidPng } from './images';
import type { NodeDefinition } from './object-info';
import { pyStr } from './validate';

// The prompt worker of the emulation: ComfyUI 0.3.64's execute_async / execute (execution.py) and
// the progress hooks (main.py, comfy_execution/progress.py), message for message.

/** A queue item as ComfyUI keeps it: number, prompt id, prompt, extra_data, outputs to execute. */
export type QueueTuple = [number, string, Record<string, PromptNode>, Record<string, unknown>, string[]];
/** One node of an API prompt. */
export interface PromptNode {
  class_type: string;
  inputs: Record<string, unknown>;
  [key: string]: unknown;
}

/** An IMAGE as the emulation carries it between nodes. */
export interface ImageValue {
  kind: 'image';
  width: number;
  height: number;
  batch: number;
  color: number;
}

/** A failure injected into the next run of a node (by id or class). */
export interface InjectedFailure {
  nodeId?: string;
  classType?: string;
  /** `exception`: the node raises (execution_error); `disconnect`: every socket is dropped as the node starts, the run goes on. */
  kind: 'exception' | 'disconnect';
  message?: string;
}

/** What the worker needs from the server around it. */
export interface ExecutionHost {
  objectInfo: Record<string, NodeDefinition>;
  dirs: { input: string; output: string; temp: string };
  /** `sid` null = broadcast to every socket. */
  sendJson(type: string, data: unknown, sid: string | null): void;
  sendBinary(frame: Buffer, sid: string | null): void;
  supportsPreviewMetadata(sid: string | null): boolean;
  isInterrupted(): boolean;
  takeFailure(nodeId: string, classType: string): InjectedFailure | undefined;
  dropSockets(): void;
  setLastNodeId(nodeId: string | null): void;
  /** ms each ordinary node takes; PeerSlowSteps uses its own step_ms unless `stepMs` overrides it. */
  timing: { nodeMs: number; stepMs: number | undefined };
  sleep(ms: number): Promise<void>;
}

interface CacheEntry {
  signature: string;
  outputs: unknown[];
  ui: Record<string, unknown> | undefined;
}

/** What one run leaves for the history entry. */
export interface RunResult {
  success: boolean;
  messages: Array<[string, Record<string, unknown>]>;
  outputs: Record<string, Record<string, unknown>>;
  meta: Record<string, Record<string, unknown>>;
}

class Interrupted extends Error {}
class NodeException extends Error {
  constructor(
    message: string,
    readonly pyType = 'Exception',
  ) {
    super(message);
  }
}

/** Output-node caches survive between prompts exactly as ComfyUI's classic cache does: only the last prompt's nodes. */
export class PromptExecutor {
  #cache = new Map<string, CacheEntry>();

  constructor(private readonly host: ExecutionHost) {}

  /** Forgets cached outputs (POST /free with free_memory, or a restart). */
  reset(): void {
    this.#cache.clear();
  }

  async run(item: QueueTuple): Promise<RunResult> {
    const host = this.host;
    const [, promptId, prompt, extraData, outputsToExecute] = item;
    const client = typeof extraData.client_id === 'string' ? extraData.client_id : null;
    const messages: Array<[string, Record<string, unknown>]> = [];
    let success = true;
    const addMessage = (event: string, data: Record<string, unknown>, broadcast: boolean) => {
      const stamped = { ...data, timestamp: Date.now() };
      messages.push([event, stamped]);
      if (client !== null || broadcast) host.sendJson(event, stamped, client);
    };
    const toClient = (type: string, data: unknown) => {
      if (client !== null) host.sendJson(type, data, client);
    };

    addMessage('execution_start', { prompt_id: promptId }, false);
    const signatures = new Map<string, string>();
    const signature = (id: string): string => {
      const known = signatures.get(id);
      if (known) return known;
      const node = prompt[id]!;
      const inputs = Object.entries(node.inputs ?? {}).map(([name, value]) => [
        name,
        Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && prompt[value[0]]
          ? ['link', signature(value[0]), value[1]]
          : value,
      ]);
      const extra = node.class_type === 'LoadImage' ? this.#fileStamp(String(node.inputs.image)) : '';
      const result = JSON.stringify([node.class_type, inputs, extra]);
      signatures.set(id, result);
      return result;
    };
    // set_prompt + clean_unused: entries for nodes that are not in this prompt, or changed, are dropped.
    for (const id of [...this.#cache.keys()]) {
      if (!prompt[id] || this.#cache.get(id)!.signature !== signature(id)) this.#cache.delete(id);
    }
    const cachedNodes = Object.keys(prompt).filter((id) => this.#cache.has(id));
    // caches.outputs.all_node_ids(): after set_prompt, every node of this prompt.
    const currentOutputs = Object.keys(prompt);
    addMessage('execution_cached', { nodes: cachedNodes, prompt_id: promptId }, false);

    const progress = new Map<string, { state: 'running' | 'finished'; value: number; max: number }>();
    const sendProgressState = () => {
      const nodes: Record<string, unknown> = {};
      for (const [id, entry] of progress) {
        nodes[id] = {
          value: entry.value,
          max: entry.max,
          state: entry.state,
          node_id: id,
          prompt_id: promptId,
          display_node_id: id,
          parent_node_id: null,
          real_node_id: id,
        };
      }
      host.sendJson('progress_state', { prompt_id: promptId, nodes }, client);
    };
    const finish = (id: string) => {
      const entry = progress.get(id) ?? { state: 'finished' as const, value: 1, max: 1 };
      progress.set(id, { state: 'finished', value: entry.max, max: entry.max });
      sendProgressState();
    };

    const executed = new Set<string>();
    const order = executionOrder(prompt, outputsToExecute, (id) => this.#cache.has(id));
    for (const id of order) {
      const node = prompt[id]!;
      const cached = this.#cache.get(id);
      if (cached) {
        // A cached node reached in the list is an output node: its UI is replayed, nothing runs.
        toClient('executed', { node: id, display_node: id, output: cached.ui ?? null, prompt_id: promptId });
        finish(id);
        continue;
      }
      progress.set(id, { state: 'running', value: 0, max: 1 });
      sendProgressState();
      if (client !== null) {
        host.setLastNodeId(id);
        toClient('executing', { node: id, display_node: id, prompt_id: promptId });
      }
      const failure = host.takeFailure(id, node.class_type);
      if (failure?.kind === 'disconnect') host.dropSockets();
      let inputs: Record<string, unknown> = {};
      try {
        inputs = this.#resolveInputs(node, prompt);
        if (host.isInterrupted()) throw new Interrupted();
        if (failure?.kind === 'exception')
          throw new NodeException(failure.message ?? `Injected failure in ${node.class_type}`);
        const result = await this.#runNode(id, node, inputs, { promptId, client, progress, sendProgressState });
        this.#cache.set(id, { signature: signature(id), outputs: result.outputs, ui: result.ui });
        if (result.ui) toClient('executed', { node: id, display_node: id, output: result.ui, prompt_id: promptId });
        finish(id);
        executed.add(id);
      } catch (error) {
        success = false;
        if (error instanceof Interrupted) {
          addMessage(
            'execution_interrupted',
            { prompt_id: promptId, node_id: id, node_type: node.class_type, executed: [...executed] },
            true,
          );
        } else {
          const ex = error instanceof NodeException ? error : new NodeException(String(error));
          addMessage(
            'execution_error',
            {
              prompt_id: promptId,
              node_id: id,
              node_type: node.class_type,
              executed: [...executed],
              exception_message: `${ex.message}\n`,
              exception_type: ex.pyType,
              traceback: [
                '  File "/opt/ComfyUI/execution.py", line 496, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(...)\n',
              ],
              current_inputs: Object.fromEntries(
                Object.entries(inputs).map(([name, value]) => [
                  name,
                  [typeof value === 'object' && value !== null ? `tensor(${JSON.stringify(value)})` : value],
                ]),
              ),
              current_outputs: currentOutputs,
            },
            false,
          );
        }
        break;
      }
    }
    if (success) addMessage('execution_success', { prompt_id: promptId }, false);
    host.setLastNodeId(null);

    const outputs: Record<string, Record<string, unknown>> = {};
    const meta: Record<string, Record<string, unknown>> = {};
    for (const id of Object.keys(prompt)) {
      const ui = this.#cache.get(id)?.ui;
      if (!ui) continue;
      outputs[id] = ui;
      meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
    }
    return { success, messages, outputs, meta };
  }

  #fileStamp(name: string): string {
    const path = this.#annotatedPath(name);
    try {
      const stat = statSync(path);
      return `${stat.size}:${stat.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  #annotatedPath(name: string): string {
    const match = / \[(input|output|temp)\]$/.exec(name);
    const dir = match ? this.host.dirs[match[1] as 'input' | 'output' | 'temp'] : this.host.dirs.input;
    return join(dir, match ? name.slice(0, match.index) : name);
  }

  #resolveInputs(node: PromptNode, prompt: Record<string, PromptNode>): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node.inputs ?? {})) {
      if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && prompt[value[0]]) {
        inputs[name] = this.#cache.get(value[0])?.outputs[Number(value[1])];
      } else inputs[name] = value;
    }
    return inputs;
  }

  async #runNode(
    id: string,
    node: PromptNode,
    inputs: Record<string, unknown>,
    context: {
      promptId: string;
      client: string | null;
      progress: Map<string, { state: 'running' | 'finished'; value: number; max: number }>;
      sendProgressState: () => void;
    },
  ): Promise<{ outputs: unknown[]; ui?: Record<string, unknown> }> {
    const host = this.host;
    const firstImage = (): ImageValue =>
      Object.values(inputs).find(
        (value): value is ImageValue =>
          typeof value === 'object' && value !== null && (value as ImageValue).kind === 'image',
      ) ?? { kind: 'image', width: 64, height: 64, batch: 1, color: 0 };
    // Ordinary nodes report no progress, so an interrupt lands only at the next node boundary (transcript G).
    if (node.class_type !== 'PeerSlowSteps' && host.timing.nodeMs > 0) await host.sleep(host.timing.nodeMs);
    switch (node.class_type) {
      case 'EmptyImage':
        return {
          outputs: [
            {
              kind: 'image',
              width: Number(inputs.width),
              height: Number(inputs.height),
              batch: Number(inputs.batch_size),
              color: Number(inputs.color),
            } satisfies ImageValue,
          ],
        };
      case 'LoadImage': {
        const image: ImageValue = { kind: 'image', width: 64, height: 64, batch: 1, color: 0x808080 };
        return { outputs: [image, { ...image, kind: 'image' }] };
      }
      case 'ImageInvert': {
        const image = firstImage();
        return { outputs: [{ ...image, color: 0xffffff - image.color }] };
      }
      case 'GetImageSize': {
        const image = firstImage();
        // Core callers pass no sid: baseline servers broadcast progress text to every socket.
        host.sendBinary(
          encodeBinaryFrame({
            kind: 'text',
            nodeId: id,
            text: `width: ${image.width}, height: ${image.height}\n batch size: ${image.batch}`,
          }),
          null,
        );
        return { outputs: [image.width, image.height, image.batch] };
      }
      case 'PreviewAny':
        return { outputs: [], ui: { text: [pyStr(inputs.source)] } };
      case 'SaveImage':
        return {
          outputs: [],
          ui: { images: this.#saveImages(firstImage(), String(inputs.filename_prefix ?? 'ComfyUI'), 'output') },
        };
      case 'PreviewImage':
        return {
          outputs: [],
          ui: { images: this.#saveImages(firstImage(), `ComfyUI_temp_${randomLetters(5)}`, 'temp') },
        };
      case 'PeerSlowSteps':
        return { outputs: [firstImage()], ...(await this.#slowSteps(id, inputs, context)) };
      default:
        return {
          outputs: (host.objectInfo[node.class_type]?.output ?? []).map((type) =>
            type === 'IMAGE' || type === 'MASK' ? firstImage() : { kind: String(type) },
          ),
        };
    }
  }

  /** PeerSlowSteps: ComfyUI's ProgressBar hook per step — interrupt check, progress_state, previews, progress (main.py hijack_progress). */
  async #slowSteps(
    id: string,
    inputs: Record<string, unknown>,
    context: {
      promptId: string;
      client: string | null;
      progress: Map<string, { state: 'running' | 'finished'; value: number; max: number }>;
      sendProgressState: () => void;
    },
  ): Promise<{ ui?: undefined }> {
    const host = this.host;
    const steps = Number(inputs.steps);
    const stepMs = host.timing.stepMs ?? Number(inputs.step_ms);
    const withMetadata = host.supportsPreviewMetadata(context.client);
    for (let step = 1; step <= steps; step += 1) {
      await host.sleep(stepMs);
      if (host.isInterrupted()) throw new Interrupted();
      context.progress.set(id, { state: 'running', value: step, max: steps });
      context.sendProgressState();
      if (inputs.preview && withMetadata) {
        host.sendBinary(
          encodeBinaryFrame({
            kind: 'preview',
            format: 'jpeg',
            bytes: PREVIEW_JPEG,
            metadata: {
              node_id: id,
              prompt_id: context.promptId,
              display_node_id: id,
              parent_node_id: null,
              real_node_id: id,
            },
          }),
          context.client,
        );
      }
      host.sendJson('progress', { value: step, max: steps, prompt_id: context.promptId, node: id }, context.client);
      if (inputs.preview && !withMetadata)
        host.sendBinary(encodeBinaryFrame({ kind: 'preview', format: 'jpeg', bytes: PREVIEW_JPEG }), context.client);
    }
    return {};
  }

  #saveImages(
    image: ImageValue,
    prefix: string,
    type: 'output' | 'temp',
  ): Array<{ filename: string; subfolder: string; type: string }> {
    const base = this.host.dirs[type];
    const full = resolve(base, prefix);
    const folder = resolve(full, '..');
    if (relative(base, folder).startsWith('..')) {
      throw new NodeException(
        `**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: ${folder}\n         output_dir: ${base}\n         commonpath: ${folder}`,
      );
    }
    mkdirSync(folder, { recursive: true });
    const name = full.slice(folder.length + 1);
    const subfolder = relative(base, folder).split('\\').join('/');
    const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d{5})_\\.png$`);
    let counter = Math.max(0, ...readdirSync(folder).map((file) => Number(pattern.exec(file)?.[1] ?? 0))) + 1;
    const png = solidPng(image.width, image.height, image.color);
    const images: Array<{ filename: string; subfolder: string; type: string }> = [];
    for (let index = 0; index < Math.max(1, image.batch); index += 1) {
      const filename = `${name}_${String(counter).padStart(5, '0')}_.png`;
      writeFileSync(join(folder, filename), png);
      images.push({ filename, subfolder, type });
      counter += 1;
    }
    return images;
  }
}

function randomLetters(count: number): string {
  return Array.from(randomBytes(count), (byte) => String.fromCharCode(97 + (byte % 26))).join('');
}

/** Dependencies before dependents, outputs in prompt order, cached dependencies skipped (ComfyUI's ExecutionList). */
export function executionOrder(
  prompt: Record<string, PromptNode>,
  outputs: string[],
  isCached: (id: string) => boolean,
): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string, isOutput: boolean) => {
    if (seen.has(id)) return;
    // A cached dependency never enters the list; a cached output does (its UI is replayed).
    if (!isOutput && isCached(id)) return;
    seen.add(id);
    if (!isCached(id)) {
      for (const value of Object.values(prompt[id]?.inputs ?? {})) {
        if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && prompt[value[0]])
          visit(value[0], false);
      }
    }
    order.push(id);
  };
  const keys = Object.keys(prompt);
  for (const id of [...outputs].sort((a, b) => keys.indexOf(a) - keys.indexOf(b))) visit(id, true);
  return order;
}

/** True when `name` (optionally annotated " [output]") exists in the input/output/temp folders. */
export function annotatedFileExists(dirs: ExecutionHost['dirs'], name: string): boolean {
  const match = / \[(input|output|temp)\]$/.exec(name);
  const dir = match ? dirs[match[1] as 'input' | 'output' | 'temp'] : dirs.input;
  const file = resolve(dir, match ? name.slice(0, match.index) : name);
  return !relative(dir, file).startsWith('..') && existsSync(file);
}
