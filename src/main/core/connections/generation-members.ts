import type { ConnectionsSettings } from '@shared/domain/connection';
import { AppError } from '../lib/errors';

/**
 * The servers jobs are spread over (the farm): the default profile and every profile marked "Use
 * for generation", in the order of the profiles, each at most once.
 */
export function generationIds(settings: ConnectionsSettings): string[] {
  return settings.profiles
    .map((profile) => profile.id)
    .filter((id) => id === settings.activeId || settings.generation.includes(id));
}

/** Settings with "Use for generation" turned on or off for one profile (the default profile always takes jobs). */
export function withGeneration(settings: ConnectionsSettings, id: string, use: boolean): ConnectionsSettings {
  if (!use && settings.activeId === id)
    throw new AppError(
      'invalid_input',
      'The default connection always takes jobs. Make another connection the default first.',
    );
  const generation = use
    ? [...new Set([...settings.generation, id])]
    : settings.generation.filter((item) => item !== id);
  return { ...settings, generation };
}
