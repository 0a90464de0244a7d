import type { ApiPrompt } from '@shared/domain/generation';
import type { ServerInventory } from '@shared/domain/inventory';
import { modelState, prepareInventory, type PreparedInventory } from '../workflows/compatibility';
import { looksLikeModelFile, SYNTHETIC_MODEL_NAMES } from '../workflows/node-types';
import type { Dispatcher, Placement } from './held-queue';
import type { Entry } from './job-entry';
import type { ServerAttachment } from './server-attachment';
import type { ServerDirectory } from './server-directory';

/** What a converted prompt needs from a server: every node type it uses and every model file it names. */
export interface PromptNeeds {
  nodeTypes: string[];
  models: string[];
}

/** The node types and model files a prompt needs (models found by their file extension in literal inputs). */
export function needsOf(prompt: ApiPrompt): PromptNeeds {
  const nodeTypes = new Set<string>();
  const models = new Set<string>();
  for (const node of Object.values(prompt)) {
    nodeTypes.add(node.class_type);
    for (const value of Object.values(node.inputs ?? {}))
      if (typeof value === 'string' && looksLikeModelFile(value) && !SYNTHETIC_MODEL_NAMES.has(value))
        models.add(value);
  }
  return { nodeTypes: [...nodeTypes], models: [...models] };
}

/** The first thing a server lacks for a prompt, in words ("flux1-dev.safetensors", "the node type X"), or undefined. */
export function missingOn(needs: PromptNeeds, inventory: PreparedInventory): string | undefined {
  for (const type of needs.nodeTypes) if (!inventory.nodeTypes.has(type)) return `the node type ${type}`;
  for (const name of needs.models) if (modelState({ name, folder: null }, inventory) === 'missing') return name;
  return undefined;
}

export interface FarmDispatcherDeps {
  servers: ServerDirectory;
  /** The attachment of an online server, if there is one. */
  attachment: (serverId: string) => ServerAttachment | undefined;
  /** Every attachment (online servers of interest). */
  attachments: () => Iterable<ServerAttachment>;
  /** How long a workflow took on a server lately (median, ms); undefined when it never ran there. */
  learnedMs: (workflowId: string, serverId: string) => number | undefined;
}

/**
 * Places held jobs over every server used for generation (or the servers a job is pinned to): only
 * on an online server that has every node type and model the converted prompt needs, the least busy
 * first (its running and pending jobs, ours and other clients'), then the one that ran this workflow
 * fastest. A job no connected server can run waits with the reason.
 */
export class FarmDispatcher implements Dispatcher {
  readonly #deps: FarmDispatcherDeps;
  readonly #needs = new WeakMap<ApiPrompt, PromptNeeds>();
  readonly #prepared = new WeakMap<ServerInventory, PreparedInventory>();
  readonly #learned = new Map<string, number | undefined>();

  constructor(deps: FarmDispatcherDeps) {
    this.#deps = deps;
  }

  /** A job finished: learned times may have moved. */
  forgetLearned(): void {
    this.#learned.clear();
  }

  /** Whether no online server has room for another job (the pump can stop looking). */
  isFull(): boolean {
    for (const attachment of this.#deps.attachments()) if (attachment.hasRoom()) return false;
    return true;
  }

  /** The servers a job may go to: its pins, else the farm (else the server it was converted for). */
  candidates(entry: Entry): readonly string[] {
    if (entry.job.servers && entry.job.servers.length > 0) return entry.job.servers;
    const farm = this.#deps.servers.generationIds();
    return farm.length > 0 ? farm : [entry.job.serverId];
  }

  place(entry: Entry): Placement {
    const needs = this.#needsOf(entry.prompt);
    let best: { target: ServerAttachment; load: number; learnedMs: number } | undefined;
    let missing: string | undefined;
    let isAnyOnline = false;
    let isAnyCapable = false;
    const candidates = this.candidates(entry);
    for (const serverId of candidates) {
      const target = this.#deps.attachment(serverId);
      if (!target) continue;
      isAnyOnline = true;
      const inventory = this.#deps.servers.inventory(serverId);
      // Until a server's inventory is read it takes nothing, unless it is the only choice (it checks the prompt itself).
      if (!inventory && candidates.length > 1) continue;
      const lacks = inventory ? missingOn(needs, this.#prepare(inventory)) : undefined;
      if (lacks !== undefined) {
        missing ??= lacks;
        continue;
      }
      isAnyCapable = true;
      if (!target.hasRoom()) continue;
      const load = target.load();
      // A server the workflow never ran on counts as fast: it is tried, and so learned.
      const learnedMs = entry.job.workflowId ? (this.#learnedMs(entry.job.workflowId, serverId) ?? 0) : 0;
      if (!best || load < best.load || (load === best.load && learnedMs < best.learnedMs))
        best = { target, load, learnedMs };
    }
    if (best) return { target: best.target };
    if (isAnyCapable) return {};
    if (missing !== undefined) return { waitReason: `No connected server has ${missing}.` };
    if (isAnyOnline) return {};
    const pins = entry.job.servers;
    return {
      waitReason:
        pins?.length === 1
          ? `Waiting for ${this.#deps.servers.label(pins[0]!)} to connect.`
          : 'Waiting for a server it can run on to connect.',
    };
  }

  #needsOf(prompt: ApiPrompt): PromptNeeds {
    let needs = this.#needs.get(prompt);
    if (!needs) {
      needs = needsOf(prompt);
      this.#needs.set(prompt, needs);
    }
    return needs;
  }

  #prepare(inventory: ServerInventory): PreparedInventory {
    let prepared = this.#prepared.get(inventory);
    if (!prepared) {
      prepared = prepareInventory(inventory);
      this.#prepared.set(inventory, prepared);
    }
    return prepared;
  }

  #learnedMs(workflowId: string, serverId: string): number | undefined {
    const key = `${workflowId}\u0000${serverId}`;
    if (this.#learned.has(key)) return this.#learned.get(key);
    const value = this.#deps.learnedMs(workflowId, serverId);
    this.#learned.set(key, value);
    return value;
  }
}
