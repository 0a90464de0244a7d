import { isApiLink, type ApiPrompt } from '@shared/domain/generation';
import type { JobProgress } from '@shared/domain/job';
import { estimateEtaSeconds } from './eta';

export interface ProgressTrackerOptions {
  prompt: ApiPrompt;
  /** Node classes that are outputs (object_info `output_node`); the run closure starts from them. */
  isOutputNode: (classType: string) => boolean;
  /** Titles by execution id, as the user named the nodes (falls back to `_meta.title`, then class). */
  titles?: Record<string, string>;
  /** How long this run should take judging by past runs (ms, see `expectedDurationMs`). */
  expectedMs?: number;
  now: () => number;
}

/**
 * The nodes a prompt will run: everything its output nodes depend on. Nodes nothing consumes and
 * that are not outputs are left out, as ComfyUI leaves them out.
 */
export function runClosure(prompt: ApiPrompt, isOutputNode: (classType: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const stack = Object.keys(prompt).filter((id) => isOutputNode(prompt[id]!.class_type));
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id) || !prompt[id]) continue;
    seen.add(id);
    for (const value of Object.values(prompt[id].inputs)) if (isApiLink(value)) stack.push(value[0]);
  }
  return seen;
}

/** The sampler steps one node takes (its `steps`, narrowed by start/end_at_step), or 0 for other nodes. */
function nodeSteps(prompt: ApiPrompt, id: string): number {
  const inputs = prompt[id]?.inputs;
  const steps = inputs?.steps;
  if (typeof steps !== 'number' || steps <= 1) return 0;
  const start = inputs?.start_at_step;
  const end = inputs?.end_at_step;
  if (typeof start === 'number' && typeof end === 'number' && end > start)
    return Math.max(1, Math.min(steps, end) - start);
  return steps;
}

/**
 * The sampler steps a run takes in all (the steps the person chose, summed over its samplers), or
 * null when it has none. Time estimates scale past runs by this.
 */
export function samplingSteps(prompt: ApiPrompt, isOutputNode: (classType: string) => boolean): number | null {
  let total = 0;
  for (const id of runClosure(prompt, isOutputNode)) total += nodeSteps(prompt, id);
  return total > 0 ? total : null;
}

/**
 * Turns ComfyUI's per-node events into one overall percent across the whole graph: the nodes that
 * will run (everything the output nodes depend on, minus cached ones), each weighted by its
 * sampler steps where known. The percent never goes backwards and reaches 100 only at the end.
 */
export class ProgressTracker {
  readonly #options: ProgressTrackerOptions;
  readonly #weights = new Map<string, number>();
  readonly #done = new Set<string>();
  #current: string | null = null;
  #step: number | null = null;
  #steps: number | null = null;
  #partial = 0;
  #percent = 0;
  #startedAt: number | null = null;
  #finished = false;

  constructor(options: ProgressTrackerOptions) {
    this.#options = options;
    for (const id of runClosure(options.prompt, options.isOutputNode))
      this.#weights.set(id, nodeSteps(options.prompt, id) || 1);
  }

  /** Node ids expected to execute (before cache hits are known). */
  get plannedNodes(): string[] {
    return [...this.#weights.keys()];
  }

  /** The run started (at `atMs`, e.g. when a job adopted after a restart really began). */
  started(atMs?: number): void {
    this.#startedAt ??= atMs ?? this.#options.now();
  }

  /**
   * Picks up a run that was already under way (adopted after a restart or a reconnect): `nodeId`
   * runs now, so every node it depends on has run or was cached.
   */
  resumeAt(nodeId: string): void {
    const upstream = new Set<string>();
    const stack = [...this.#inputsOf(nodeId)];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (upstream.has(id)) continue;
      upstream.add(id);
      stack.push(...this.#inputsOf(id));
    }
    for (const id of upstream) this.#done.add(id);
    this.executing(nodeId);
  }

  /** `progress_state`: ComfyUI's view of every node that started; finished ones are done. */
  nodeStates(nodes: Record<string, { state: string }>): void {
    let changed = false;
    for (const [id, node] of Object.entries(nodes)) {
      if (node.state !== 'finished' || this.#done.has(id)) continue;
      this.#done.add(id);
      changed = true;
    }
    if (changed) this.#recompute();
  }

  /** `execution_cached`: these will not run; they no longer count. */
  cached(nodeIds: string[]): void {
    for (const id of nodeIds) this.#weights.delete(id);
    this.#recompute();
  }

  /** `executing`: a node starts (null = the prompt ended). The previous node is done. */
  executing(nodeId: string | null): void {
    this.started();
    if (this.#current && this.#current !== nodeId) this.#done.add(this.#current);
    this.#current = nodeId;
    this.#step = null;
    this.#steps = null;
    this.#partial = 0;
    if (nodeId && !this.#weights.has(nodeId)) this.#weights.set(nodeId, 1);
    this.#recompute();
  }

  /** `progress`: a step inside the current (or named) node. */
  progress(nodeId: string | null, value: number, max: number): void {
    this.started();
    const id = nodeId ?? this.#current;
    if (id && id !== this.#current) this.executing(id);
    if (id && max > 1 && (this.#weights.get(id) ?? 1) === 1) {
      // A node we did not know to be a sampler reports steps: weigh it by them from now on.
      this.#weights.set(id, max);
    }
    this.#step = value;
    this.#steps = max;
    this.#partial = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
    this.#recompute();
  }

  /**
   * `executed`: an output node returned its result. It stays the node shown until the next one
   * starts: after the last one the run is saving its results, not "starting".
   */
  executed(nodeId: string): void {
    this.#done.add(nodeId);
    this.#recompute();
  }

  /** The prompt finished successfully: 100. */
  finish(): void {
    this.#finished = true;
    this.#percent = 100;
  }

  snapshot(): JobProgress {
    const now = this.#options.now();
    const elapsedMs = this.#startedAt === null ? 0 : now - this.#startedAt;
    return {
      percent: this.#percent,
      nodeId: this.#current,
      nodeTitle: this.#current ? this.titleOf(this.#current) : null,
      step: this.#step,
      steps: this.#steps,
      etaSeconds: this.#finished
        ? 0
        : estimateEtaSeconds({
            fraction: this.#percent / 100,
            elapsedMs,
            expectedMs: this.#options.expectedMs,
          }),
    };
  }

  titleOf(nodeId: string): string {
    const { titles, prompt } = this.#options;
    return titles?.[nodeId] ?? prompt[nodeId]?._meta?.title ?? prompt[nodeId]?.class_type ?? nodeId;
  }

  #recompute(): void {
    if (this.#finished) return;
    let total = 0;
    let done = 0;
    for (const [id, weight] of this.#weights) {
      total += weight;
      if (this.#done.has(id)) done += weight;
      else if (id === this.#current) done += weight * this.#partial;
    }
    const raw = total > 0 ? (done / total) * 100 : 0;
    // Monotonic, and never 100 before the server says the prompt ended.
    this.#percent = Math.max(this.#percent, Math.min(99, raw));
  }

  #inputsOf(id: string): string[] {
    const node = this.#options.prompt[id];
    return node ? Object.values(node.inputs).flatMap((value) => (isApiLink(value) ? [value[0]] : [])) : [];
  }
}
