import { z } from 'zod';
import { Notice } from '../domain/app';
import { Settings } from '../domain/settings';

/**
 * THE event table: everything the core pushes to clients. Payloads are whole snapshots or
 * versioned deltas, so a client that reconnects re-fetches state instead of trusting it saw
 * every event.
 */
export const events = {
  'settings.changed': Settings,
  'app.notice': Notice,
} as const satisfies Record<string, z.ZodType>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<N extends EventName> = z.output<Events[N]>;
export type EventMap = { [N in EventName]: EventPayload<N> };

export const eventNames = Object.keys(events) as EventName[];

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}
