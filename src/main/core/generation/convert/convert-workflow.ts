import {
  isApiLink,
  type ApiNode,
  type ApiPrompt,
  type ControlMode,
  type ConversionResult,
  type ConversionWarning,
  type ExposedInput,
  type MissingNodeType,
  type NodeMapEntry,
  type WidgetSource,
} from '@shared/domain/generation';
import { inputOptions, type ObjectInfo } from '../../comfy/object-info';
import { AppError } from '../../lib/errors';
import { ExecGraph } from './exec-graph';
import { MODE_BYPASSED, MODE_MUTED, type ExecNode } from './exec-node';
import { LinkResolver } from './resolve';
import {
  applyTextReplacements,
  resolveDynamicPrompt,
  SAVE_NODE_TYPES,
  type RandomSource,
  type ReplacementNode,
} from './transforms';
import { readUiWorkflow, SUBGRAPH_INPUT_NODE_ID, SUBGRAPH_OUTPUT_NODE_ID } from './ui-graph';
import { CONTROL_MODES, widgetTypeOf } from './widget-layout';
import { detectWorkflowFormat } from './workflow-format';

/** What a conversion depends on besides the workflow. */
export interface ConvertOptions {
  /** The target server's `/object_info`: conversion depends on it (protocol doc §6.8 step 2). */
  objectInfo: ObjectInfo;
  /** Picks dynamic-prompt options (`{a|b}`); uniform in [0, 1). @default Math.random */
  random?: RandomSource;
  /** The time `%date:…%` in file name prefixes stands for. @default () => new Date() */
  now?: () => Date;
}

/**
 * Converts a workflow file's JSON (UI graph, API prompt, or either inside a RunPod envelope) into
 * the API prompt ComfyUI's `/prompt` takes, replicating the frontend's `graphToPrompt` for saved
 * files (protocol doc §6.8–6.10). Pure: no I/O; randomness and the clock come from `options`.
 *
 * Throws `workflow_invalid` when the JSON is not a workflow. Node types the server lacks do not
 * throw: they are listed in `missingNodeTypes` (use {@link assertNoMissingNodes} before queueing).
 */
export function convertWorkflow(raw: unknown, options: ConvertOptions): ConversionResult {
  const detected = detectWorkflowFormat(raw);
  if (detected.format === 'api') return passThroughApiPrompt(detected.prompt, options.objectInfo);
  return new UiConversion(detected.workflow, options).run();
}

/**
 * Throws `missing_custom_nodes` when the conversion found node types the server does not have,
 * naming each one and the pack that provides it, so nothing is queued that cannot run.
 */
export function assertNoMissingNodes(result: Pick<ConversionResult, 'missingNodeTypes'>): void {
  if (result.missingNodeTypes.length === 0) return;
  throw new AppError('missing_custom_nodes', describeMissingNodes(result.missingNodeTypes), {
    details: { missingNodeTypes: result.missingNodeTypes },
  });
}

/** "missing custom nodes: A (pack), B. Install them…" — the sentence shown wherever missing node types are reported. */
export function describeMissingNodes(missingNodeTypes: readonly MissingNodeType[]): string {
  const names = missingNodeTypes.map((missing) => {
    const pack = missing.cnrId ?? missing.auxId;
    return pack && pack !== missing.type ? `${missing.type} (${pack})` : missing.type;
  });
  return `missing custom nodes: ${names.join(', ')}. Install them in ComfyUI (ComfyUI Manager can find them by these names) and restart it; the workflow is unchanged.`;
}

/** A literal array would read as a link, so the API wants it boxed (§6.7). */
function isControlMode(value: unknown): value is ControlMode {
  return typeof value === 'string' && (CONTROL_MODES as readonly string[]).includes(value);
}

function boxArray(value: unknown): unknown {
  return Array.isArray(value) ? { __value__: value } : value;
}

class UiConversion {
  readonly #options: ConvertOptions;
  readonly #random: RandomSource;
  readonly #clock: () => Date;
  /** Read once, and only if a `%date:…%` needs it (so a conversion that never reads it is not time-dependent). */
  #date: Date | undefined;
  readonly #warnings: ConversionWarning[] = [];
  readonly #warned = new Set<string>();
  readonly #graph: ExecGraph;
  readonly #resolver: LinkResolver;
  #replacementNodes: ReplacementNode[] | undefined;

  constructor(raw: Record<string, unknown>, options: ConvertOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#clock = options.now ?? (() => new Date());
    const warn = (warning: ConversionWarning) => this.#warn(warning);
    const workflow = readUiWorkflow(raw, this.#warnings);
    this.#graph = new ExecGraph(workflow, { objectInfo: options.objectInfo, warn });
    this.#resolver = new LinkResolver(this.#graph, warn);
  }

  run(): ConversionResult {
    this.#propagatePrimitives();
    const prompt: ApiPrompt = {};
    const nodeMap: Record<string, NodeMapEntry> = {};
    for (const node of this.#graph.nodes.values()) {
      if (node.kind !== 'executable' || node.mode === MODE_MUTED || node.mode === MODE_BYPASSED) continue;
      const { apiNode, sources } = this.#emit(node);
      prompt[node.id] = apiNode;
      nodeMap[node.id] = this.#mapEntry(node, sources);
      this.#reportWidgetProblems(node);
    }
    // Inputs fed by nodes that are not sent (muted, unknown) are removed: muting is not pass-through (§6.8 step 14).
    for (const apiNode of Object.values(prompt)) {
      for (const [name, value] of Object.entries(apiNode.inputs)) {
        if (isApiLink(value) && !Object.hasOwn(prompt, value[0])) delete apiNode.inputs[name];
      }
    }
    for (const [id, entry] of Object.entries(nodeMap)) {
      for (const name of Object.keys(entry.widgetSources)) {
        if (!Object.hasOwn(prompt[id]!.inputs, name)) delete entry.widgetSources[name];
      }
    }
    for (const warning of missingRequiredInputs(prompt, this.#options.objectInfo, nodeMap)) this.#warn(warning);
    return {
      format: 'ui',
      prompt,
      warnings: this.#warnings,
      missingNodeTypes: this.#missingNodeTypes(),
      nodeMap,
      exposedInputs: this.#exposedInputs(prompt),
    };
  }

  #warn(warning: ConversionWarning): void {
    const key = `${warning.code}\u0000${warning.nodeId ?? ''}\u0000${warning.message}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warnings.push(warning);
  }

  // -------------------------------------------------------------------------------------------

  /** §6.8 step 9: a PrimitiveNode's value goes into every widget it is linked to. */
  #propagatePrimitives(): void {
    for (const primitive of this.#graph.nodes.values()) {
      if (primitive.node.type !== 'PrimitiveNode' || primitive.member || !primitive.graph) continue;
      const saved = primitive.node.widgetsValues;
      let value = Array.isArray(saved) ? saved[0] : undefined;
      const control = Array.isArray(saved) ? saved[1] : undefined;
      if (value === undefined) continue;
      if (primitive.node.properties['Run widget replace on values'] === true && typeof value === 'string')
        value = applyTextReplacements(value, this.#replacements(), () => (this.#date ??= this.#clock()));
      const source: WidgetSource = { graph: primitive.graph.id, nodeId: primitive.node.id, slot: 0 };
      const linkIds = primitive.node.outputs.flatMap((output) => output.links);
      const links =
        linkIds.length > 0
          ? linkIds.map((id) => primitive.graph!.links.get(id))
          : [...primitive.graph.links.values()].filter((link) => link.originId === primitive.node.id);
      for (const link of links) {
        if (!link || link.targetId === SUBGRAPH_OUTPUT_NODE_ID) continue;
        const target = this.#graph.sibling(primitive, link.targetId);
        const input = target?.inputs.find((candidate) => candidate.link === link.id) ?? target?.inputs[link.targetSlot];
        if (!target || !input) continue;
        const name = input.widgetName ?? input.name;
        if (target.kind === 'subgraph') {
          target.promotedOverrides.set(input.name, { value, sources: [source] });
        } else if (target.kind === 'executable') {
          const existing = target.widgets.get(name);
          if (existing) {
            target.widgets.set(name, { value, sources: [...existing.sources, source] });
            // The primitive's own control (seed randomize/fixed…) is the one that governs the value now.
            if (isControlMode(control) && target.controls.has(name)) target.controls.set(name, control);
          } else {
            this.#warn({
              code: 'primitive_target_missing',
              severity: 'warning',
              message: `A PrimitiveNode feeds "${name}" of "${target.title}", which has no such widget on this server; the value was not used.`,
              nodeId: target.id,
              title: target.title,
            });
          }
        }
      }
    }
  }

  /** Nodes as `%Node.widget%` sees them: every real node and PrimitiveNode, in graph order. */
  #replacements(): ReplacementNode[] {
    if (this.#replacementNodes) return this.#replacementNodes;
    this.#replacementNodes = [];
    for (const node of this.#graph.nodes.values()) {
      if (node.kind !== 'executable' && node.node.type !== 'PrimitiveNode') continue;
      const searchName = node.node.properties['Node name for S&R'];
      const primitiveValue =
        node.node.type === 'PrimitiveNode' && Array.isArray(node.node.widgetsValues)
          ? node.node.widgetsValues[0]
          : undefined;
      this.#replacementNodes.push({
        ...(typeof searchName === 'string' ? { searchName } : {}),
        title: node.title,
        widget: (name) =>
          node.node.type === 'PrimitiveNode'
            ? name === 'value'
              ? primitiveValue
              : undefined
            : node.widgets.get(name)?.value,
      });
    }
    return this.#replacementNodes;
  }

  /** §6.10: dynamic prompts on `dynamicPrompts` text, `%…%` in save nodes' file name prefix. */
  #transform(node: ExecNode, inputName: string, value: unknown): unknown {
    if (typeof value !== 'string') return value;
    const spec = node.def?.input.required?.[inputName] ?? node.def?.input.optional?.[inputName];
    if (inputOptions(spec).dynamicPrompts === true) return resolveDynamicPrompt(value, this.#random);
    if (inputName === 'filename_prefix' && SAVE_NODE_TYPES.has(node.node.type))
      return applyTextReplacements(value, this.#replacements(), () => (this.#date ??= this.#clock()));
    return value;
  }

  #emit(node: ExecNode): { apiNode: ApiNode; sources: Map<string, WidgetSource[]> } {
    const inputs: Record<string, unknown> = {};
    const sources = new Map<string, WidgetSource[]>();
    for (const [name, widget] of node.widgets) {
      inputs[name] = boxArray(this.#transform(node, name, widget.value));
      sources.set(name, widget.sources);
    }
    for (const [index, input] of node.inputs.entries()) {
      const resolved = this.#resolver.resolveInput(node, index);
      if (!resolved) continue;
      if (resolved.kind === 'value') {
        inputs[input.name] = boxArray(this.#transform(node, input.name, resolved.value));
        sources.set(input.name, resolved.sources);
      } else {
        inputs[input.name] = [resolved.id, resolved.slot];
        sources.delete(input.name);
      }
    }
    return { apiNode: { inputs, class_type: node.node.type, _meta: { title: node.title } }, sources };
  }

  #mapEntry(node: ExecNode, sources: Map<string, WidgetSource[]>): NodeMapEntry {
    const containerTitles: string[] = [];
    for (let parent = node.parent; parent; parent = parent.parent) containerTitles.unshift(parent.title);
    return {
      classType: node.node.type,
      title: node.title,
      hasCustomTitle: node.hasCustomTitle,
      uiPath: node.id.split(':'),
      containerTitles,
      widgetSources: Object.fromEntries([...sources].filter(([, list]) => list.length > 0)),
      controls: Object.fromEntries(node.controls),
    };
  }

  #reportWidgetProblems(node: ExecNode): void {
    const aligned = node.member ? node.member.instance.aligned : node.aligned;
    const owner = node.member ? node.member.instance : node;
    if (aligned?.mismatch) {
      const { mismatch } = aligned;
      const parts = [`${mismatch.savedCount} saved values for ${mismatch.slotCount} widget slots`];
      if (mismatch.defaulted.length > 0)
        parts.push(`defaults used for ${mismatch.defaulted.map((name) => name.replace(/^\d+\//, '')).join(', ')}`);
      if (mismatch.ignored.length > 0) parts.push(`${mismatch.ignored.length} value(s) ignored`);
      this.#warn({
        code: 'widget_layout_mismatch',
        severity: mismatch.severity,
        message:
          mismatch.severity === 'info'
            ? `"${owner.title}" was saved with another version of ${owner.node.type} (${parts.join('; ')}).`
            : `"${owner.title}": its saved values do not line up with this server's inputs (${parts.join('; ')}); they were matched by type. Check its settings.`,
        nodeId: owner.id,
        title: owner.title,
        details: {
          savedCount: mismatch.savedCount,
          slotCount: mismatch.slotCount,
          defaulted: mismatch.defaulted,
          ignored: mismatch.ignored,
        },
      });
    }
    if (aligned && aligned.legacyControls.length > 0) {
      this.#warn({
        code: 'legacy_control_value',
        severity: 'info',
        message: `"${owner.title}" stores an old true/false seed control; it was read as ${[...aligned.controls.values()][0] === 'fixed' ? '"fixed"' : '"randomize"'}.`,
        nodeId: owner.id,
        title: owner.title,
      });
    }
    if (node.aligned && node.aligned.frontendWidgets.length > 0) {
      this.#warn({
        code: 'frontend_widget',
        severity: 'warning',
        message: `"${node.title}" uses a widget the ComfyUI frontend fills in itself (${node.aligned.frontendWidgets.join(', ')}); its saved value was sent as is.`,
        nodeId: node.id,
        title: node.title,
      });
    }
  }

  /** Node types the server lacks, among the nodes that would run (muted and bypassed ones do not need it). */
  #missingNodeTypes(): MissingNodeType[] {
    const byType = new Map<string, MissingNodeType>();
    for (const node of this.#graph.ofKind('unknown')) {
      if (node.mode === MODE_MUTED || node.mode === MODE_BYPASSED) continue;
      const entry = byType.get(node.node.type) ?? { type: node.node.type, nodeIds: [] };
      entry.nodeIds.push(node.id);
      const { cnr_id: cnrId, aux_id: auxId, ver: version } = node.node.properties;
      if (entry.cnrId === undefined && typeof cnrId === 'string') entry.cnrId = cnrId;
      if (entry.auxId === undefined && typeof auxId === 'string') entry.auxId = auxId;
      if (entry.version === undefined && typeof version === 'string') entry.version = version;
      byType.set(node.node.type, entry);
    }
    return [...byType.values()];
  }

  /** Inputs a subgraph's author exposed (promoted widgets, proxyWidgets) that ended up as literals. */
  #exposedInputs(prompt: ApiPrompt): ExposedInput[] {
    const result: ExposedInput[] = [];
    const seen = new Set<string>();
    const add = (instance: ExecNode, label: string, targets: Array<{ nodeId: string; inputName: string }>) => {
      for (const target of targets) {
        const value = prompt[target.nodeId]?.inputs[target.inputName];
        const key = `${target.nodeId}\u0000${target.inputName}`;
        if (value === undefined || isApiLink(value) || seen.has(key)) continue;
        seen.add(key);
        result.push({ nodeId: target.nodeId, inputName: target.inputName, label, instanceId: instance.id });
      }
    };
    for (const instance of this.#graph.ofKind('subgraph')) {
      if (instance.mode === MODE_MUTED || instance.mode === MODE_BYPASSED) continue;
      for (const input of instance.inputs) {
        if (input.link !== null || !this.#graph.promotedValue(instance, input.name)) continue;
        add(instance, input.label ?? input.name, this.#promotedTargets(instance, input.name, 0));
      }
      for (const [innerId, widgetName] of proxyWidgets(instance.node.properties.proxyWidgets)) {
        if (innerId === '-1') {
          add(instance, widgetName, this.#promotedTargets(instance, widgetName, 0));
          continue;
        }
        const inner = this.#graph.nodes.get(`${instance.id}:${innerId}`);
        if (inner?.kind === 'executable') add(instance, widgetName, [{ nodeId: inner.id, inputName: widgetName }]);
        else if (inner?.kind === 'subgraph') add(instance, widgetName, this.#promotedTargets(inner, widgetName, 0));
      }
    }
    return result;
  }

  /** The inner inputs a subgraph instance's input `name` feeds, through nested instances. */
  #promotedTargets(instance: ExecNode, name: string, depth: number): Array<{ nodeId: string; inputName: string }> {
    const subgraph = instance.subgraph;
    const index = subgraph?.inputs.findIndex((input) => input.name === name) ?? -1;
    if (!subgraph || index === -1 || depth > 32) return [];
    const links = [...subgraph.links.values()].filter(
      (link) => link.originId === SUBGRAPH_INPUT_NODE_ID && link.originSlot === index,
    );
    return links.flatMap((link) => {
      const inner = this.#graph.nodes.get(`${instance.id}:${link.targetId}`);
      const target = inner?.inputs.find((input) => input.link === link.id) ?? inner?.inputs[link.targetSlot];
      if (!inner || !target) return [];
      if (inner.kind === 'subgraph') return this.#promotedTargets(inner, target.name, depth + 1);
      return inner.kind === 'executable' ? [{ nodeId: inner.id, inputName: target.name }] : [];
    });
  }
}

/**
 * Required inputs missing from nodes ComfyUI would run (those an output node depends on, §4.5):
 * the server would reject the prompt, so say which node and input before anything is queued.
 */
export function missingRequiredInputs(
  prompt: ApiPrompt,
  objectInfo: ObjectInfo,
  nodeMap: Record<string, NodeMapEntry>,
): ConversionWarning[] {
  const reachable = new Set<string>();
  const visit = (id: string) => {
    if (reachable.has(id) || !Object.hasOwn(prompt, id)) return;
    reachable.add(id);
    for (const value of Object.values(prompt[id]!.inputs)) if (isApiLink(value)) visit(value[0]);
  };
  for (const [id, node] of Object.entries(prompt)) if (objectInfo[node.class_type]?.output_node) visit(id);
  const warnings: ConversionWarning[] = [];
  for (const id of reachable) {
    const node = prompt[id]!;
    const def = objectInfo[node.class_type];
    for (const name of Object.keys(def?.input.required ?? {})) {
      if (Object.hasOwn(node.inputs, name)) continue;
      const title = nodeMap[id]?.title ?? node.class_type;
      const isWidget = widgetTypeOf(def?.input.required?.[name]) !== undefined;
      warnings.push({
        code: 'required_input_missing',
        severity: 'warning',
        message: isWidget
          ? `"${title}" has no value for its required input "${name}"; ComfyUI will refuse to run the workflow until one is chosen.`
          : `"${title}" has nothing connected to its required input "${name}" (what fed it is muted, bypassed or missing); ComfyUI will refuse to run the workflow until it is connected.`,
        nodeId: id,
        title,
        details: { input: name },
      });
    }
  }
  return warnings;
}

/** `properties.proxyWidgets`: `[[innerNodeId, widgetName, …], …]`, sometimes stored as a JSON string. */
function proxyWidgets(raw: unknown): Array<[string, string]> {
  let value = raw;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return [];
    }
  }
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) =>
    Array.isArray(entry) &&
    entry.length >= 2 &&
    (typeof entry[0] === 'string' || typeof entry[0] === 'number') &&
    typeof entry[1] === 'string'
      ? [[String(entry[0]), entry[1]] as [string, string]]
      : [],
  );
}

// ---------------------------------------------------------------------------------------------
// API prompts pass through

function passThroughApiPrompt(raw: Record<string, unknown>, objectInfo: ObjectInfo): ConversionResult {
  const prompt = structuredClone(raw) as ApiPrompt;
  const warnings: ConversionWarning[] = [];
  const nodeMap: Record<string, NodeMapEntry> = {};
  const missing = new Map<string, MissingNodeType>();
  for (const [id, node] of Object.entries(prompt)) {
    if (Object.hasOwn(node, 'is_changed')) {
      // Old embedded prompts carry the server's cache key; the server reserves the key for itself.
      delete (node as Record<string, unknown>).is_changed;
      warnings.push({
        code: 'api_normalised',
        severity: 'info',
        message: `Node ${id} carried an "is_changed" key, which was removed.`,
        nodeId: id,
      });
    }
    if (typeof node.inputs !== 'object' || node.inputs === null || Array.isArray(node.inputs)) node.inputs = {};
    for (const [name, value] of Object.entries(node.inputs)) {
      if (
        Array.isArray(value) &&
        value.length === 2 &&
        typeof value[0] === 'number' &&
        typeof value[1] === 'number' &&
        Object.hasOwn(prompt, String(value[0]))
      ) {
        node.inputs[name] = [String(value[0]), value[1]];
        warnings.push({
          code: 'api_normalised',
          severity: 'info',
          message: `Node ${id} input "${name}" linked to a numeric node id; it was turned into a string id.`,
          nodeId: id,
        });
      }
    }
    const def = objectInfo[node.class_type];
    if (!def) {
      const entry = missing.get(node.class_type) ?? { type: node.class_type, nodeIds: [] };
      entry.nodeIds.push(id);
      missing.set(node.class_type, entry);
    }
    const customTitle = node._meta?.title;
    const defaultTitle = def ? def.display_name || def.name : node.class_type;
    nodeMap[id] = {
      classType: node.class_type,
      title: customTitle ?? defaultTitle,
      hasCustomTitle: customTitle !== undefined && customTitle !== defaultTitle,
      uiPath: id.split(':'),
      containerTitles: [],
      widgetSources: {},
      controls: {},
    };
  }
  return { format: 'api', prompt, warnings, missingNodeTypes: [...missing.values()], nodeMap, exposedInputs: [] };
}
