import type { ControlMode, ConversionWarning, WidgetSource } from '@shared/domain/generation';
import type { NodeDef, ObjectInfo } from '../../comfy/object-info';
import type { GroupNodeDefinition, UiGraph, UiInputSlot, UiNode } from './ui-graph';
import type { AlignedWidgets } from './widget-values';
import type { WidgetSlot } from './widget-layout';

// The model of the flattened graph (protocol doc §6.8 steps 4–9) that ExecGraph builds and the
// converter reads: what one node under its execution id knows.

/** Frontend-only node types: they shape links and values but are never sent (§6.8 step 6). */
export const VIRTUAL_NODE_TYPES: ReadonlySet<string> = new Set([
  'Reroute',
  'PrimitiveNode',
  'Note',
  'MarkdownNote',
  'SetNode',
  'GetNode',
]);

/** Mode 2: the node and everything it feeds are removed. */
export const MODE_MUTED = 2;
/** Mode 4: the node passes a matching input through. */
export const MODE_BYPASSED = 4;

/** What a flattened node is: sent to the server, frontend-only, a subgraph or group-node instance, or of a type the server lacks. */
export type ExecKind = 'executable' | 'virtual' | 'subgraph' | 'group' | 'unknown';

/** A widget value after alignment and PrimitiveNode propagation, with every place it is saved. */
export interface ResolvedWidget {
  value: unknown;
  sources: WidgetSource[];
}

/** One node of the flattened graph under its execution id, with what conversion needs to know about it. */
export interface ExecNode {
  /** Execution id: `"5"`, `"12:5"` inside subgraph instance 12, `"37:0"` inside group node 37. */
  id: string;
  node: UiNode;
  /** The graph the node lives in (undefined for legacy group-node members). */
  graph: UiGraph | undefined;
  /** The enclosing subgraph or group instance. */
  parent?: ExecNode;
  kind: ExecKind;
  def?: NodeDef;
  /** The node's mode, overridden by an enclosing instance that is muted or bypassed (§6.8 step 7). */
  mode: number;
  /** Inputs as the frontend sees them at run time (a subgraph instance has one per definition input, matched by name). */
  inputs: UiInputSlot[];
  /** Output types by slot. */
  outputTypes: string[];
  title: string;
  hasCustomTitle: boolean;
  /** Subgraph instances: their definition. */
  subgraph?: UiGraph;
  /** Legacy group-node instances: their expanded definition. */
  group?: GroupLayout;
  /** Legacy group-node members: their instance and index. */
  member?: { instance: ExecNode; index: number };
  /** Executable nodes: input name → widget value. */
  widgets: Map<string, ResolvedWidget>;
  controls: Map<string, ControlMode>;
  /** Subgraph instances: values PrimitiveNodes wrote into promoted widgets. */
  promotedOverrides: Map<string, ResolvedWidget>;
  /** Executable nodes: the aligned layout (for frontend-widget and mismatch reports). */
  aligned?: AlignedWidgets;
}

/** A legacy group node definition expanded against object_info, shared by all its instances. */
export interface GroupLayout {
  definition: GroupNodeDefinition;
  /** `"<member index>:<input index>"` → group instance input index. */
  inputMap: Map<string, number>;
  /** Group instance output slot → member output. */
  outputs: Array<{ index: number; slot: number }>;
  /** Member index → input index → the member output feeding it. */
  linksTo: Map<number, Map<number, { originIndex: number; originSlot: number }>>;
  /** Member index → output 0 targets (PrimitiveNode propagation). */
  linksFrom: Map<number, Array<{ targetIndex: number; targetSlot: number }>>;
  /** The instance's widgets: every member's widget slots, concatenated (input names prefixed `<index>/`). */
  layout: WidgetSlot[];
  /** Member inputs as the frontend configures them. */
  memberInputs: UiInputSlot[][];
}

/** What flattening depends on: the server's node definitions and where warnings go. */
export interface ExecGraphOptions {
  objectInfo: ObjectInfo;
  warn(warning: ConversionWarning): void;
}
