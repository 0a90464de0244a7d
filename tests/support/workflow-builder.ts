import type { ObjectInfo } from '../../src/main/core/comfy/object-info';
import { widgetTypeOf } from '../../src/main/core/generation/convert/widget-layout';

/**
 * Builds UI-format workflows for targeted tests, the way the frontend saves them: sockets from
 * object_info, links recorded on both ends, widget sockets added only when something is linked
 * into a widget.
 */

type Id = number | string;

export interface NodeOptions {
  widgets?: unknown[] | Record<string, unknown>;
  mode?: number;
  title?: string;
  properties?: Record<string, unknown>;
  /** Replaces the sockets taken from object_info. */
  inputs?: Array<{ name: string; type: string; widget?: string; label?: string }>;
  outputs?: Array<{ name: string; type: string }>;
}

interface SavedInput {
  name: string;
  type: string;
  link: number | null;
  widget?: { name: string };
  label?: string;
}

interface SavedNode {
  id: Id;
  type: string;
  mode: number;
  inputs: SavedInput[];
  outputs: Array<{ name: string; type: string; links: number[] }>;
  properties: Record<string, unknown>;
  widgets_values?: unknown[] | Record<string, unknown>;
  title?: string;
}

const SUBGRAPH_INPUT = -10;
const SUBGRAPH_OUTPUT = -20;

export class GraphBuilder {
  readonly nodes: SavedNode[] = [];
  readonly links: Array<{
    id: number;
    origin_id: Id;
    origin_slot: number;
    target_id: Id;
    target_slot: number;
    type: string;
  }> = [];
  readonly #objectInfo: ObjectInfo;
  #nextLink: number;

  constructor(objectInfo: ObjectInfo, options: { firstLinkId?: number } = {}) {
    this.#objectInfo = objectInfo;
    this.#nextLink = options.firstLinkId ?? 1;
  }

  node(id: Id, type: string, options: NodeOptions = {}): this {
    const def = this.#objectInfo[type];
    let inputs: SavedInput[];
    let outputs: SavedNode['outputs'];
    if (options.inputs)
      inputs = options.inputs.map((input) => ({
        name: input.name,
        type: input.type,
        link: null,
        ...(input.widget ? { widget: { name: input.widget } } : {}),
        ...(input.label ? { label: input.label } : {}),
      }));
    else if (type === 'Reroute' || type === 'SetNode') inputs = [{ name: '', type: '*', link: null }];
    else if (def) {
      inputs = [...Object.entries(def.input.required ?? {}), ...Object.entries(def.input.optional ?? {})]
        .filter(([, spec]) => widgetTypeOf(spec) === undefined)
        .map(([name, spec]) => ({
          name,
          type: Array.isArray(spec) && typeof spec[0] === 'string' ? spec[0] : 'COMBO',
          link: null,
        }));
    } else inputs = [];
    if (options.outputs) outputs = options.outputs.map((output) => ({ ...output, links: [] }));
    else if (type === 'Reroute' || type === 'GetNode' || type === 'SetNode' || type === 'PrimitiveNode')
      outputs = [{ name: '', type: '*', links: [] }];
    else
      outputs = (def?.output ?? []).map((output, index) => ({
        name: def?.output_name?.[index] ?? String(output),
        type: String(output),
        links: [],
      }));
    const node: SavedNode = {
      id,
      type,
      mode: options.mode ?? 0,
      inputs,
      outputs,
      properties: options.properties ?? {},
    };
    if (options.widgets !== undefined) node.widgets_values = options.widgets;
    if (options.title !== undefined) node.title = options.title;
    this.nodes.push(node);
    return this;
  }

  /** Links `from` (node id and output slot, or -10 and a subgraph input index) to `to` (node id or -20, and input name or output index). */
  link(from: [Id, number], to: [Id, string | number], type?: string): this {
    const id = this.#nextLink++;
    const [originId, originSlot] = from;
    const [targetId, targetKey] = to;
    let targetSlot: number;
    let linkType = type ?? '*';
    if (targetId === SUBGRAPH_OUTPUT) {
      targetSlot = Number(targetKey);
    } else {
      const target = this.#find(targetId);
      let index = target.inputs.findIndex((input) => input.name === targetKey);
      if (index === -1) {
        // Linking into a widget gives it a socket, as the frontend does.
        const spec =
          this.#objectInfo[target.type]?.input.required?.[String(targetKey)] ??
          this.#objectInfo[target.type]?.input.optional?.[String(targetKey)];
        const widgetType = widgetTypeOf(spec) ?? type ?? '*';
        target.inputs.push({
          name: String(targetKey),
          type: widgetType,
          link: null,
          widget: { name: String(targetKey) },
        });
        index = target.inputs.length - 1;
      }
      target.inputs[index]!.link = id;
      targetSlot = index;
      linkType = type ?? target.inputs[index]!.type;
    }
    if (originId !== SUBGRAPH_INPUT) this.#find(originId).outputs[originSlot]?.links.push(id);
    this.links.push({
      id,
      origin_id: originId,
      origin_slot: originSlot,
      target_id: targetId,
      target_slot: targetSlot,
      type: linkType,
    });
    return this;
  }

  #find(id: Id): SavedNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** The root graph as a 0.4 workflow (array links). */
  workflow(
    extra: { subgraphs?: SubgraphDefinition[]; groupNodes?: Record<string, unknown> } = {},
  ): Record<string, unknown> {
    const workflow: Record<string, unknown> = {
      last_node_id: this.nodes.length,
      last_link_id: this.#nextLink - 1,
      nodes: this.nodes,
      links: this.links.map((link) => [
        link.id,
        link.origin_id,
        link.origin_slot,
        link.target_id,
        link.target_slot,
        link.type,
      ]),
      groups: [],
      config: {},
      extra: extra.groupNodes ? { groupNodes: extra.groupNodes } : {},
      version: 0.4,
    };
    if (extra.subgraphs) workflow.definitions = { subgraphs: extra.subgraphs };
    return workflow;
  }

  /** This graph as a subgraph definition (object links) with the given inputs and outputs. */
  subgraph(
    id: string,
    name: string,
    io: {
      inputs?: Array<{ name: string; type: string; label?: string }>;
      outputs?: Array<{ name: string; type: string }>;
    },
  ): SubgraphDefinition {
    return {
      id,
      version: 1,
      name,
      inputNode: { id: SUBGRAPH_INPUT, bounding: [0, 0, 10, 10] },
      outputNode: { id: SUBGRAPH_OUTPUT, bounding: [0, 0, 10, 10] },
      inputs: (io.inputs ?? []).map((input, index) => ({
        id: `${id}-in-${index}`,
        ...input,
        linkIds: this.links
          .filter((link) => link.origin_id === SUBGRAPH_INPUT && link.origin_slot === index)
          .map((link) => link.id),
      })),
      outputs: (io.outputs ?? []).map((output, index) => ({
        id: `${id}-out-${index}`,
        ...output,
        linkIds: this.links
          .filter((link) => link.target_id === SUBGRAPH_OUTPUT && link.target_slot === index)
          .map((link) => link.id),
      })),
      widgets: [],
      nodes: this.nodes,
      links: this.links,
    };
  }
}

export interface SubgraphDefinition {
  id: string;
  version: 1;
  name: string;
  inputNode: unknown;
  outputNode: unknown;
  inputs: Array<{ id: string; name: string; type: string; linkIds: number[]; label?: string }>;
  outputs: Array<{ id: string; name: string; type: string; linkIds: number[] }>;
  widgets: unknown[];
  nodes: unknown[];
  links: unknown[];
}

/**
 * A minimal text-to-image graph: checkpoint → two prompts → KSampler → decode → save.
 * Node ids: 4 checkpoint, 5 latent, 6 positive, 7 negative, 3 sampler, 8 decode, 9 save.
 */
export function textToImage(
  objectInfo: ObjectInfo,
  options: { positive?: string; negative?: string; seed?: number; control?: unknown } = {},
): GraphBuilder {
  return new GraphBuilder(objectInfo)
    .node(4, 'CheckpointLoaderSimple', { widgets: ['sd15.safetensors'] })
    .node(5, 'EmptyLatentImage', { widgets: [512, 768, 1] })
    .node(6, 'CLIPTextEncode', { widgets: [options.positive ?? 'a cat'] })
    .node(7, 'CLIPTextEncode', { widgets: [options.negative ?? 'blurry'] })
    .node(3, 'KSampler', {
      widgets: [options.seed ?? 42, options.control ?? 'randomize', 20, 7.5, 'euler', 'normal', 1],
    })
    .node(8, 'VAEDecode')
    .node(9, 'SaveImage', { widgets: ['ComfyUI'] })
    .link([4, 0], [3, 'model'])
    .link([4, 1], [6, 'clip'])
    .link([4, 1], [7, 'clip'])
    .link([6, 0], [3, 'positive'])
    .link([7, 0], [3, 'negative'])
    .link([5, 0], [3, 'latent_image'])
    .link([3, 0], [8, 'samples'])
    .link([4, 2], [8, 'vae'])
    .link([8, 0], [9, 'images']);
}
