import { z } from 'zod';

/** Binary WebSocket event types (protocol doc §3.5). */
export const BinaryEventType = { previewImage: 1, text: 3, previewImageWithMetadata: 4 } as const;

/** The JSON header of a type-4 preview frame. */
export const PreviewMetadata = z
  .object({
    node_id: z.string(),
    prompt_id: z.string(),
    display_node_id: z.string().nullable().optional(),
    parent_node_id: z.string().nullable().optional(),
    real_node_id: z.string().nullable().optional(),
    image_type: z.string(),
  })
  .loose();
export type PreviewMetadata = z.infer<typeof PreviewMetadata>;

/** A live preview image: format, MIME type, the encoded bytes, and (type 4 only) which prompt and node it belongs to. */
export interface PreviewFrame {
  format: 'jpeg' | 'png';
  mime: 'image/jpeg' | 'image/png';
  bytes: Buffer;
  /** Present for type-4 frames; type-1 frames carry no ids (attribute them to the last `progress`). */
  metadata?: PreviewMetadata;
}

/** A progress text frame (type 3), e.g. "width: 40, height: 30". Baseline servers broadcast it without a prompt id. */
export interface TextFrame {
  nodeId: string;
  text: string;
  promptId?: string;
}

/** A decoded binary frame: a preview, a text frame, or a type this client does not use. */
export type BinaryFrame =
  | { kind: 'preview'; preview: PreviewFrame }
  | { kind: 'text'; text: TextFrame }
  | { kind: 'unknown'; eventType: number };

/** Why a frame could not be decoded (a truncated or malformed frame; never thrown past the socket). */
export class BinaryFrameError extends Error {
  override readonly name = 'BinaryFrameError';
}

/**
 * Decodes one binary frame: a u32 big-endian event type, then its payload. Unknown types come back
 * as `unknown` so the caller can ignore them; malformed known types throw BinaryFrameError.
 * `textHasPromptId` selects the newer text layout, used only when both sides negotiated
 * `supports_progress_text_metadata`.
 */
export function decodeBinaryFrame(data: Buffer, options: { textHasPromptId?: boolean } = {}): BinaryFrame {
  if (data.length < 4) throw new BinaryFrameError(`binary frame of ${data.length} bytes has no event type`);
  const eventType = data.readUInt32BE(0);
  const payload = data.subarray(4);
  switch (eventType) {
    case BinaryEventType.previewImage: {
      if (payload.length < 4) throw new BinaryFrameError('preview frame without an image format');
      const format = payload.readUInt32BE(0) === 2 ? 'png' : 'jpeg';
      return {
        kind: 'preview',
        preview: {
          format,
          mime: format === 'png' ? 'image/png' : 'image/jpeg',
          bytes: Buffer.from(payload.subarray(4)),
        },
      };
    }
    case BinaryEventType.previewImageWithMetadata: {
      if (payload.length < 4) throw new BinaryFrameError('preview frame without a metadata length');
      const length = payload.readUInt32BE(0);
      if (payload.length < 4 + length)
        throw new BinaryFrameError(`preview metadata of ${length} bytes is longer than the frame`);
      let json: unknown;
      try {
        json = JSON.parse(payload.subarray(4, 4 + length).toString('utf8'));
      } catch (error) {
        throw new BinaryFrameError(`preview metadata is not JSON: ${String(error)}`);
      }
      const metadata = PreviewMetadata.safeParse(json);
      if (!metadata.success) throw new BinaryFrameError('preview metadata lacks node_id, prompt_id or image_type');
      const format = metadata.data.image_type === 'image/png' ? 'png' : 'jpeg';
      return {
        kind: 'preview',
        preview: {
          format,
          mime: format === 'png' ? 'image/png' : 'image/jpeg',
          bytes: Buffer.from(payload.subarray(4 + length)),
          metadata: metadata.data,
        },
      };
    }
    case BinaryEventType.text: {
      let offset = 0;
      const readString = (): string => {
        if (payload.length < offset + 4) throw new BinaryFrameError('text frame is truncated');
        const length = payload.readUInt32BE(offset);
        if (payload.length < offset + 4 + length) throw new BinaryFrameError('text frame is truncated');
        const value = payload.subarray(offset + 4, offset + 4 + length).toString('utf8');
        offset += 4 + length;
        return value;
      };
      const promptId = options.textHasPromptId ? readString() : undefined;
      const nodeId = readString();
      const text = payload.subarray(offset).toString('utf8');
      return { kind: 'text', text: promptId === undefined ? { nodeId, text } : { nodeId, text, promptId } };
    }
    default:
      return { kind: 'unknown', eventType };
  }
}

/** Encodes a frame the way ComfyUI does (the test server and tests use it). */
export function encodeBinaryFrame(
  frame:
    | { kind: 'preview'; format: 'jpeg' | 'png'; bytes: Buffer; metadata?: Record<string, unknown> }
    | { kind: 'text'; nodeId: string; text: string },
): Buffer {
  const u32 = (value: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    return buffer;
  };
  if (frame.kind === 'text') {
    const node = Buffer.from(frame.nodeId, 'utf8');
    return Buffer.concat([u32(BinaryEventType.text), u32(node.length), node, Buffer.from(frame.text, 'utf8')]);
  }
  if (frame.metadata) {
    const json = Buffer.from(
      JSON.stringify({ ...frame.metadata, image_type: frame.format === 'png' ? 'image/png' : 'image/jpeg' }),
      'utf8',
    );
    return Buffer.concat([u32(BinaryEventType.previewImageWithMetadata), u32(json.length), json, frame.bytes]);
  }
  return Buffer.concat([u32(BinaryEventType.previewImage), u32(frame.format === 'png' ? 2 : 1), frame.bytes]);
}
