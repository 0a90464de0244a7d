import type { ApiPrompt } from '@shared/domain/generation';

/** Writes a literal into the given inputs of a copy of the prompt. */
export function withInputs(
  prompt: ApiPrompt,
  targets: ReadonlyArray<{ nodeId: string; inputName: string }>,
  value: unknown,
): ApiPrompt {
  const copy: ApiPrompt = { ...prompt };
  for (const { nodeId, inputName } of targets) {
    const node = copy[nodeId];
    if (node) copy[nodeId] = { ...node, inputs: { ...node.inputs, [inputName]: value } };
  }
  return copy;
}

/** Execution id → the node's title as the API prompt carries it (`_meta.title`), else its class. */
export function titlesOf(prompt: ApiPrompt): Record<string, string> {
  return Object.fromEntries(Object.entries(prompt).map(([id, node]) => [id, node._meta?.title ?? node.class_type]));
}

/** The text of a foreign job's first prompt encoder, so the queue can show what it makes. */
export function foreignPromptText(prompt: Record<string, unknown>): string {
  for (const node of Object.values(prompt)) {
    const inputs = (node as { inputs?: Record<string, unknown> } | undefined)?.inputs;
    for (const key of ['text', 'prompt', 'positive', 'text_g']) {
      const value = inputs?.[key];
      if (typeof value === 'string' && value.trim()) return value.slice(0, 300);
    }
  }
  return '';
}
