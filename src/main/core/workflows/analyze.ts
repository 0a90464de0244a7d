import type { MediaType, ModelRef, WorkflowFormat, WorkflowProblem, WorkflowType } from '@shared/domain/workflow';
import {
  SYNTHETIC_MODEL_NAMES,
  canonicalFolder,
  guessModelFolder,
  isVirtualType,
  looksLikeModelFile,
  nodeTypeInfo,
  type NodeTypeInfo,
} from './node-types';
import { isPromptMetadata } from '../generation/convert/workflow-format';

/** What the scanner learns from a parsed workflow file, before file facts (path, size) are added. */
export interface WorkflowFacts {
  format: WorkflowFormat;
  /** From the workflow's own metadata; undefined when it has none. */
  name: string | undefined;
  description: string | undefined;
  category: string | undefined;
  inputTypes: MediaType[];
  outputTypes: MediaType[];
  type: WorkflowType;
  models: ModelRef[];
  nodeCount: number;
  nodeTypes: string[];
}

/** The scanner's verdict on a parsed file: its facts, or why it is not a usable workflow. */
export type Analysis = { facts: WorkflowFacts } | { problem: WorkflowProblem };

type Json = Record<string, unknown>;

const MUTED = 2;
const BYPASSED = 4;
/** Subgraphs nest; a definition that (directly or not) contains itself is cut off here. */
const MAX_NESTING = 32;
const NO_SUBGRAPHS: ReadonlySet<string> = new Set();

/** Orders media types the same way everywhere (cards, filters, JSON output). */
const MEDIA_ORDER: readonly MediaType[] = ['text', 'image', 'mask', 'video', 'audio', '3d'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** Collects what one workflow uses while its nodes are visited. */
class Collector {
  readonly inputs = new Set<MediaType>();
  readonly outputs = new Set<MediaType>();
  readonly roles = new Set<NonNullable<NodeTypeInfo['role']>>();
  readonly nodeTypes = new Set<string>();
  readonly #models = new Map<string, ModelRef>();
  /** Model names only inactive (muted/bypassed) nodes select: embedded records naming them do not count. */
  readonly inactiveNames = new Set<string>();
  readonly activeNames = new Set<string>();

  addMedia(info: NodeTypeInfo | undefined): void {
    if (!info) return;
    for (const media of info.inputs ?? []) this.inputs.add(media);
    for (const media of info.outputs ?? []) this.outputs.add(media);
    if (info.role) this.roles.add(info.role);
  }

  addModel(name: string, folder: string | null, url?: string): void {
    this.activeNames.add(name);
    const key = `${folder ?? ''}\u0000${name}`;
    const existing = this.#models.get(key);
    if (existing) {
      if (url && !existing.url) existing.url = url;
      return;
    }
    // A name first found without a folder gains one when a loader or record names it.
    if (folder !== null) {
      const loose = this.#models.get(`\u0000${name}`);
      if (loose) {
        this.#models.delete(`\u0000${name}`);
        url ??= loose.url;
      }
    } else {
      for (const model of this.#models.values()) if (model.name === name) return;
    }
    this.#models.set(key, url ? { name, folder, url } : { name, folder });
  }

  /** Attaches a download URL to every model of that name (records may name a file a loader selects). */
  attachUrl(name: string, url: string): void {
    for (const model of this.#models.values()) if (model.name === name && !model.url) model.url = url;
  }

  get models(): ModelRef[] {
    // Known folders in order, models of unknown loaders last.
    const folderOrder = (model: ModelRef) => (model.folder === null ? 1 : 0);
    return [...this.#models.values()].sort(
      (a, b) =>
        folderOrder(a) - folderOrder(b) ||
        (a.folder ?? '').localeCompare(b.folder ?? '') ||
        a.name.localeCompare(b.name),
    );
  }
}

interface EmbeddedModel {
  name: string;
  folder: string;
  url: string | undefined;
}

const NO_RECORDS: readonly EmbeddedModel[] = [];

function embeddedModels(value: unknown): readonly EmbeddedModel[] {
  if (!Array.isArray(value)) return NO_RECORDS;
  const found: EmbeddedModel[] = [];
  for (const record of value) {
    if (!isObject(record)) continue;
    const name = text(record.name);
    const directory = text(record.directory);
    if (!name || !directory) continue;
    found.push({ name, folder: canonicalFolder(directory), url: text(record.url) });
  }
  return found;
}

/** A UI node's widget value by position, or by name when the node stores widgets as an object. */
function widgetValue(node: Json, index: number, name: string): unknown {
  const values = node.widgets_values;
  if (Array.isArray(values)) return values[index];
  if (isObject(values)) return values[name];
  return undefined;
}

function stringWidgetValues(node: Json): string[] {
  const values = node.widgets_values;
  return Array.isArray(values) ? strings(values) : isObject(values) ? strings(Object.values(values)) : [];
}

/** The strings among `values`, in order. Loops rather than filter callbacks: this runs for every node of every file. */
function strings(values: readonly unknown[]): string[] {
  const found: string[] = [];
  for (const value of values) if (typeof value === 'string') found.push(value);
  return found;
}

interface SelectedModel {
  name: string;
  folder: string | null;
}

const NO_MODELS: readonly SelectedModel[] = [];

/**
 * The model files a node selects: the table's loader inputs, else any of its strings that looks like
 * a model file. `values` is a UI node (its widgets are read) or an API node's `inputs`.
 */
function selectedModels(
  type: string,
  info: NodeTypeInfo | undefined,
  values: Json,
  format: WorkflowFormat,
): readonly SelectedModel[] {
  if (info?.models) {
    const found: SelectedModel[] = [];
    for (const model of info.models) {
      const value = text(format === 'ui' ? widgetValue(values, model.widget, model.input) : values[model.input]);
      if (value && !SYNTHETIC_MODEL_NAMES.has(value)) found.push({ name: value, folder: model.folder });
    }
    return found;
  }
  if (info && (info.inputs || info.outputs)) return NO_MODELS;
  let found: SelectedModel[] | undefined;
  for (const name of format === 'ui' ? stringWidgetValues(values) : strings(Object.values(values))) {
    if (looksLikeModelFile(name)) (found ??= []).push({ name, folder: guessModelFolder(type) });
  }
  return found ?? NO_MODELS;
}

/** True when a LoadImage's MASK output (slot 1) feeds something: the workflow takes a mask too. */
function usesMaskOutput(node: Json): boolean {
  const outputs = node.outputs;
  if (!Array.isArray(outputs)) return false;
  const mask = outputs[1] as unknown;
  return isObject(mask) && Array.isArray(mask.links) && mask.links.length > 0;
}

interface UiGraph {
  nodes: unknown[];
}

function analyzeUi(workflow: Json): Analysis {
  const nodes = workflow.nodes as unknown[];
  const problem = checkUiNodes(nodes, 'the workflow');
  if (problem) return { problem };

  const definitions =
    isObject(workflow.definitions) && Array.isArray(workflow.definitions.subgraphs)
      ? workflow.definitions.subgraphs
      : [];
  const subgraphs = new Map<string, UiGraph>();
  let nodeCount = nodes.length;
  for (const definition of definitions) {
    if (!isObject(definition) || typeof definition.id !== 'string') continue;
    const inner = Array.isArray(definition.nodes) ? definition.nodes : [];
    const innerProblem = checkUiNodes(inner, `subgraph "${text(definition.name) ?? definition.id}"`);
    if (innerProblem) return { problem: innerProblem };
    subgraphs.set(definition.id, { nodes: inner });
    nodeCount += inner.length;
  }
  const extra = isObject(workflow.extra) ? workflow.extra : {};
  const groupNodes = new Map<string, UiGraph>();
  if (isObject(extra.groupNodes)) {
    for (const [name, definition] of Object.entries(extra.groupNodes)) {
      if (isObject(definition) && Array.isArray(definition.nodes))
        groupNodes.set(name, { nodes: definition.nodes.filter(isObject) });
    }
  }
  const subgraphIds = new Set(subgraphs.keys());
  const collector = new Collector();

  const visit = (graphNodes: unknown[], isInactive: boolean, depth: number, path: string[]): void => {
    for (const raw of graphNodes) {
      if (!isObject(raw)) continue;
      const type = raw.type as string;
      const inactive = isInactive || raw.mode === MUTED || raw.mode === BYPASSED;
      // Group-node instances are typed "workflow>NAME" (older files: "workflow/NAME").
      const groupName =
        type.startsWith('workflow>') || type.startsWith('workflow/') ? type.slice('workflow>'.length) : undefined;
      const definition = subgraphs.get(type) ?? (groupName === undefined ? undefined : groupNodes.get(groupName));
      if (definition) {
        if (depth < MAX_NESTING && !path.includes(type)) visit(definition.nodes, inactive, depth + 1, [...path, type]);
        continue;
      }
      if (isVirtualType(type, subgraphIds)) continue;
      visitUiNode(raw, type, inactive, collector);
    }
  };
  visit(nodes, false, 0, []);

  // Workflow-level download records count unless only muted or bypassed nodes select that file.
  for (const record of embeddedModels(workflow.models)) {
    if (collector.inactiveNames.has(record.name) && !collector.activeNames.has(record.name)) continue;
    collector.addModel(record.name, record.folder, record.url);
  }

  const info = isObject(extra.info) ? extra.info : isObject(extra.comfydesk) ? extra.comfydesk : {};
  return {
    facts: finish('ui', collector, nodeCount, {
      name: text(info.name) ?? text(info.title),
      description: text(info.description),
      category: text(info.category),
    }),
  };
}

function visitUiNode(node: Json, type: string, inactive: boolean, collector: Collector): void {
  const info = nodeTypeInfo(type);
  const selected = selectedModels(type, info, node, 'ui');
  const records = isObject(node.properties) ? embeddedModels(node.properties.models) : NO_RECORDS;
  if (inactive) {
    for (const model of selected) collector.inactiveNames.add(model.name);
    for (const value of stringWidgetValues(node)) collector.inactiveNames.add(value);
    return;
  }
  collector.nodeTypes.add(type);
  collector.addMedia(info);
  if (type === 'LoadImage' && usesMaskOutput(node)) collector.inputs.add('mask');
  for (const model of selected) collector.addModel(model.name, model.folder);
  if (records.length === 0) return;
  // The frontend counts a node's own record only when the node still selects that file (§7.3).
  const values = new Set(stringWidgetValues(node));
  for (const record of records) {
    if (!values.has(record.name)) continue;
    if (!selected.some((model) => model.name === record.name))
      collector.addModel(record.name, record.folder, record.url);
    else if (record.url) collector.attachUrl(record.name, record.url);
  }
}

function checkUiNodes(nodes: unknown[], where: string): WorkflowProblem | undefined {
  for (let index = 0; index < nodes.length; index += 1) {
    const node = nodes[index];
    if (!isObject(node) || typeof node.type !== 'string' || node.type === '') {
      return {
        code: 'bad_shape',
        reason: `Node ${index + 1} of ${where} has no type, so this file cannot be read as a ComfyUI workflow. Open it in ComfyUI and save it again.`,
      };
    }
  }
  return undefined;
}

function analyzeApi(prompt: Json, meta: Json): Analysis {
  const loadImageIds = new Set<string>();
  const nodes: Json[] = [];
  for (const id of Object.keys(prompt)) {
    const value = prompt[id];
    // The same rule as the converter's, so a file the card calls ready also runs.
    if (isPromptMetadata(id, value)) continue;
    if (!isObject(value) || typeof value.class_type !== 'string' || value.class_type === '') {
      return {
        problem: {
          code: 'bad_shape',
          reason: `Node "${id}" has no class_type, so this file cannot be read as a ComfyUI API workflow. Export it from ComfyUI again.`,
        },
      };
    }
    nodes.push(value);
    if (value.class_type === 'LoadImage') loadImageIds.add(id);
  }
  const collector = new Collector();
  for (const node of nodes) visitApiNode(node, loadImageIds, collector);
  return {
    facts: finish('api', collector, nodes.length, {
      name: text(meta.name) ?? text(meta.title),
      description: text(meta.description),
      category: text(meta.category),
    }),
  };
}

function visitApiNode(node: Json, loadImageIds: ReadonlySet<string>, collector: Collector): void {
  const type = node.class_type as string;
  if (isVirtualType(type, NO_SUBGRAPHS)) return;
  const info = nodeTypeInfo(type);
  const inputs = isObject(node.inputs) ? node.inputs : NO_INPUTS;
  collector.nodeTypes.add(type);
  collector.addMedia(info);
  if (loadImageIds.size > 0) {
    for (const value of Object.values(inputs)) {
      // A link is ["<node id>", <output index>]; slot 1 of LoadImage is its MASK.
      if (Array.isArray(value) && value.length === 2 && value[1] === 1 && loadImageIds.has(String(value[0])))
        collector.inputs.add('mask');
    }
  }
  for (const model of selectedModels(type, info, inputs, 'api')) collector.addModel(model.name, model.folder);
}

const NO_INPUTS: Json = Object.freeze({});

function finish(
  format: WorkflowFormat,
  collector: Collector,
  nodeCount: number,
  meta: { name?: string; description?: string; category?: string },
): WorkflowFacts {
  const inputTypes = MEDIA_ORDER.filter((media) => collector.inputs.has(media));
  const outputTypes = MEDIA_ORDER.filter((media) => collector.outputs.has(media));
  return {
    format,
    name: meta.name,
    description: meta.description,
    category: meta.category,
    inputTypes,
    outputTypes,
    type: deriveType(inputTypes, outputTypes, collector.roles),
    models: collector.models,
    nodeCount,
    nodeTypes: [...collector.nodeTypes].sort(),
  };
}

/**
 * The workflow type from what goes in and comes out: the richest output decides the family
 * (video over audio over 3D over image), the inputs decide the variant, and a few telling nodes
 * (an upscale model, an inpainting encoder) refine image-to-image. "From text" needs a text input:
 * a graph that takes nothing a person types (a colour field, a test pattern) is not text to image.
 */
export function deriveType(
  inputs: readonly MediaType[],
  outputs: readonly MediaType[],
  roles: ReadonlySet<string> = new Set(),
): WorkflowType {
  const has = (list: readonly MediaType[], media: MediaType) => list.includes(media);
  if (has(outputs, 'video')) {
    if (has(inputs, 'video')) return 'v2v';
    if (has(inputs, 'image')) return 'i2v';
    return has(inputs, 'text') ? 't2v' : 'other';
  }
  if (has(outputs, 'audio')) return 'audio';
  if (has(outputs, '3d')) return '3d';
  if (has(outputs, 'image') || has(outputs, 'mask')) {
    if (!has(inputs, 'image') && !has(inputs, 'mask')) return has(inputs, 'text') ? 't2i' : 'other';
    if (roles.has('upscale') && !roles.has('inpaint')) return 'upscale';
    if (roles.has('inpaint') || has(inputs, 'mask')) return 'inpaint';
    return 'i2i';
  }
  if (has(outputs, 'text')) return 'text';
  return 'other';
}

/** A top-level object all of whose values are UI workflows: several workflows saved in one file. */
function isCollection(value: Json): boolean {
  const values = Object.values(value);
  return values.length > 0 && values.every((entry) => isObject(entry) && Array.isArray(entry.nodes));
}

function apiPrompt(value: Json): { prompt: Json; meta: Json } | undefined {
  // RunPod's worker wraps the prompt as {"input": {"workflow": {...}}}.
  const wrapped = isObject(value.input) && isObject(value.input.workflow) ? value.input.workflow : undefined;
  const prompt = wrapped ?? value;
  const keys = Object.keys(prompt).filter((key) => !isPromptMetadata(key, prompt[key]));
  if (keys.length === 0) return undefined;
  const nodeLike = keys.filter((key) => isObject(prompt[key]) && 'class_type' in prompt[key]);
  // Mostly nodes with class_type: an API prompt (the rest get a readable bad_shape reason).
  if (nodeLike.length === 0 || nodeLike.length < keys.length / 2) return undefined;
  return { prompt, meta: isObject(prompt._meta) ? prompt._meta : {} };
}

/** Recognises the format of a parsed JSON document and extracts what the library needs. */
export function analyzeWorkflow(value: unknown): Analysis {
  if (Array.isArray(value)) {
    return { problem: { code: 'not_workflow', reason: 'This JSON file holds a list, not a ComfyUI workflow.' } };
  }
  if (!isObject(value)) {
    return {
      problem: { code: 'not_workflow', reason: 'This JSON file holds a single value, not a ComfyUI workflow.' },
    };
  }
  if ('nodes' in value) {
    if (!Array.isArray(value.nodes))
      return {
        problem: {
          code: 'bad_shape',
          reason:
            'Its "nodes" entry is not a list, so this is not a ComfyUI workflow ComfyDesk can read. Open it in ComfyUI and save it again.',
        },
      };
    if ('links' in value && !Array.isArray(value.links) && value.links !== null) {
      return {
        problem: {
          code: 'bad_shape',
          reason:
            'Its "links" entry is not a list, so this is not a ComfyUI workflow ComfyDesk can read. Open it in ComfyUI and save it again.',
        },
      };
    }
    return analyzeUi(value);
  }
  const api = apiPrompt(value);
  if (api) return analyzeApi(api.prompt, api.meta);
  if (isCollection(value)) {
    return {
      problem: {
        code: 'collection',
        reason: `This file holds ${Object.keys(value).length} workflows in one JSON object. Open each in ComfyUI and save it as its own file.`,
      },
    };
  }
  const keys = Object.keys(value)
    .slice(0, 4)
    .map((key) => `"${key}"`);
  return {
    problem: {
      code: 'not_workflow',
      reason:
        keys.length === 0
          ? 'This JSON file is an empty object, not a ComfyUI workflow.'
          : `This JSON file is not a ComfyUI workflow (it has ${keys.join(', ')} but no nodes).`,
    },
  };
}
