import { describe, expect, test } from 'vitest';
import {
  BinaryFrameError,
  decodeBinaryFrame,
  encodeBinaryFrame,
} from '../../../../../src/main/core/comfy/binary-frames';
import { backoffDelayMs } from '../../../../../src/shared/backoff';
import { parseComfyMessage } from '../../../../../src/main/core/comfy/messages';

const JPEG = Buffer.from('ffd8ffe000104a464946', 'hex');

describe('binary frames', () => {
  test('type 1: image format then bytes, no ids', () => {
    expect(decodeBinaryFrame(encodeBinaryFrame({ kind: 'preview', format: 'jpeg', bytes: JPEG }))).toEqual({
      kind: 'preview',
      preview: { format: 'jpeg', mime: 'image/jpeg', bytes: JPEG },
    });
    const png = decodeBinaryFrame(encodeBinaryFrame({ kind: 'preview', format: 'png', bytes: Buffer.from('x') }));
    expect(png).toMatchObject({ preview: { format: 'png', mime: 'image/png' } });
  });

  test('type 4: metadata JSON with prompt and node ids, then the image', () => {
    const frame = encodeBinaryFrame({
      kind: 'preview',
      format: 'jpeg',
      bytes: JPEG,
      metadata: { node_id: '2', prompt_id: 'p1', display_node_id: '2', parent_node_id: null, real_node_id: '2' },
    });
    expect(decodeBinaryFrame(frame)).toEqual({
      kind: 'preview',
      preview: {
        format: 'jpeg',
        mime: 'image/jpeg',
        bytes: JPEG,
        metadata: {
          node_id: '2',
          prompt_id: 'p1',
          display_node_id: '2',
          parent_node_id: null,
          real_node_id: '2',
          image_type: 'image/jpeg',
        },
      },
    });
  });

  test('type 3: node id and UTF-8 text; the newer layout carries a prompt id first', () => {
    expect(decodeBinaryFrame(encodeBinaryFrame({ kind: 'text', nodeId: '12:5', text: 'größe: 40' }))).toEqual({
      kind: 'text',
      text: { nodeId: '12:5', text: 'größe: 40' },
    });
    const u32 = (value: number) => {
      const buffer = Buffer.alloc(4);
      buffer.writeUInt32BE(value);
      return buffer;
    };
    const newer = Buffer.concat([u32(3), u32(2), Buffer.from('p9'), u32(1), Buffer.from('7'), Buffer.from('done')]);
    expect(decodeBinaryFrame(newer, { textHasPromptId: true })).toEqual({
      kind: 'text',
      text: { promptId: 'p9', nodeId: '7', text: 'done' },
    });
  });

  test('unknown types are reported as unknown; truncated frames are errors, not crashes', () => {
    const u32 = Buffer.alloc(4);
    u32.writeUInt32BE(42);
    expect(decodeBinaryFrame(Buffer.concat([u32, Buffer.from('x')]))).toEqual({ kind: 'unknown', eventType: 42 });
    expect(() => decodeBinaryFrame(Buffer.from([0, 0]))).toThrow(BinaryFrameError);
    const badMeta = Buffer.alloc(8);
    badMeta.writeUInt32BE(4, 0);
    badMeta.writeUInt32BE(500, 4);
    expect(() => decodeBinaryFrame(badMeta)).toThrow(/longer than the frame/);
  });
});

describe('JSON messages', () => {
  test('known types parse into typed events; unknown types are ignored; malformed known types are invalid', () => {
    expect(parseComfyMessage('{"type":"executing","data":{"node":null,"prompt_id":"p"}}')).toEqual({
      ok: true,
      event: { type: 'executing', data: { node: null, prompt_id: 'p' } },
    });
    expect(parseComfyMessage('{"type":"executing","data":{"node":"11"}}')).toMatchObject({
      ok: true,
      event: { data: { node: '11' } },
    });
    expect(parseComfyMessage('{"type":"crystools.monitor","data":{"cpu":3}}')).toEqual({
      ok: false,
      reason: 'ignored',
      type: 'crystools.monitor',
    });
    expect(parseComfyMessage('{"type":"progress","data":{"value":"x"}}')).toMatchObject({
      ok: false,
      reason: 'invalid',
      type: 'progress',
    });
    expect(parseComfyMessage('not json')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  test('the ExecutionBlocked variant of execution_error (no timestamp) still parses', () => {
    const parsed = parseComfyMessage(
      JSON.stringify({
        type: 'execution_error',
        data: {
          prompt_id: 'p',
          node_id: '3',
          node_type: 'X',
          executed: [],
          exception_message: 'blocked',
          exception_type: 'ExecutionBlocked',
          traceback: [],
          current_inputs: [],
          current_outputs: [],
        },
      }),
    );
    expect(parsed).toMatchObject({ ok: true, event: { data: { exception_type: 'ExecutionBlocked' } } });
  });
});

describe('reconnect backoff', () => {
  test('grows exponentially with jitter in the upper half, capped at the maximum', () => {
    expect(backoffDelayMs(0, { initialDelayMs: 500, random: () => 0 })).toBe(250);
    expect(backoffDelayMs(0, { initialDelayMs: 500, random: () => 1 })).toBe(500);
    expect(backoffDelayMs(3, { initialDelayMs: 500, random: () => 1 })).toBe(4000);
    expect(backoffDelayMs(20, { initialDelayMs: 500, maxDelayMs: 15_000, random: () => 0.5 })).toBe(11_250);
  });
});
