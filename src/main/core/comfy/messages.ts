import { z } from 'zod';
import type { PreviewFrame, TextFrame } from './binary-frames';

// ComfyUI's WebSocket JSON messages (protocol doc §3.3), with ComfyUI's own field names. Parsed
// leniently (newer servers add fields) but the fields a client relies on are checked.

const NodeId = z.string();
const PromptId = z.string();
const Timestamp = z.number();

/** `status`: the queue length, and on connect the socket's `sid`. */
export const StatusData = z
  .object({
    status: z.object({ exec_info: z.object({ queue_remaining: z.number() }).loose() }).loose(),
    sid: z.string().optional(),
  })
  .loose();

const NodeProgress = z
  .object({
    value: z.number(),
    max: z.number(),
    state: z.string(),
    node_id: NodeId,
    prompt_id: PromptId,
    display_node_id: z.string().nullable().optional(),
    parent_node_id: z.string().nullable().optional(),
    real_node_id: z.string().nullable().optional(),
  })
  .loose();

/** Schemas of every JSON message type a client acts on, keyed by `type`. */
export const COMFY_MESSAGE_SCHEMAS = {
  status: StatusData,
  feature_flags: z.record(z.string(), z.unknown()),
  execution_start: z.object({ prompt_id: PromptId, timestamp: Timestamp.optional() }).loose(),
  execution_cached: z.object({ nodes: z.array(NodeId), prompt_id: PromptId, timestamp: Timestamp.optional() }).loose(),
  /** `node: null` with a prompt id = that prompt finished; without prompt_id = a reconnect replay (§3.6). */
  executing: z
    .object({ node: NodeId.nullable(), display_node: z.string().nullable().optional(), prompt_id: PromptId.optional() })
    .loose(),
  progress: z
    .object({
      value: z.number(),
      max: z.number(),
      prompt_id: PromptId.nullable().optional(),
      node: NodeId.nullable().optional(),
    })
    .loose(),
  progress_state: z.object({ prompt_id: PromptId, nodes: z.record(z.string(), NodeProgress) }).loose(),
  executed: z
    .object({
      node: NodeId,
      display_node: z.string().nullable().optional(),
      output: z.record(z.string(), z.unknown()).nullable(),
      prompt_id: PromptId,
      merge: z.boolean().optional(),
    })
    .loose(),
  execution_success: z.object({ prompt_id: PromptId, timestamp: Timestamp.optional() }).loose(),
  execution_error: z
    .object({
      prompt_id: PromptId,
      node_id: NodeId,
      node_type: z.string(),
      executed: z.array(NodeId).default([]),
      exception_message: z.string(),
      exception_type: z.string(),
      traceback: z.array(z.string()).default([]),
      current_inputs: z.unknown().optional(),
      current_outputs: z.unknown().optional(),
      /** Absent for the non-fatal "ExecutionBlocked" variant (the prompt goes on). */
      timestamp: Timestamp.optional(),
    })
    .loose(),
  execution_interrupted: z
    .object({
      prompt_id: PromptId,
      node_id: NodeId,
      node_type: z.string(),
      executed: z.array(NodeId).default([]),
      timestamp: Timestamp.optional(),
    })
    .loose(),
} as const;

type Schemas = typeof COMFY_MESSAGE_SCHEMAS;
/** Every JSON message type the client parses. */
export type ComfyMessageType = keyof Schemas;

/** A parsed JSON message: `{ type, data }` with `data` typed by `type`. */
export type ComfyJsonEvent = { [K in ComfyMessageType]: { type: K; data: z.output<Schemas[K]> } }[ComfyMessageType];

/** Everything the socket delivers: JSON messages plus decoded binary frames. */
export type ComfyEvent = ComfyJsonEvent | { type: 'preview'; data: PreviewFrame } | { type: 'text'; data: TextFrame };

/** True for message types with a schema (the rest are ignored). */
export function isKnownMessageType(type: string): type is ComfyMessageType {
  return Object.hasOwn(COMFY_MESSAGE_SCHEMAS, type);
}

/**
 * Parses one JSON text frame. Unknown types (custom nodes, newer servers, `logs`) come back as
 * `ignored`; a known type with a malformed body is `invalid` with the reason.
 */
export function parseComfyMessage(
  text: string,
): { ok: true; event: ComfyJsonEvent } | { ok: false; reason: 'ignored' | 'invalid'; type?: string; problem?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid', problem: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string')
    return { ok: false, reason: 'invalid', problem: 'no type' };
  const { type, data } = raw as { type: string; data?: unknown };
  if (!isKnownMessageType(type)) return { ok: false, reason: 'ignored', type };
  const parsed = COMFY_MESSAGE_SCHEMAS[type].safeParse(data ?? {});
  if (!parsed.success)
    return {
      ok: false,
      reason: 'invalid',
      type,
      problem: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
    };
  return { ok: true, event: { type, data: parsed.data } as ComfyJsonEvent };
}

// ---- REST shapes (protocol doc §2) ----

/** One validation error of a node (`node_errors[id].errors[]`). */
export const NodeValidationError = z
  .object({
    type: z.string(),
    message: z.string(),
    details: z.string().default(''),
    extra_info: z.record(z.string(), z.unknown()).default({}),
  })
  .loose();
export type NodeValidationError = z.infer<typeof NodeValidationError>;

/** `node_errors`: per node id, its validation errors and the outputs they block. */
export const NodeErrors = z.record(
  z.string(),
  z
    .object({
      errors: z.array(NodeValidationError),
      dependent_outputs: z.array(z.string()).default([]),
      class_type: z.string(),
    })
    .loose(),
);
export type NodeErrors = z.infer<typeof NodeErrors>;

/** POST /prompt 200: the prompt id, its number, and non-fatal node_errors. */
export const PromptAccepted = z
  .object({ prompt_id: z.string(), number: z.number(), node_errors: NodeErrors.default({}) })
  .loose();

/** POST /prompt 400: ComfyUI's error and node_errors. */
export const PromptRejected = z
  .object({
    error: z.union([
      z
        .object({
          type: z.string(),
          message: z.string(),
          details: z.string().default(''),
          extra_info: z.record(z.string(), z.unknown()).default({}),
        })
        .loose(),
      z.string(),
    ]),
    node_errors: NodeErrors.default({}),
  })
  .loose();

/** A queue item: `[number, prompt_id, prompt, extra_data, outputs_to_execute]` (newer servers may append more). */
export const QueueTuple = z
  .tuple([
    z.number(),
    z.string(),
    z.record(z.string(), z.unknown()),
    z.record(z.string(), z.unknown()),
    z.array(z.string()),
  ])
  .rest(z.unknown());

/** GET /queue. */
export const QueueResponse = z
  .object({ queue_running: z.array(QueueTuple), queue_pending: z.array(QueueTuple) })
  .loose();

/** One GET /history entry (protocol doc §4.3). */
export const HistoryEntry = z
  .object({
    prompt: QueueTuple,
    outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    status: z
      .object({
        status_str: z.string(),
        completed: z.boolean(),
        messages: z.array(z.tuple([z.string(), z.record(z.string(), z.unknown())]).rest(z.unknown())).default([]),
      })
      .loose()
      .nullable()
      .optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** GET /history and /history/{id}: entries by prompt id. */
export const HistoryResponse = z.record(z.string(), HistoryEntry);

/** GET /system_stats: version, OS and devices. */
export const SystemStats = z
  .object({
    system: z
      .object({
        os: z.string().optional(),
        comfyui_version: z.string().optional(),
        python_version: z.string().optional(),
        pytorch_version: z.string().optional(),
        argv: z.array(z.string()).optional(),
      })
      .loose(),
    devices: z
      .array(
        z
          .object({
            name: z.string(),
            type: z.string().optional(),
            index: z.number().nullable().optional(),
            vram_total: z.number().optional(),
            vram_free: z.number().optional(),
          })
          .loose(),
      )
      .default([]),
  })
  .loose();
export type SystemStats = z.infer<typeof SystemStats>;

/** POST /upload/image|mask: the name ComfyUI stored the file under. */
export const UploadResult = z
  .object({ name: z.string(), subfolder: z.string().default(''), type: z.string().default('input') })
  .loose();
export type UploadResult = z.infer<typeof UploadResult>;

/** POST /userdata/{file}?full_info=true: the stored file, relative to the user folder (times in seconds, newer servers ms). */
export const UserDataFile = z.object({ path: z.string(), size: z.number(), modified: z.number() }).loose();
export type UserDataFile = z.infer<typeof UserDataFile>;
