import type { ConversionWarning } from '@shared/domain/generation';
import { AppError } from '../../lib/errors';

/**
 * The frontend's saved graph (protocol doc §6.1–6.6), read leniently into one normalised shape:
 * string ids everywhere, links as objects with numeric slots, subgraph definitions and legacy
 * group-node definitions indexed. Real files are messy (numeric-string slots, `null` links, string
 * node ids, missing arrays), so nothing here trusts the JSON beyond what it checks.
 */

/** Node id of a subgraph's input node: a link starting here comes from the instance's input. */
export const SUBGRAPH_INPUT_NODE_ID = '-10';
/** Node id of a subgraph's output node: a link ending here feeds the instance's output. */
export const SUBGRAPH_OUTPUT_NODE_ID = '-20';

/** A node's saved input socket. */
export interface UiInputSlot {
  name: string;
  /** Socket type (`MODEL`, `INT`, `*`, unions like `FLOAT,INT`). */
  type: string;
  /** Link id, or null when unconnected. */
  link: string | null;
  /** Set when the input is a widget that also has a socket ("converted widget"). */
  widgetName?: string;
  label?: string;
}

/** A node's saved output socket and the links leaving it. */
export interface UiOutputSlot {
  name: string;
  type: string;
  links: string[];
}

/** A saved node (§6.2), ids as strings. */
export interface UiNode {
  id: string;
  type: string;
  /** 0 always, 1 on event, 2 never (muted), 3 on trigger, 4 bypass. */
  mode: number;
  /** Only when a person renamed the node. */
  title?: string;
  inputs: UiInputSlot[];
  outputs: UiOutputSlot[];
  widgetsValues: unknown[] | Record<string, unknown> | undefined;
  properties: Record<string, unknown>;
}

/** A link in either saved encoding, as an object with numeric slots (§6.3). */
export interface UiLink {
  id: string;
  originId: string;
  originSlot: number;
  targetId: string;
  targetSlot: number;
  type: string;
}

/** A subgraph definition's input or output. */
export interface SubgraphSlot {
  name: string;
  type: string;
  linkIds: string[];
  label?: string;
}

/** The root graph or one subgraph definition, indexed. */
export interface UiGraph {
  /** `root` or the subgraph definition's UUID. */
  id: string;
  name: string;
  nodes: UiNode[];
  nodesById: Map<string, UiNode>;
  links: Map<string, UiLink>;
  /** Subgraph definitions only: their inputs and outputs, in order. */
  inputs: SubgraphSlot[];
  outputs: SubgraphSlot[];
}

/** A legacy group node definition (`extra.groupNodes[name]`, §6.6). */
export interface GroupNodeDefinition {
  name: string;
  /** Inner nodes; their id is their index. */
  nodes: UiNode[];
  /** `[originIndex | null, originSlot, targetIndex, targetSlot]`; a null origin is outside the group. */
  links: Array<{
    originIndex: number | null;
    originSlot: number;
    targetIndex: number;
    targetSlot: number;
    type: string;
  }>;
  /** Outputs of inner nodes that also leave the group: `innerIndex → slots`. */
  external: Map<number, Set<number>>;
  /** Per inner node index: `{input: {name: {visible, name}}, output: {slot: {visible, name}}}`. */
  config: Record<string, unknown>;
}

/** A whole UI workflow: its root graph, subgraph definitions by UUID and legacy group nodes by name. */
export interface UiWorkflow {
  root: UiGraph;
  subgraphs: Map<string, UiGraph>;
  groupNodes: Map<string, GroupNodeDefinition>;
}

const GROUP_NODE_PREFIXES = ['workflow>', 'workflow/'] as const;

/** The definition name of a legacy group-node instance type (`workflow>X` or `workflow/X`), else undefined. */
export function groupNodeName(type: string): string | undefined {
  const prefix = GROUP_NODE_PREFIXES.find((candidate) => type.startsWith(candidate));
  return prefix ? type.slice(prefix.length) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value !== '') return value;
  return undefined;
}

/** Slot indices are numbers, or numeric strings in old files. */
function slotNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 0 ? number : undefined;
}

function typeString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(String).join(',');
  if (typeof value === 'number') return String(value);
  return '*';
}

function readInputs(raw: unknown): UiInputSlot[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((input) => {
    const widget = isRecord(input.widget) && typeof input.widget.name === 'string' ? input.widget.name : undefined;
    const slot: UiInputSlot = {
      name: typeof input.name === 'string' ? input.name : '',
      type: typeString(input.type),
      link: input.link === null || input.link === undefined ? null : (idString(input.link) ?? null),
    };
    if (widget !== undefined) slot.widgetName = widget;
    if (typeof input.label === 'string') slot.label = input.label;
    return slot;
  });
}

function readOutputs(raw: unknown): UiOutputSlot[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((output) => ({
    name: typeof output.name === 'string' ? output.name : '',
    type: typeString(output.type),
    links: Array.isArray(output.links) ? output.links.map(idString).filter((id): id is string => id !== undefined) : [],
  }));
}

/** Reads one node; undefined when it lacks an id or a type (reported by the caller). */
export function readNode(raw: unknown, fallbackId?: string): UiNode | undefined {
  if (!isRecord(raw)) return undefined;
  const id = idString(raw.id) ?? fallbackId;
  const type = typeof raw.type === 'string' ? raw.type : undefined;
  if (id === undefined || type === undefined) return undefined;
  const node: UiNode = {
    id,
    type,
    mode: typeof raw.mode === 'number' ? raw.mode : 0,
    inputs: readInputs(raw.inputs),
    outputs: readOutputs(raw.outputs),
    widgetsValues:
      Array.isArray(raw.widgets_values) || isRecord(raw.widgets_values)
        ? (raw.widgets_values as unknown[] | Record<string, unknown>)
        : undefined,
    properties: isRecord(raw.properties) ? raw.properties : {},
  };
  if (typeof raw.title === 'string') node.title = raw.title;
  return node;
}

/** A link in either encoding: `[id, origin, originSlot, target, targetSlot, type]` or the version-1 object. */
export function readLink(raw: unknown): UiLink | undefined {
  if (Array.isArray(raw)) {
    const [id, originId, originSlot, targetId, targetSlot, type] = raw as unknown[];
    return makeLink(id, originId, originSlot, targetId, targetSlot, type);
  }
  if (isRecord(raw)) return makeLink(raw.id, raw.origin_id, raw.origin_slot, raw.target_id, raw.target_slot, raw.type);
  return undefined;
}

function makeLink(
  id: unknown,
  originId: unknown,
  originSlot: unknown,
  targetId: unknown,
  targetSlot: unknown,
  type: unknown,
): UiLink | undefined {
  const link = {
    id: idString(id),
    originId: idString(originId),
    originSlot: slotNumber(originSlot),
    targetId: idString(targetId),
    targetSlot: slotNumber(targetSlot),
  };
  if (
    link.id === undefined ||
    link.originId === undefined ||
    link.originSlot === undefined ||
    link.targetId === undefined ||
    link.targetSlot === undefined
  )
    return undefined;
  return {
    id: link.id,
    originId: link.originId,
    originSlot: link.originSlot,
    targetId: link.targetId,
    targetSlot: link.targetSlot,
    type: typeString(type),
  };
}

function readSubgraphSlots(raw: unknown): SubgraphSlot[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).map((slot) => {
    const result: SubgraphSlot = {
      name: typeof slot.name === 'string' ? slot.name : '',
      type: typeString(slot.type),
      linkIds: Array.isArray(slot.linkIds)
        ? slot.linkIds.map(idString).filter((id): id is string => id !== undefined)
        : [],
    };
    if (typeof slot.label === 'string') result.label = slot.label;
    return result;
  });
}

function readGraph(raw: Record<string, unknown>, id: string, warnings: ConversionWarning[]): UiGraph {
  const nodes: UiNode[] = [];
  const nodesById = new Map<string, UiNode>();
  const rawNodes = Array.isArray(raw.nodes) ? raw.nodes : [];
  for (const [index, rawNode] of rawNodes.entries()) {
    const node = readNode(rawNode);
    if (!node) {
      warnings.push({
        code: 'node_skipped',
        severity: 'warning',
        message: `Node #${index + 1}${id === 'root' ? '' : ` of subgraph ${id}`} has no id or type and was skipped.`,
      });
      continue;
    }
    // Duplicate ids occur in hand-edited files; the first node wins, as in the frontend's lookup.
    if (!nodesById.has(node.id)) nodesById.set(node.id, node);
    nodes.push(node);
  }
  const links = new Map<string, UiLink>();
  for (const rawLink of Array.isArray(raw.links) ? raw.links : []) {
    const link = readLink(rawLink);
    if (link) links.set(link.id, link);
  }
  return {
    id,
    name: typeof raw.name === 'string' ? raw.name : id,
    nodes,
    nodesById,
    links,
    inputs: readSubgraphSlots(raw.inputs),
    outputs: readSubgraphSlots(raw.outputs),
  };
}

function readGroupNodes(extra: unknown, warnings: ConversionWarning[]): Map<string, GroupNodeDefinition> {
  const result = new Map<string, GroupNodeDefinition>();
  if (!isRecord(extra) || !isRecord(extra.groupNodes)) return result;
  for (const [name, raw] of Object.entries(extra.groupNodes)) {
    if (!isRecord(raw) || !Array.isArray(raw.nodes)) continue;
    const nodes: UiNode[] = [];
    for (const [index, rawNode] of raw.nodes.entries()) {
      // Inner nodes have no id of their own: their index is their identity (`"<instance>:<index>"`).
      const node = readNode(isRecord(rawNode) ? { ...rawNode, id: index } : rawNode);
      if (node) nodes.push(node);
      else
        warnings.push({
          code: 'node_skipped',
          severity: 'warning',
          message: `Node #${index + 1} of group node "${name}" has no type and was skipped.`,
        });
    }
    const links: GroupNodeDefinition['links'] = [];
    for (const link of Array.isArray(raw.links) ? raw.links : []) {
      if (!Array.isArray(link)) continue;
      const [originIndex, originSlot, targetIndex, targetSlot, , type] = link as unknown[];
      const origin = originIndex === null || originIndex === undefined ? null : slotNumber(originIndex);
      const parsed = {
        originSlot: slotNumber(originSlot),
        targetIndex: slotNumber(targetIndex),
        targetSlot: slotNumber(targetSlot),
      };
      if (
        origin === undefined ||
        parsed.originSlot === undefined ||
        parsed.targetIndex === undefined ||
        parsed.targetSlot === undefined
      )
        continue;
      links.push({
        originIndex: origin,
        originSlot: parsed.originSlot,
        targetIndex: parsed.targetIndex,
        targetSlot: parsed.targetSlot,
        type: typeString(type),
      });
    }
    const external = new Map<number, Set<number>>();
    for (const entry of Array.isArray(raw.external) ? raw.external : []) {
      if (!Array.isArray(entry)) continue;
      // The first element is the inner node index, or (in some old files) the whole node object with an `index`.
      const first = entry[0] as unknown;
      const index = isRecord(first) ? slotNumber(first.index) : slotNumber(first);
      const slot = slotNumber(entry[1]);
      if (index === undefined || slot === undefined) continue;
      const slots = external.get(index) ?? new Set<number>();
      slots.add(slot);
      external.set(index, slots);
    }
    result.set(name, { name, nodes, links, external, config: isRecord(raw.config) ? raw.config : {} });
  }
  return result;
}

/**
 * Reads a UI workflow object (already detected as one). Throws `workflow_invalid` only when there
 * is no usable graph at all; a malformed node or link is skipped with a warning.
 */
export function readUiWorkflow(raw: Record<string, unknown>, warnings: ConversionWarning[]): UiWorkflow {
  if (!Array.isArray(raw.nodes)) {
    throw new AppError(
      'workflow_invalid',
      'This file is not a ComfyUI workflow: it has no list of nodes. Nothing was changed; export the workflow again from ComfyUI.',
    );
  }
  const root = readGraph(raw, 'root', warnings);
  const subgraphs = new Map<string, UiGraph>();
  const definitions =
    isRecord(raw.definitions) && Array.isArray(raw.definitions.subgraphs) ? raw.definitions.subgraphs : [];
  for (const definition of definitions) {
    if (!isRecord(definition) || typeof definition.id !== 'string') continue;
    subgraphs.set(definition.id, readGraph(definition, definition.id, warnings));
  }
  return { root, subgraphs, groupNodes: readGroupNodes(raw.extra, warnings) };
}
