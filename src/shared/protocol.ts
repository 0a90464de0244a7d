import { z } from 'zod';
import { SerializedError } from './contract/errors';

/**
 * Wire envelopes shared by both transports (Electron IPC and WebSocket). A discriminated union on
 * `kind`; WebSocket sends them as JSON text frames, IPC carries them on two channels. From the
 * server, a WebSocket frame holds one envelope, or a JSON array of envelopes to be read in order
 * (a burst of events gathered into one frame, possibly ending with a response).
 */
export const RequestEnvelope = z.object({
  kind: z.literal('request'),
  id: z.string().min(1).max(128),
  command: z.string().min(1).max(128),
  input: z.unknown(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

export const ResponseEnvelope = z.discriminatedUnion('ok', [
  z.object({ kind: z.literal('response'), id: z.string(), ok: z.literal(true), output: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.string(), ok: z.literal(false), error: SerializedError }),
]);
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>;

export const EventEnvelope = z.object({
  kind: z.literal('event'),
  event: z.string(),
  payload: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** What a client may receive: a response to one of its requests, or an event. */
export const ServerMessage = z.union([ResponseEnvelope, EventEnvelope]);
export type ServerMessage = z.infer<typeof ServerMessage>;

export { IPC_COMMAND_CHANNEL, IPC_EVENT_CHANNEL, WS_PATH, type ComfydeskBridge } from './bridge';
