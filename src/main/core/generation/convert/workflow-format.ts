import { AppError } from '../../lib/errors';

/** A workflow file after format detection (protocol doc §6.1). */
export type DetectedWorkflow =
  | { format: 'ui'; workflow: Record<string, unknown>; envelope?: WorkflowEnvelope }
  | { format: 'api'; prompt: Record<string, unknown>; envelope?: WorkflowEnvelope };

/**
 * A wrapper the graph was found in: `runpod` = a RunPod worker request `{"input": {"workflow": …}}`,
 * `prompt` = a saved `POST /prompt` body `{"prompt": …}`.
 */
export type WorkflowEnvelope = 'runpod' | 'prompt';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An API prompt: a non-empty object whose every value is a node with a string `class_type`. */
export function isApiPrompt(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const nodes = Object.values(value);
  return nodes.length > 0 && nodes.every((node) => isRecord(node) && typeof node.class_type === 'string');
}

/** A UI workflow: an object with a `nodes` array. */
export function isUiWorkflow(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && Array.isArray(value.nodes);
}

/**
 * Tells a UI workflow from an API prompt, unwrapping the envelopes seen in the wild. Throws
 * `workflow_invalid` with a message saying what the file looks like instead.
 */
export function detectWorkflowFormat(raw: unknown): DetectedWorkflow {
  if (isUiWorkflow(raw)) return { format: 'ui', workflow: raw };
  if (isApiPrompt(raw)) return { format: 'api', prompt: raw };
  if (isRecord(raw)) {
    const inner = isRecord(raw.input) ? raw.input.workflow : undefined;
    if (isUiWorkflow(inner)) return { format: 'ui', workflow: inner, envelope: 'runpod' };
    if (isApiPrompt(inner)) return { format: 'api', prompt: inner, envelope: 'runpod' };
    if (isApiPrompt(raw.prompt)) return { format: 'api', prompt: raw.prompt, envelope: 'prompt' };
    const collection = Object.entries(raw).filter(([, value]) => isUiWorkflow(value));
    if (collection.length > 0 && collection.length === Object.keys(raw).length) {
      const names = collection.map(([name]) => name);
      throw new AppError(
        'workflow_invalid',
        `This file holds ${names.length} workflows (${names.join(', ')}), not one. Save the one you want on its own and open that.`,
        {
          details: { workflows: names },
        },
      );
    }
  }
  throw new AppError(
    'workflow_invalid',
    'This file is neither a ComfyUI workflow (nodes and links) nor an API prompt (nodes with class_type). Nothing was changed; export the workflow again from ComfyUI.',
  );
}
