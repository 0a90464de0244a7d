import type { Parameter } from '@shared/domain/generation';
import type { JobError } from '@shared/domain/job';

/** One node's messages as a failed job carries them: ComfyUI's "message — details". */
type NodeError = NonNullable<JobError['nodeErrors']>[number];

/**
 * ComfyUI's validation messages placed beside the fields they are about. A message reads
 * "<message> — <details>", and ComfyUI starts `details` with the input's name ("width",
 * "image - Invalid image file: x.png", "width, abc, invalid literal…"), so a message belongs to the
 * parameter that sets that input of that node. Messages no field sets are returned as `unplaced`,
 * under their node's title.
 */
export function placeNodeErrors(
  parameters: readonly Parameter[],
  nodeErrors: readonly NodeError[],
): { byField: Record<string, string>; unplaced: string[] } {
  const byField: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const node of nodeErrors) {
    for (const text of node.messages) {
      const [message = text, details = ''] = splitMessage(text);
      const found = findField(parameters, node.nodeId, details);
      if (found) {
        byField[found.parameter.id] ??= `ComfyUI refused this: ${found.reason || message}`;
      } else {
        unplaced.push(`${node.nodeTitle ?? `Node ${node.nodeId}`}: ${text}`);
      }
    }
  }
  return { byField, unplaced };
}

function splitMessage(text: string): [string, string] {
  const index = text.indexOf(' — ');
  return index < 0 ? [text, ''] : [text.slice(0, index), text.slice(index + ' — '.length)];
}

/** The parameter that sets the input `details` names on `nodeId`, and the reason that follows the name (custom validation's own words). */
function findField(
  parameters: readonly Parameter[],
  nodeId: string,
  details: string,
): { parameter: Parameter; reason: string } | undefined {
  for (const parameter of parameters) {
    for (const target of parameter.targets) {
      if (target.nodeId !== nodeId) continue;
      const name = target.inputName;
      if (details === name) return { parameter, reason: '' };
      // "image - Invalid image file: x.png": the words after the dash are the node's own reason.
      if (details.startsWith(`${name} - `)) return { parameter, reason: details.slice(name.length + 3).trim() };
      if (details.startsWith(`${name}:`) || details.startsWith(`${name},`)) return { parameter, reason: '' };
    }
  }
  return undefined;
}
