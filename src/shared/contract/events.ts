import type { z } from 'zod';
import { appEvents } from './app';
import { connectionsEvents } from './connections';
import { jobsEvents } from './jobs';
import { llmEvents } from './llm';
import { podsEvents } from './pods';
import { snapshotsEvents } from './snapshots';
import { settingsEvents } from './settings';
import { transfersEvents } from './transfers';
import { workflowsEvents } from './workflows';

/**
 * THE event table: everything the core pushes to clients, gathered from each area's file.
 * Payloads are whole snapshots or versioned deltas, so a client that reconnects re-fetches state
 * instead of trusting it saw every event.
 */
export const events = {
  ...appEvents,
  ...settingsEvents,
  ...jobsEvents,
  ...workflowsEvents,
  ...connectionsEvents,
  ...llmEvents,
  ...podsEvents,
  ...snapshotsEvents,
  ...transfersEvents,
} as const satisfies Record<string, z.ZodType>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<N extends EventName> = z.output<Events[N]>;
export type EventMap = { [N in EventName]: EventPayload<N> };

export const eventNames = Object.keys(events) as EventName[];

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}
