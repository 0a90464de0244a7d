import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startComfyServer, type ComfyTestServer } from '../support/comfy-server';
import { SocketRecorder, describeFrame, shapeOf, type RecordedFrame } from '../support/comfy-server/recorder';
import { TRANSCRIPTS_DIR } from '../support/paths';

// The protocol test server must behave like the recorded real ComfyUI 0.3.64: each test runs a
// transcript's scenario against it and compares the sequence of message types and their shapes
// (ids, timestamps and file names aside) with what the real server sent.

type TranscriptFrame =
  { frame: 'text'; msg: { type: string; data: Record<string, unknown> } } | { frame: 'binary'; event_type: number };
interface Posted {
  request_json: Record<string, unknown>;
  response_json: Record<string, unknown> | null;
  status: number;
}

function transcript<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(TRANSCRIPTS_DIR, `${name}.json`), 'utf8')) as T;
}

function label(frame: TranscriptFrame | RecordedFrame): string {
  if (frame.frame === 'binary') return `binary:${'event_type' in frame ? frame.event_type : frame.eventType}`;
  return frame.msg.type;
}

/** A frame's comparable form: its label and the shape of its data (error details reduced to their kinds). */
function comparable(frame: TranscriptFrame | RecordedFrame): unknown {
  if (frame.frame === 'binary') return label(frame);
  const data = { ...frame.msg.data };
  if (frame.msg.type === 'execution_error') {
    data.traceback = 'list of frames';
    data.current_inputs = 'inputs';
  }
  return [frame.msg.type, shapeOf(data)];
}

let server: ComfyTestServer;
let socket: SocketRecorder;
const CLIENT = 'replay-client';

beforeAll(async () => {
  server = await startComfyServer();
  socket = await SocketRecorder.open(server.url, {
    clientId: CLIENT,
    featureFlags: { supports_preview_metadata: false },
  });
});

afterAll(async () => {
  socket.close();
  await server.stop();
});

async function post(body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/prompt`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Runs a transcript's prompt on our client's socket and returns the frames of that run. */
async function runLike(
  name: string,
  recorder = socket,
): Promise<{ frames: RecordedFrame[]; promptId: string; expected: TranscriptFrame[] }> {
  const t = transcript<{ post: Posted; ws: TranscriptFrame[] }>(name);
  const start = recorder.frames.length;
  const { json } = await post({ ...t.post.request_json, client_id: CLIENT });
  const promptId = String(json.prompt_id);
  const end = recorder.frames.indexOf(await recorder.waitForFinish(promptId));
  return { frames: dropStaleStatus(recorder.frames.slice(start, end + 1)), promptId, expected: t.ws };
}

/** The last `status` of an earlier run may arrive after it finished on another socket: start at this run's first queue change. */
function dropStaleStatus(frames: RecordedFrame[]): RecordedFrame[] {
  const first = frames.findIndex(
    (frame) =>
      !(
        frame.frame === 'text' &&
        frame.msg.type === 'status' &&
        (frame.msg.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0
      ),
  );
  return frames.slice(Math.max(first, 0));
}

describe('the protocol test server replays the recorded ComfyUI', () => {
  test('connecting: status with the sid first, then the feature_flags reply to the handshake (A)', async () => {
    const a = transcript<{ ws: TranscriptFrame[] }>('A_connect_feature_flags');
    const recorder = await SocketRecorder.open(server.url, {
      clientId: 'peer-a',
      featureFlags: { supports_preview_metadata: false },
    });
    expect(recorder.frames.map(comparable)).toEqual(a.ws.map(comparable));
    expect(recorder.frames[1]).toMatchObject({ msg: { data: a.ws[1]!.frame === 'text' ? a.ws[1]!.msg.data : {} } });
    recorder.close();
    const anonymous = await SocketRecorder.open(server.url);
    const sid = (anonymous.frames[0] as unknown as { msg: { data: { sid: string } } }).msg.data.sid;
    expect(sid).toMatch(/^[0-9a-f]{32}$/);
    anonymous.close();
  });

  test('a successful run, its cached re-run, a partially cached run and a run-time error follow the real sequences (B, C, C2, E)', async () => {
    for (const name of ['B_success', 'C_cached_rerun', 'C2_partially_cached', 'E_execution_error']) {
      const { frames, expected, promptId } = await runLike(name);
      expect(frames.map(comparable), name).toEqual(expected.map(comparable));
      const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
        string,
        Record<string, unknown>
      >;
      const recorded = transcript<{ history?: { response_json: Record<string, Record<string, unknown>> } }>(name)
        .history?.response_json;
      if (!recorded) continue; // C2 recorded the socket only
      const [recordedEntry] = Object.values(recorded);
      const entry = history[promptId]!;
      expect(Object.keys(entry).sort(), name).toEqual(Object.keys(recordedEntry!).sort());
      expect((entry.status as { status_str: string }).status_str).toBe(
        (recordedEntry!.status as { status_str: string }).status_str,
      );
      expect((entry.status as { messages: unknown[][] }).messages.map((message) => message[0])).toEqual(
        (recordedEntry!.status as { messages: unknown[][] }).messages.map((message) => message[0]),
      );
      expect(Object.keys(entry.outputs as object)).toEqual(Object.keys(recordedEntry!.outputs as object));
    }
  });

  test("validation errors answer 400 with ComfyUI's exact error and node_errors, and send nothing on the socket (D)", async () => {
    const d = transcript<Record<string, { post: Posted & { response_text?: string } }>>('D_validation_errors');
    for (const [name, scenario] of Object.entries(d)) {
      const before = socket.frames.length;
      const response = await fetch(`${server.url}/prompt`, {
        method: 'POST',
        body:
          name === 'body_not_json'
            ? 'this is not json'
            : JSON.stringify({ ...scenario.post.request_json, client_id: CLIENT }),
      });
      expect(response.status, name).toBe(scenario.post.status);
      if (name === 'body_not_json') {
        expect(await response.text()).toBe(scenario.post.response_text);
        continue;
      }
      const body = (await response.json()) as Record<string, unknown>;
      const strip = (value: unknown) =>
        JSON.parse(JSON.stringify(value, (key, item: unknown) => (key === 'traceback' ? 'frames' : item))) as unknown;
      expect(strip(body), name).toEqual(strip(scenario.post.response_json));
      expect(socket.frames.length, `${name} sent nothing on the socket`).toBe(before);
    }
  });

  test('interrupt lands at the next node boundary; a wrong id does nothing (G)', async () => {
    // Each node takes long enough that the interrupt request lands before the next node starts, even on a busy machine.
    server.setTiming({ nodeMs: 250 });
    const g = transcript<{ post: Posted; ws: TranscriptFrame[] }>('G_interrupt');
    const start = socket.frames.length;
    const { json } = await post({ ...g.post.request_json, client_id: CLIENT });
    const promptId = String(json.prompt_id);
    await socket.waitFor(
      (frame) => frame.frame === 'text' && frame.msg.type === 'executing' && frame.msg.data.node === '12',
      { from: start },
    );
    await fetch(`${server.url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: 'not-running-id' }) });
    await fetch(`${server.url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: promptId }) });
    const end = socket.frames.indexOf(await socket.waitForFinish(promptId));
    server.setTiming({ nodeMs: 0 });
    expect(socket.frames.slice(start, end + 1).map(comparable)).toEqual(g.ws.map(comparable));
  });

  test('interrupt mid-node stops a stepping node at its next step (U3)', async () => {
    const u3 = transcript<{ post: Posted; ws: TranscriptFrame[] }>('U3_interrupt_mid_node');
    const start = socket.frames.length;
    const { json } = await post({ ...u3.post.request_json, client_id: CLIENT });
    const promptId = String(json.prompt_id);
    await socket.waitFor(
      (frame) => frame.frame === 'text' && frame.msg.type === 'progress' && frame.msg.data.value === 5,
      { from: start },
    );
    await fetch(`${server.url}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: promptId }) });
    const end = socket.frames.indexOf(await socket.waitForFinish(promptId));
    expect(socket.frames.slice(start, end + 1).map(comparable)).toEqual(u3.ws.map(comparable));
  });

  test('progress with previews: type-4 frames before progress with metadata, type-1 after it without (U1, U2)', async () => {
    const meta = await SocketRecorder.open(server.url, {
      clientId: 'peer-meta',
      featureFlags: { supports_preview_metadata: true },
    });
    const u1 = transcript<{ post: Posted; ws: TranscriptFrame[] }>('U1_progress_and_preview_with_metadata');
    const start = meta.frames.length;
    const { json } = await post({ ...u1.post.request_json, client_id: 'peer-meta' });
    const end = meta.frames.indexOf(await meta.waitForFinish(String(json.prompt_id)));
    expect(meta.frames.slice(start, end + 1).map(comparable)).toEqual(u1.ws.map(comparable));
    meta.close();
    const { frames, expected } = await runLike('U2_progress_and_preview_legacy');
    expect(frames.map(comparable)).toEqual(expected.map(comparable));
  });

  test('without a client id only status, progress and previews reach other sockets (J, U4)', async () => {
    for (const [name, key] of [
      ['J_no_client_id', 'ws_of_a_client_that_did_not_submit'],
      ['U4_progress_without_client_id', 'ws_other_client'],
    ] as const) {
      const t = transcript<Record<string, unknown> & { post: Posted }>(name);
      const start = socket.frames.length;
      const { json } = await post({ prompt: t.post.request_json.prompt });
      await server.waitForIdle();
      await socket.waitFor(
        (frame) =>
          frame.frame === 'text' &&
          frame.msg.type === 'status' &&
          (frame.msg.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
        { from: start + 2 },
      );
      expect(socket.frames.slice(start).map(comparable), name).toEqual((t[key] as TranscriptFrame[]).map(comparable));
      const history = (await (await fetch(`${server.url}/history/${String(json.prompt_id)}`)).json()) as Record<
        string,
        { prompt: unknown[] }
      >;
      expect(history[String(json.prompt_id)]!.prompt[3]).toEqual({});
    }
  });

  test('a binary text frame is broadcast and PreviewAny returns text (S)', async () => {
    const { frames, expected, promptId } = await runLike('S_binary_text_frame_and_preview_any');
    expect(frames.map(comparable)).toEqual(expected.map(comparable));
    const text = frames.find((frame) => frame.frame === 'binary');
    expect(text?.frame === 'binary' && text.bytes.subarray(4).toString('latin1')).toContain(
      'width: 40, height: 30\n batch size: 2',
    );
    const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
      string,
      { outputs: Record<string, unknown> }
    >;
    expect(history[promptId]!.outputs['3']).toEqual({ text: ['40'] });
  });

  test('PreviewImage writes temp files that /view serves (K)', async () => {
    const { frames, expected, promptId } = await runLike('K_preview_image_temp');
    expect(frames.map(comparable)).toEqual(expected.map(comparable));
    const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
      string,
      { outputs: Record<string, { images: Array<{ filename: string; type: string }> }> }
    >;
    const image = history[promptId]!.outputs['2']!.images[0]!;
    expect(image.filename).toMatch(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/);
    const view = await fetch(`${server.url}/view?filename=${image.filename}&subfolder=&type=temp`);
    expect(view.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await view.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
  });

  test('queue: pending delete, a running id kept, global interrupt, deleted prompt never in history (H)', async () => {
    server.setTiming({ nodeMs: 60 });
    const h = transcript<{ running: Posted; pending: Posted }>('H_queue_delete_and_global_interrupt');
    const running = await post({ ...h.running.request_json, client_id: CLIENT });
    const pending = await post({ ...h.pending.request_json, client_id: CLIENT });
    const queue = (await (await fetch(`${server.url}/queue`)).json()) as {
      queue_running: unknown[][];
      queue_pending: unknown[][];
    };
    expect(queue.queue_running.map((item) => item[1])).toEqual([running.json.prompt_id]);
    expect(queue.queue_pending.map((item) => item[1])).toEqual([pending.json.prompt_id]);
    expect(
      (
        await fetch(`${server.url}/queue`, {
          method: 'POST',
          body: JSON.stringify({ delete: [running.json.prompt_id] }),
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await fetch(`${server.url}/queue`, {
          method: 'POST',
          body: JSON.stringify({ delete: [pending.json.prompt_id] }),
        })
      ).status,
    ).toBe(200);
    const after = (await (await fetch(`${server.url}/queue`)).json()) as {
      queue_running: unknown[][];
      queue_pending: unknown[][];
    };
    expect(after.queue_running.map((item) => item[1])).toEqual([running.json.prompt_id]);
    expect(after.queue_pending).toEqual([]);
    const interrupt = await fetch(`${server.url}/interrupt`, { method: 'POST' });
    expect(interrupt.headers.get('content-type')).toBe('application/octet-stream');
    await socket.waitForFinish(String(running.json.prompt_id));
    server.setTiming({ nodeMs: 0 });
    const history = (await (await fetch(`${server.url}/history/${String(running.json.prompt_id)}`)).json()) as Record<
      string,
      { status: { messages: unknown[][] } }
    >;
    expect(history[String(running.json.prompt_id)]!.status.messages.at(-1)![0]).toBe('execution_interrupted');
    expect(await (await fetch(`${server.url}/history/${String(pending.json.prompt_id)}`)).json()).toEqual({});
  });

  test('uploads: same bytes reuse the name, different bytes get "(1)", and LoadImage runs on it (I)', async () => {
    const upload = async (bytes: Buffer, overwrite = false) => {
      const form = new FormData();
      form.set('image', new Blob([bytes]), 'peer_upload.png');
      if (overwrite) form.set('overwrite', 'true');
      return (await (await fetch(`${server.url}/upload/image`, { method: 'POST', body: form })).json()) as {
        name: string;
      };
    };
    const i = transcript<{
      upload: Posted;
      upload_again_overwrite: Posted;
      upload_different_bytes_no_overwrite: Posted;
    }>('I_upload_and_loadimage');
    expect(await upload(Buffer.from('first'))).toEqual(i.upload.response_json);
    expect(await upload(Buffer.from('first'))).toEqual(i.upload_again_overwrite.response_json);
    expect(await upload(Buffer.from('second'))).toEqual(i.upload_different_bytes_no_overwrite.response_json);
    const { frames, expected } = await runLike('I_upload_and_loadimage');
    expect(frames.map(comparable)).toEqual(expected.map(comparable));
  });

  test('history list pagination and delete, queue clear (L)', async () => {
    const all = (await (await fetch(`${server.url}/history`)).json()) as Record<string, unknown>;
    const ids = Object.keys(all);
    const lastTwo = (await (await fetch(`${server.url}/history?max_items=2`)).json()) as Record<string, unknown>;
    expect(Object.keys(lastTwo)).toEqual(ids.slice(-2));
    const first = (await (await fetch(`${server.url}/history?max_items=1&offset=0`)).json()) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(ids.slice(0, 1));
    expect((await fetch(`${server.url}/history?max_items=x`)).status).toBe(500);
    await fetch(`${server.url}/history`, { method: 'POST', body: JSON.stringify({ delete: [ids.at(-1)] }) });
    expect(await (await fetch(`${server.url}/history/${ids.at(-1)!}`)).json()).toEqual({});
    expect((await fetch(`${server.url}/queue`, { method: 'POST', body: JSON.stringify({ clear: true }) })).status).toBe(
      200,
    );
  });

  test('client-chosen prompt ids overwrite history, front numbers are negative, an explicit number is kept (N)', async () => {
    const n = transcript<{ own_id_first: Posted; own_id_reused: Posted; front: Posted; number: Posted }>(
      'N_client_prompt_id_front_number',
    );
    const first = await post({ ...n.own_id_first.request_json, client_id: CLIENT });
    await socket.waitForFinish('my-own-id-ae9cae');
    const again = await post({ ...n.own_id_reused.request_json, client_id: CLIENT });
    await socket.waitForFinish('my-own-id-ae9cae');
    expect(first.json.prompt_id).toBe('my-own-id-ae9cae');
    expect(again.json.number).toBe(Number(first.json.number) + 1);
    const history = (await (await fetch(`${server.url}/history/my-own-id-ae9cae`)).json()) as Record<
      string,
      { prompt: unknown[]; outputs: Record<string, { images: Array<{ filename: string }> }> }
    >;
    expect(history['my-own-id-ae9cae']!.outputs['3']!.images[0]!.filename).toBe('peer_ownid_00002_.png');
    const front = await post({ ...n.front.request_json, client_id: CLIENT });
    expect(Number(front.json.number)).toBeLessThan(0);
    await socket.waitForFinish(String(front.json.prompt_id));
    const numbered = await post({ ...n.number.request_json, client_id: CLIENT });
    expect(numbered.json.number).toBe(7.5);
    await socket.waitForFinish(String(numbered.json.prompt_id));
  });

  test('misc endpoints answer like the recorded server (O)', async () => {
    const o = transcript<Record<string, { status: number; response_json: unknown }>>('O_misc_endpoints');
    for (const path of [
      '/system_stats',
      '/api/system_stats',
      '/object_info/EmptyImage',
      '/object_info/NoSuchNode',
      '/prompt',
      '/features',
      '/embeddings',
      '/extensions',
      '/models',
      '/models/checkpoints',
      '/api/queue',
      '/view?filename=nope.png&type=output',
      '/view?filename=../x.png&type=output',
      '/view?filename=x.png&type=bogus',
    ]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(o[path]!.status);
      if (response.status !== 200) continue;
      const body = await response.json();
      const withoutArgv = (stats: unknown) => ({
        ...(stats as Record<string, unknown>),
        system: { ...(stats as { system: Record<string, unknown> }).system, argv: 'launch flags' },
      });
      if (path.endsWith('system_stats'))
        expect(shapeOf(withoutArgv(body)), path).toEqual(shapeOf(withoutArgv(o[path]!.response_json)));
      else expect(body, path).toEqual(o[path]!.response_json);
    }
  });

  test('reconnecting with the same client id mid-run: status with the sid, then executing without a prompt id (M)', async () => {
    const m = transcript<{ after_reconnect: TranscriptFrame[] }>('M_reconnect_same_client_id');
    server.setTiming({ stepMs: 30 });
    const reconnecting = await SocketRecorder.open(server.url, { clientId: 'peer-m' });
    const { json } = await post({
      prompt: {
        1: { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 1 } },
        2: { class_type: 'PeerSlowSteps', inputs: { image: ['1', 0], steps: 20, step_ms: 30, preview: false } },
        3: { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'peer_m' } },
      },
      client_id: 'peer-m',
    });
    await reconnecting.waitFor(
      (frame) => frame.frame === 'text' && frame.msg.type === 'executing' && frame.msg.data.node === '2',
    );
    reconnecting.close();
    const again = await SocketRecorder.open(server.url, { clientId: 'peer-m' });
    expect(again.frames.slice(0, 2).map(comparable)).toEqual(m.after_reconnect.slice(0, 2).map(comparable));
    expect(again.frames[1]).toMatchObject({ msg: { type: 'executing', data: { node: '2' } } });
    await again.waitForFinish(String(json.prompt_id));
    server.setTiming({ stepMs: undefined });
    again.close();
  });

  test('an interrupt while idle does nothing to the next run (Q), and two prompts run one after the other (R)', async () => {
    await fetch(`${server.url}/interrupt`, { method: 'POST', body: '{}' });
    const q = await runLike('Q_interrupt_while_idle_then_run');
    expect(q.frames.map(comparable)).toEqual(q.expected.map(comparable));
    const r = transcript<{ a: Posted; b: Posted; ws: TranscriptFrame[] }>('R_two_prompts_back_to_back');
    server.setTiming({ nodeMs: 20 });
    const start = socket.frames.length;
    await post({ ...r.a.request_json, client_id: CLIENT });
    const b = await post({ ...r.b.request_json, client_id: CLIENT });
    const end = socket.frames.indexOf(await socket.waitForFinish(String(b.json.prompt_id)));
    server.setTiming({ nodeMs: 0 });
    const withoutStatus = (frames: Array<TranscriptFrame | RecordedFrame>) =>
      frames.filter((frame) => label(frame) !== 'status').map(comparable);
    expect(withoutStatus(socket.frames.slice(start, end + 1))).toEqual(withoutStatus(r.ws));
    expect(
      socket.frames
        .slice(start, end + 1)
        .map(describeFrame)
        .filter((type) => type === 'status'),
    ).toHaveLength(r.ws.filter((frame) => label(frame) === 'status').length);
  });
});
