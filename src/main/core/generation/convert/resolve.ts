import type { ConversionWarning, WidgetSource } from '@shared/domain/generation';
import type { ExecGraph } from './exec-graph';
import { MODE_BYPASSED, type ExecNode } from './exec-node';
import { SUBGRAPH_INPUT_NODE_ID, SUBGRAPH_OUTPUT_NODE_ID } from './ui-graph';

/**
 * Where an input's value comes from (protocol doc §6.8 step 11): a link to a real node's output,
 * a literal (a promoted subgraph widget), or nothing (then the node keeps its own widget value).
 */
export type Resolved =
  { kind: 'link'; id: string; slot: number } | { kind: 'value'; value: unknown; sources: WidgetSource[] };

/**
 * LiteGraph's connection check: `*` or an empty type matches anything; otherwise the types are equal
 * ignoring case, or comma-separated unions share a member.
 */
export function isTypeCompatible(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || a === '*' || b === '*' || a === b) return true;
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  if (!left.includes(',') && !right.includes(',')) return left === right;
  const rightTypes = new Set(right.split(',').map((type) => type.trim()));
  return left.split(',').some((type) => rightTypes.has(type.trim()));
}

/**
 * The input a bypassed node passes through for output `slot` feeding an input of `targetType`
 * (the current frontend's rule): the same index if compatible, else the first input of exactly
 * the target type, else the first compatible one. -1 when none fits.
 */
export function bypassInputIndex(
  node: Pick<ExecNode, 'inputs' | 'outputTypes'>,
  slot: number,
  targetType: string,
): number {
  const { inputs } = node;
  if (targetType === '*' || targetType === '') return inputs.length > slot ? slot : 0;
  const outputType = node.outputTypes[slot];
  const opposite = inputs[slot];
  if (opposite && isTypeCompatible(opposite.type, outputType) && isTypeCompatible(opposite.type, targetType))
    return slot;
  const exact = inputs.findIndex((input) => input.type === targetType);
  if (exact !== -1) return exact;
  return inputs.findIndex(
    (input) => isTypeCompatible(input.type, outputType) && isTypeCompatible(input.type, targetType),
  );
}

/** Follows links through reroutes, bypassed nodes, subgraph boundaries, group nodes and Set/Get pairs. */
export class LinkResolver {
  readonly #graph: ExecGraph;
  readonly #warn: (warning: ConversionWarning) => void;
  #setNodes: Map<string, ExecNode> | undefined;

  constructor(graph: ExecGraph, warn: (warning: ConversionWarning) => void) {
    this.#graph = graph;
    this.#warn = warn;
  }

  /** Resolves input `inputIndex` of `node` (its run-time inputs). */
  resolveInput(
    node: ExecNode,
    inputIndex: number,
    visited = new Set<string>(),
    targetType?: string,
  ): Resolved | undefined {
    const input = node.inputs[inputIndex];
    // Inside a legacy group node the saved inputs never hold link ids: the definition's links say what is connected.
    if (!input || (input.link === null && !node.member)) return undefined;
    if (!this.#enter(visited, `${node.id}[I]${inputIndex}`, node)) return undefined;
    if (node.member) return this.#resolveMemberInput(node, inputIndex, visited, targetType);
    if (input.link === null) return undefined;

    const link = node.graph?.links.get(input.link);
    if (!link) {
      this.#dangling(node, `input "${input.name}" refers to link ${input.link}, which does not exist`);
      return undefined;
    }
    if (link.originId === SUBGRAPH_INPUT_NODE_ID) return this.#resolveFromInstance(node, link.originSlot, visited);
    const origin = this.#graph.sibling(node, link.originId);
    if (!origin) {
      this.#dangling(node, `input "${input.name}" is linked to node ${link.originId}, which does not exist`);
      return undefined;
    }
    return this.resolveOutput(origin, link.originSlot, targetType ?? input.type, visited);
  }

  /** Resolves output `slot` of `node` for an input of `targetType`. */
  resolveOutput(node: ExecNode, slot: number, targetType: string, visited: Set<string>): Resolved | undefined {
    if (!this.#enter(visited, `${node.id}[O]${slot}`, node)) return undefined;
    if (node.mode === MODE_BYPASSED) return this.#resolveBypass(node, slot, targetType, visited);
    switch (node.kind) {
      case 'subgraph':
        return this.#resolveSubgraphOutput(node, slot, targetType, visited);
      case 'group': {
        const output = node.group!.outputs[slot];
        const member = output ? this.#graph.nodes.get(`${node.id}:${output.index}`) : undefined;
        return member ? this.resolveOutput(member, output!.slot, targetType, visited) : undefined;
      }
      case 'virtual':
        if (node.node.type === 'GetNode') return this.#resolveGetNode(node, targetType, visited);
        // Reroute and other pass-through virtual nodes forward the input at the same index; a PrimitiveNode has none.
        return node.inputs[slot] ? this.resolveInput(node, slot, visited, targetType) : undefined;
      default:
        // Real nodes, muted ones included: the reference is dropped later if the node is not sent.
        return { kind: 'link', id: node.id, slot };
    }
  }

  #enter(visited: Set<string>, key: string, node: ExecNode): boolean {
    if (!visited.has(key)) {
      visited.add(key);
      return true;
    }
    this.#warn({
      code: 'link_cycle',
      severity: 'warning',
      message: `Links around "${node.title}" form a loop; the loop was cut there.`,
      nodeId: node.id,
      title: node.title,
    });
    return false;
  }

  #dangling(node: ExecNode, what: string): void {
    this.#warn({
      code: 'dangling_link',
      severity: 'warning',
      message: `"${node.title}": ${what}; it was left unconnected.`,
      nodeId: node.id,
      title: node.title,
    });
  }

  #resolveBypass(node: ExecNode, slot: number, targetType: string, visited: Set<string>): Resolved | undefined {
    // Legacy group nodes keep the older rule: the same slot, then any input of exactly the target type.
    const index =
      node.kind === 'group'
        ? ([slot, ...node.inputs.keys()].find((candidate) => node.inputs[candidate]?.type === targetType) ?? -1)
        : bypassInputIndex(node, slot, targetType);
    if (index === -1 || !node.inputs[index]) {
      this.#warn({
        code: 'bypass_unresolved',
        // The frontend does exactly this (an optional input of a bypassed alternative is common); a required one is reported separately.
        severity: 'info',
        message: `"${node.title}" is bypassed but has no input of type ${targetType} to pass through; what it fed is left unconnected.`,
        nodeId: node.id,
        title: node.title,
      });
      return undefined;
    }
    return this.resolveInput(node, index, visited);
  }

  /** A link from a subgraph's input node: continue outside through the instance's input of the same name. */
  #resolveFromInstance(node: ExecNode, definitionIndex: number, visited: Set<string>): Resolved | undefined {
    const instance = node.parent;
    const definitionInput = instance?.subgraph?.inputs[definitionIndex];
    if (!instance || !definitionInput) {
      this.#dangling(node, `a link comes from subgraph input ${definitionIndex}, which does not exist`);
      return undefined;
    }
    const instanceIndex = instance.inputs.findIndex((input) => input.name === definitionInput.name);
    if (instanceIndex !== -1 && instance.inputs[instanceIndex]!.link !== null) {
      const outer = this.resolveInput(instance, instanceIndex, visited);
      if (outer) return outer;
      // Linked to something that gives no link (a PrimitiveNode): its value was written into the promoted widget.
    }
    const promoted = this.#graph.promotedValue(instance, definitionInput.name);
    return promoted ? { kind: 'value', value: promoted.value, sources: promoted.sources } : undefined;
  }

  #resolveSubgraphOutput(
    instance: ExecNode,
    slot: number,
    targetType: string,
    visited: Set<string>,
  ): Resolved | undefined {
    const subgraph = instance.subgraph!;
    const output = subgraph.outputs[slot];
    if (!output) return undefined;
    const link =
      output.linkIds.map((id) => subgraph.links.get(id)).find((candidate) => candidate !== undefined) ??
      [...subgraph.links.values()].find(
        (candidate) => candidate.targetId === SUBGRAPH_OUTPUT_NODE_ID && candidate.targetSlot === slot,
      );
    if (!link) return undefined;
    if (link.originId === SUBGRAPH_INPUT_NODE_ID) {
      // An input wired straight to an output passes through the instance.
      const definitionInput = subgraph.inputs[link.originSlot];
      const index = definitionInput ? instance.inputs.findIndex((input) => input.name === definitionInput.name) : -1;
      if (index !== -1 && instance.inputs[index]!.link !== null) return this.resolveInput(instance, index, visited);
      const promoted = definitionInput ? this.#graph.promotedValue(instance, definitionInput.name) : undefined;
      return promoted ? { kind: 'value', value: promoted.value, sources: promoted.sources } : undefined;
    }
    const inner = this.#graph.nodes.get(`${instance.id}:${link.originId}`);
    if (!inner) {
      this.#dangling(instance, `output "${output.name}" comes from inner node ${link.originId}, which does not exist`);
      return undefined;
    }
    return this.resolveOutput(inner, link.originSlot, targetType, visited);
  }

  #resolveMemberInput(
    member: ExecNode,
    inputIndex: number,
    visited: Set<string>,
    targetType: string | undefined,
  ): Resolved | undefined {
    const { instance, index } = member.member!;
    const layout = instance.group!;
    const external = layout.inputMap.get(`${index}:${inputIndex}`);
    if (external !== undefined) {
      return instance.inputs[external]?.link === null || instance.inputs[external] === undefined
        ? undefined
        : this.resolveInput(instance, external, visited);
    }
    const inner = layout.linksTo.get(index)?.get(inputIndex);
    const origin = inner ? this.#graph.nodes.get(`${instance.id}:${inner.originIndex}`) : undefined;
    // A PrimitiveNode inside the group already wrote its value into the widget.
    if (!inner || !origin || origin.node.type === 'PrimitiveNode') return undefined;
    return this.resolveOutput(origin, inner.originSlot, targetType ?? member.inputs[inputIndex]!.type, visited);
  }

  /** KJNodes GetNode: the SetNode of the same name in its own graph, else in an enclosing one. */
  #resolveGetNode(getNode: ExecNode, targetType: string, visited: Set<string>): Resolved | undefined {
    const name = constantName(getNode);
    let scope = getNode.parent;
    const setNodes = this.#indexSetNodes();
    for (;;) {
      const setNode = setNodes.get(`${scope?.id ?? ''}\u0000${name}`);
      if (setNode) return this.resolveInput(setNode, 0, visited, targetType);
      if (!scope) break;
      scope = scope.parent;
    }
    this.#warn({
      code: 'set_node_missing',
      severity: 'warning',
      message: `"${getNode.title}" reads "${name}", but no SetNode of that name exists; what it fed is left unconnected.`,
      nodeId: getNode.id,
      title: getNode.title,
    });
    return undefined;
  }

  #indexSetNodes(): Map<string, ExecNode> {
    if (this.#setNodes) return this.#setNodes;
    this.#setNodes = new Map();
    for (const node of this.#graph.nodes.values()) {
      if (node.node.type !== 'SetNode') continue;
      const key = `${node.parent?.id ?? ''}\u0000${constantName(node)}`;
      if (!this.#setNodes.has(key)) this.#setNodes.set(key, node);
    }
    return this.#setNodes;
  }
}

function constantName(node: ExecNode): string {
  const values = node.node.widgetsValues;
  const value = Array.isArray(values) ? values[0] : values ? Object.values(values)[0] : undefined;
  return typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : '';
}
