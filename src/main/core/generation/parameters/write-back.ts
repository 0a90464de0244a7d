import type { NodeMapEntry, ParameterAssignment, WidgetSource } from '@shared/domain/generation';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The saved node a widget source points at, inside the (copied) workflow JSON. */
function findNode(workflow: Record<string, unknown>, source: WidgetSource): Record<string, unknown> | undefined {
  let nodes: unknown;
  if (source.graph === 'root') nodes = workflow.nodes;
  else if (source.graph.startsWith('group:')) {
    const groups = isRecord(workflow.extra) && isRecord(workflow.extra.groupNodes) ? workflow.extra.groupNodes : {};
    const group = groups[source.graph.slice('group:'.length)];
    // Group-node members are known by their index.
    return isRecord(group) && Array.isArray(group.nodes) && isRecord(group.nodes[Number(source.nodeId)])
      ? (group.nodes[Number(source.nodeId)] as Record<string, unknown>)
      : undefined;
  } else {
    const subgraphs =
      isRecord(workflow.definitions) && Array.isArray(workflow.definitions.subgraphs)
        ? workflow.definitions.subgraphs
        : [];
    const definition = subgraphs.find((candidate) => isRecord(candidate) && candidate.id === source.graph);
    nodes = isRecord(definition) ? definition.nodes : undefined;
  }
  if (!Array.isArray(nodes)) return undefined;
  return nodes.find((node): node is Record<string, unknown> => isRecord(node) && String(node.id) === source.nodeId);
}

/**
 * Writes injected values back into a copy of the UI workflow's `widgets_values`, so the workflow
 * saved with the outputs (`extra_pnginfo.workflow`) reopens in ComfyUI with the values that ran.
 * Values that replaced a link have no widget and are skipped.
 */
export function writeValuesToWorkflow(
  workflow: Record<string, unknown>,
  nodeMap: Record<string, NodeMapEntry>,
  assignments: readonly ParameterAssignment[],
): Record<string, unknown> {
  const copy = structuredClone(workflow);
  for (const assignment of assignments) {
    for (const source of nodeMap[assignment.nodeId]?.widgetSources[assignment.inputName] ?? []) {
      const node = findNode(copy, source);
      if (!node) continue;
      if (typeof source.slot === 'number') {
        if (!Array.isArray(node.widgets_values)) node.widgets_values = [];
        (node.widgets_values as unknown[])[source.slot] = assignment.value;
      } else {
        if (!isRecord(node.widgets_values)) node.widgets_values = {};
        (node.widgets_values as Record<string, unknown>)[source.slot] = assignment.value;
      }
    }
  }
  return copy;
}
