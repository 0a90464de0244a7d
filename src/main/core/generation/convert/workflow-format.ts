import { AppError } from '../../lib/errors';

/** A workflow file after format detection (protocol doc §6.1). */
export type DetectedWorkflow =
  | { format: 'ui'; workflow: Record<string, unknown>; envelope?: WorkflowEnvelope }
  | {
      format: 'api';
      /** The nodes only: metadata entries such as `_meta` are left out, as `/prompt` takes nodes alone. */
      prompt: Record<string, unknown>;
      envelope?: WorkflowEnvelope;
    };

/**
 * A wrapper the graph was found in: `runpod` = a RunPod worker request `{"input": {"workflow": …}}`,
 * `prompt` = a saved `POST /prompt` body `{"prompt": …}`.
 */
export type WorkflowEnvelope = 'runpod' | 'prompt';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNode(value: unknown): boolean {
  return isRecord(value) && typeof value.class_type === 'string';
}

/**
 * Whether a top-level entry of an API prompt is the file's own metadata rather than a node: a key
 * starting with `_` that holds no node, such as `_meta` (`name`, `description`, `category`), the
 * convention ComfyDesk's library reads for the card. ComfyUI's `/prompt` refuses anything that is
 * not a node, so these entries are never sent.
 */
export function isPromptMetadata(key: string, value: unknown): boolean {
  return key.startsWith('_') && !isNode(value);
}

/** The nodes of an API prompt without its metadata entries (see {@link isPromptMetadata}). */
export function promptNodes(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([key, entry]) => !isPromptMetadata(key, entry)));
}

/**
 * An API prompt: an object with at least one node, every entry a node with a string `class_type`
 * apart from metadata entries (`_meta`).
 */
export function isApiPrompt(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const nodes = Object.values(promptNodes(value));
  return nodes.length > 0 && nodes.every(isNode);
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
  if (isApiPrompt(raw)) return { format: 'api', prompt: promptNodes(raw) };
  if (isRecord(raw)) {
    const inner = isRecord(raw.input) ? raw.input.workflow : undefined;
    if (isUiWorkflow(inner)) return { format: 'ui', workflow: inner, envelope: 'runpod' };
    if (isApiPrompt(inner)) return { format: 'api', prompt: promptNodes(inner), envelope: 'runpod' };
    if (isApiPrompt(raw.prompt)) return { format: 'api', prompt: promptNodes(raw.prompt), envelope: 'prompt' };
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
