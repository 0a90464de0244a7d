import type { NodeDef, ObjectInfo } from '../../comfy/object-info';
import {
  groupNodeName,
  SUBGRAPH_INPUT_NODE_ID,
  type GroupNodeDefinition,
  type UiGraph,
  type UiInputSlot,
  type UiNode,
  type UiWorkflow,
} from './ui-graph';
import { alignWidgetValues } from './widget-values';
import { widgetLayout, type WidgetSlot } from './widget-layout';
import {
  MODE_BYPASSED,
  MODE_MUTED,
  VIRTUAL_NODE_TYPES,
  type ExecGraphOptions,
  type ExecKind,
  type ExecNode,
  type GroupLayout,
  type ResolvedWidget,
} from './exec-node';

/**
 * The flattened graph (protocol doc §6.8 steps 4–9): every node of the root graph, of every
 * subgraph instance and of every legacy group-node instance, under its execution id, with its
 * effective mode and its widget values aligned to the server's inputs, in the order nodes were met.
 */
export class ExecGraph {
  readonly nodes = new Map<string, ExecNode>();
  readonly #workflow: UiWorkflow;
  readonly #options: ExecGraphOptions;
  readonly #groupLayouts = new Map<string, GroupLayout>();

  constructor(workflow: UiWorkflow, options: ExecGraphOptions) {
    this.#workflow = workflow;
    this.#options = options;
    for (const node of workflow.root.nodes) this.#add(node, workflow.root, undefined, new Set());
  }

  /** The node another node's link points at, in the same graph. */
  sibling(of: ExecNode, uiId: string): ExecNode | undefined {
    if (of.member) return this.nodes.get(`${of.member.instance.id}:${uiId}`);
    return this.nodes.get(of.parent ? `${of.parent.id}:${uiId}` : uiId);
  }

  /** All nodes of one kind, in order. */
  *ofKind(kind: ExecKind): Iterable<ExecNode> {
    for (const node of this.nodes.values()) if (node.kind === kind) yield node;
  }

  #classify(node: UiNode): { kind: ExecKind; def?: NodeDef } {
    if (this.#workflow.subgraphs.has(node.type)) return { kind: 'subgraph' };
    const groupName = groupNodeName(node.type);
    if (groupName !== undefined && this.#workflow.groupNodes.has(groupName)) return { kind: 'group' };
    if (VIRTUAL_NODE_TYPES.has(node.type)) return { kind: 'virtual' };
    const def = this.#options.objectInfo[node.type];
    return def ? { kind: 'executable', def } : { kind: 'unknown' };
  }

  #add(node: UiNode, graph: UiGraph, parent: ExecNode | undefined, openSubgraphs: Set<string>): void {
    const id = parent ? `${parent.id}:${node.id}` : node.id;
    if (this.nodes.has(id)) {
      this.#options.warn({
        code: 'node_skipped',
        severity: 'warning',
        message: `Two nodes share the id ${id}; the second was skipped.`,
        nodeId: id,
      });
      return;
    }
    const { kind, def } = this.#classify(node);
    const exec = this.#create(id, node, graph, parent, kind, def);
    this.nodes.set(id, exec);

    if (kind === 'subgraph') {
      const subgraph = this.#workflow.subgraphs.get(node.type)!;
      exec.subgraph = subgraph;
      exec.inputs = subgraph.inputs.map((input) => {
        const saved = node.inputs.find((candidate) => candidate.name === input.name);
        const label = saved?.label ?? input.label;
        return {
          name: input.name,
          type: saved?.type ?? input.type,
          link: saved?.link ?? null,
          ...(saved?.widgetName ? { widgetName: saved.widgetName } : {}),
          ...(label ? { label } : {}),
        };
      });
      exec.outputTypes = subgraph.outputs.map((output) => output.type);
      if (openSubgraphs.has(subgraph.id)) {
        this.#options.warn({
          code: 'node_skipped',
          severity: 'warning',
          message: `Subgraph "${subgraph.name}" contains itself; the inner copy was skipped.`,
          nodeId: id,
        });
        return;
      }
      const open = new Set(openSubgraphs).add(subgraph.id);
      for (const inner of subgraph.nodes) this.#add(inner, subgraph, exec, open);
    } else if (kind === 'group') {
      this.#expandGroup(exec, groupNodeName(node.type)!);
    }
  }

  #create(
    id: string,
    node: UiNode,
    graph: UiGraph | undefined,
    parent: ExecNode | undefined,
    kind: ExecKind,
    def: NodeDef | undefined,
  ): ExecNode {
    const inheritedMode =
      parent && (parent.mode === MODE_MUTED || parent.mode === MODE_BYPASSED) ? parent.mode : node.mode;
    const exec: ExecNode = {
      id,
      node,
      graph,
      kind,
      mode: inheritedMode,
      inputs: node.inputs,
      outputTypes: node.outputs.map((output) => output.type),
      title:
        node.title ??
        (def
          ? def.display_name || def.name
          : kind === 'subgraph'
            ? (this.#workflow.subgraphs.get(node.type)?.name ?? node.type)
            : node.type),
      hasCustomTitle: node.title !== undefined,
      widgets: new Map(),
      controls: new Map(),
      promotedOverrides: new Map(),
    };
    if (parent) exec.parent = parent;
    if (def) {
      exec.def = def;
      if (exec.outputTypes.length === 0)
        exec.outputTypes = def.output.map((type) => (typeof type === 'string' ? type : 'COMBO'));
      if (graph) this.#alignOwnWidgets(exec, def, graph.id);
    }
    return exec;
  }

  #alignOwnWidgets(exec: ExecNode, def: NodeDef, graphId: string): void {
    const aligned = alignWidgetValues(exec.node.type, def, exec.node.widgetsValues);
    exec.aligned = aligned;
    for (const [name, widget] of aligned.values) {
      exec.widgets.set(name, {
        value: widget.value,
        sources: widget.slot === undefined ? [] : [{ graph: graphId, nodeId: exec.node.id, slot: widget.slot }],
      });
    }
    exec.controls = aligned.controls;
  }

  // -------------------------------------------------------------------------------------------
  // Legacy group nodes (§6.6)

  #expandGroup(instance: ExecNode, name: string): void {
    const layout = this.#groupLayout(name);
    instance.group = layout;
    instance.outputTypes = instance.node.outputs.map((output) => output.type);
    this.#options.warn({
      code: 'legacy_group_node',
      severity: 'info',
      message: `"${instance.title}" is a legacy group node; it was expanded. Open and re-save the workflow in a current ComfyUI to turn it into a subgraph.`,
      nodeId: instance.id,
      title: instance.title,
    });
    const members: ExecNode[] = [];
    for (const [index, inner] of layout.definition.nodes.entries()) {
      const { kind, def } = this.#classify(inner);
      const member = this.#create(
        `${instance.id}:${index}`,
        inner,
        undefined,
        instance,
        kind === 'subgraph' || kind === 'group' ? 'unknown' : kind,
        def,
      );
      member.member = { instance, index };
      member.inputs = layout.memberInputs[index]!;
      this.nodes.set(member.id, member);
      members.push(member);
    }
    this.#assignGroupWidgets(instance, layout, members);
  }

  #groupLayout(name: string): GroupLayout {
    const cached = this.#groupLayouts.get(name);
    if (cached) return cached;
    const definition = this.#workflow.groupNodes.get(name)!;
    const linksTo: GroupLayout['linksTo'] = new Map();
    const linksFrom: GroupLayout['linksFrom'] = new Map();
    for (const link of definition.links) {
      if (link.originIndex === null) continue;
      const to = linksTo.get(link.targetIndex) ?? new Map();
      to.set(link.targetSlot, { originIndex: link.originIndex, originSlot: link.originSlot });
      linksTo.set(link.targetIndex, to);
      if (link.originSlot === 0) {
        const from = linksFrom.get(link.originIndex) ?? [];
        from.push({ targetIndex: link.targetIndex, targetSlot: link.targetSlot });
        linksFrom.set(link.originIndex, from);
      }
    }
    const hasOutgoing = (index: number, slot: number) =>
      definition.links.some((link) => link.originIndex === index && link.originSlot === slot);

    const inputMap = new Map<string, number>();
    const outputs: GroupLayout['outputs'] = [];
    const layout: WidgetSlot[] = [];
    const memberInputs: UiInputSlot[][] = [];
    const deferred: Array<{ index: number; inputIndex: number }> = [];
    const deferredWidgets: Array<{ order: string; index: number; slots: WidgetSlot[] }> = [];
    let inputCount = 0;

    for (const [index, node] of definition.nodes.entries()) {
      const def = VIRTUAL_NODE_TYPES.has(node.type) ? undefined : this.#options.objectInfo[node.type];
      const inputs = node.inputs.length > 0 || !def ? node.inputs : socketInputs(def);
      memberInputs.push(inputs);
      const isReroute = node.type === 'Reroute';
      const isLinkedPrimitive = node.type === 'PrimitiveNode' && linksFrom.has(index);
      // An internal reroute (fed and feeding inside the group, not leaving it) takes no group slot.
      const isInternalReroute =
        isReroute && linksTo.has(index) && hasOutgoing(index, 0) && !definition.external.get(index)?.has(0);
      if (!def && !(isReroute && !isInternalReroute) && !isLinkedPrimitive) continue;

      for (const [inputIndex, input] of inputs.entries()) {
        if (input.widgetName !== undefined) deferred.push({ index, inputIndex });
        else if (!linksTo.get(index)?.has(inputIndex)) inputMap.set(`${index}:${inputIndex}`, inputCount++);
      }
      const outputCount = def ? def.output.length : 1;
      for (let slot = 0; slot < outputCount; slot += 1) {
        const visibility = outputVisibility(definition.config, index, slot);
        const isLinkedInside = hasOutgoing(index, slot) && !definition.external.get(index)?.has(slot);
        if (visibility ?? !isLinkedInside) outputs.push({ index, slot });
      }
      if (def) {
        // Widgets that have a socket on the inner node become the group's inputs-with-widgets, which
        // the frontend creates after every other widget of the group (by input position, compared as text).
        const convertedAt = new Map(
          inputs.flatMap((input, inputIndex) =>
            input.widgetName === undefined ? [] : [[input.widgetName, String(inputIndex)] as const],
          ),
        );
        const units = new Map<string, WidgetSlot[]>();
        for (const slot of widgetLayout(node.type, def)) {
          const key =
            slot.role === 'value' ||
            slot.role === 'control' ||
            slot.role === 'filter' ||
            convertedAt.has(slot.inputName)
              ? slot.inputName
              : `\u0000${slot.inputName}`;
          const unit = units.get(key) ?? [];
          unit.push({ ...slot, inputName: `${index}/${slot.inputName}` });
          units.set(key, unit);
        }
        for (const [name, unit] of units) {
          if (convertedAt.has(name)) deferredWidgets.push({ order: convertedAt.get(name)!, index, slots: unit });
          else layout.push(...unit);
        }
      } else if (isLinkedPrimitive) {
        layout.push(...primitiveSlots(index, definition, this.#options.objectInfo));
      }
    }
    for (const { index, inputIndex } of deferred) {
      if (!linksTo.get(index)?.has(inputIndex)) inputMap.set(`${index}:${inputIndex}`, inputCount++);
    }
    const byOrder = (a: { index: number; order: string }, b: { index: number; order: string }) =>
      a.index - b.index || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0);
    for (const entry of deferredWidgets.sort(byOrder)) layout.push(...entry.slots);
    const result: GroupLayout = { definition, inputMap, outputs, linksTo, linksFrom, layout, memberInputs };
    this.#groupLayouts.set(name, result);
    return result;
  }

  #assignGroupWidgets(instance: ExecNode, layout: GroupLayout, members: ExecNode[]): void {
    const saved = instance.node.widgetsValues;
    if (Array.isArray(saved) && saved.length > 0) {
      const aligned = alignWidgetValues(
        instance.node.type,
        { name: instance.node.type, input: {}, output: [] },
        saved,
        layout.layout,
      );
      instance.aligned = aligned;
      for (const [key, widget] of aligned.values) {
        const [index, name] = splitMemberKey(key);
        members[index]?.widgets.set(name, {
          value: widget.value,
          sources:
            widget.slot === undefined
              ? []
              : [{ graph: instance.graph?.id ?? 'root', nodeId: instance.node.id, slot: widget.slot }],
        });
      }
      for (const [key, mode] of aligned.controls) {
        const [index, name] = splitMemberKey(key);
        members[index]?.controls.set(name, mode);
      }
    } else {
      // No values on the instance: the definition's own saved values are what the frontend starts from.
      for (const member of members) {
        if (!member.def) continue;
        const aligned = alignWidgetValues(member.node.type, member.def, member.node.widgetsValues);
        member.aligned = aligned;
        for (const [name, widget] of aligned.values) {
          member.widgets.set(name, {
            value: widget.value,
            sources:
              widget.slot === undefined
                ? []
                : [{ graph: `group:${layout.definition.name}`, nodeId: member.node.id, slot: widget.slot }],
          });
        }
        member.controls = aligned.controls;
      }
    }
    // A PrimitiveNode inside the group writes its value into the widgets it feeds.
    for (const [index, targets] of layout.linksFrom) {
      const primitive = members[index];
      if (primitive?.node.type !== 'PrimitiveNode') continue;
      const value = primitive.widgets.get('value');
      if (!value) continue;
      for (const target of targets) {
        const member = members[target.targetIndex];
        const input = member?.inputs[target.targetSlot];
        if (member && input) member.widgets.set(input.widgetName ?? input.name, value);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Subgraph promoted widgets (§6.5)

  /**
   * The value of a subgraph instance's promoted widget `inputName`: a PrimitiveNode's value, else
   * the instance's own saved value, else the inner widget's. Undefined when the input feeds no widget.
   */
  promotedValue(instance: ExecNode, inputName: string, depth = 0): ResolvedWidget | undefined {
    const override = instance.promotedOverrides.get(inputName);
    if (override) return override;
    const subgraph = instance.subgraph;
    if (!subgraph || depth > 32) return undefined;
    const promoted = subgraph.inputs
      .map((input, index) => ({ input, source: this.#promotedSource(instance, index, depth) }))
      .filter((entry) => entry.source !== undefined);
    const saved = Array.isArray(instance.node.widgetsValues) ? instance.node.widgetsValues : [];
    // Older saves keep an extra value after each promoted widget that has a control (seed) companion.
    const hasControlSlots = saved.length > promoted.length;
    let valueIndex = 0;
    for (const { input, source } of promoted) {
      if (input.name === inputName) {
        const value = saved[valueIndex];
        if (value !== undefined && value !== null) {
          return {
            value,
            sources: [
              { graph: instance.graph?.id ?? 'root', nodeId: instance.node.id, slot: valueIndex },
              ...source!.sources,
            ],
          };
        }
        return source;
      }
      valueIndex += 1;
      if (hasControlSlots && source!.hasControl) valueIndex += 1;
    }
    return undefined;
  }

  #promotedSource(
    instance: ExecNode,
    inputIndex: number,
    depth: number,
  ): (ResolvedWidget & { hasControl: boolean }) | undefined {
    const subgraph = instance.subgraph!;
    const input = subgraph.inputs[inputIndex]!;
    const linkIds =
      input.linkIds.length > 0
        ? input.linkIds
        : [...subgraph.links.values()]
            .filter((link) => link.originId === SUBGRAPH_INPUT_NODE_ID && link.originSlot === inputIndex)
            .map((link) => link.id);
    for (const linkId of linkIds) {
      const link = subgraph.links.get(linkId);
      if (!link) continue;
      const inner = this.nodes.get(`${instance.id}:${link.targetId}`);
      const target = inner?.inputs.find((candidate) => candidate.link === link.id) ?? inner?.inputs[link.targetSlot];
      if (!inner || !target) continue;
      if (inner.kind === 'executable') {
        const name = target.widgetName ?? target.name;
        const widget = inner.widgets.get(name);
        if (widget) return { ...widget, hasControl: inner.controls.has(name) };
      } else if (inner.kind === 'subgraph') {
        const nested = this.promotedValue(inner, target.name, depth + 1);
        if (nested) return { ...nested, hasControl: false };
      }
    }
    return undefined;
  }
}

/** Socket inputs of a node type (what a node without saved inputs has). */
function socketInputs(def: NodeDef): UiInputSlot[] {
  const result: UiInputSlot[] = [];
  for (const group of ['required', 'optional'] as const) {
    for (const [name, spec] of Object.entries(def.input[group] ?? {})) {
      const type = Array.isArray(spec) && typeof spec[0] === 'string' ? spec[0] : 'COMBO';
      if (!['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO'].includes(type)) result.push({ name, type, link: null });
    }
  }
  return result;
}

function outputVisibility(config: Record<string, unknown>, index: number, slot: number): boolean | undefined {
  const member = config[String(index)] as { output?: Record<string, { visible?: unknown }> } | undefined;
  const visible = member?.output?.[String(slot)]?.visible;
  return typeof visible === 'boolean' ? visible : undefined;
}

/** A linked PrimitiveNode inside a group contributes its value and (for numbers and combos) control slots. */
function primitiveSlots(index: number, definition: GroupNodeDefinition, objectInfo: ObjectInfo): WidgetSlot[] {
  const link = definition.links.find((candidate) => candidate.originIndex === index);
  const target = link ? definition.nodes[link.targetIndex] : undefined;
  const input = target && link ? target.inputs[link.targetSlot] : undefined;
  const name = input?.widgetName ?? input?.name;
  const def = target ? objectInfo[target.type] : undefined;
  const spec = name && def ? (def.input.required?.[name] ?? def.input.optional?.[name]) : undefined;
  const valueType =
    Array.isArray(spec) && Array.isArray(spec[0])
      ? 'COMBO'
      : Array.isArray(spec) && typeof spec[0] === 'string'
        ? spec[0]
        : (link?.type ?? 'ANY');
  const slots: WidgetSlot[] = [{ role: 'value', inputName: `${index}/value`, valueType, spec }];
  if (valueType === 'INT' || valueType === 'FLOAT' || valueType === 'COMBO')
    slots.push({ role: 'control', inputName: `${index}/value`, valueType: 'CONTROL' });
  if (valueType === 'COMBO') slots.push({ role: 'filter', inputName: `${index}/value`, valueType: 'STRING' });
  return slots;
}

function splitMemberKey(key: string): [number, string] {
  const slash = key.indexOf('/');
  return [Number(key.slice(0, slash)), key.slice(slash + 1)];
}
