import type { WorkflowCard } from '@shared/domain/workflow';

/**
 * Which workflow an output goes into with "use as input": the chosen one when its form has an image
 * input, else the best image-to-image workflow of the library (ready ones first, then by name).
 * Undefined when the library has none that takes an image.
 */
export function inputWorkflowFor(
  chosen: { id: string; hasImageInput: boolean } | undefined,
  cards: Iterable<WorkflowCard>,
): string | undefined {
  if (chosen?.hasImageInput) return chosen.id;
  const takesImage = [...cards].filter((card) => !card.error && card.inputTypes.includes('image'));
  const rank = (card: WorkflowCard) =>
    (card.type === 'i2i' ? 0 : card.type === 'inpaint' || card.type === 'upscale' ? 1 : 2) * 2 +
    (card.compat.status === 'ready' ? 0 : 1);
  return takesImage.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))[0]?.id;
}
