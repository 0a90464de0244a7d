import WebSocket from 'ws';

/** One frame as the transcripts record it: a JSON text message or a binary frame's event type. */
export type RecordedFrame =
  | { frame: 'text'; msg: { type: string; data: Record<string, unknown> } }
  | { frame: 'binary'; eventType: number; bytes: Buffer };

/**
 * A raw WebSocket client that records every frame — the way the transcripts were captured — so a
 * test can compare the test server (or a real ComfyUI) with them.
 */
export class SocketRecorder {
  readonly frames: RecordedFrame[] = [];
  readonly #socket: WebSocket;
  #waiters: Array<() => void> = [];

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.frames.push({ frame: 'binary', eventType: data.readUInt32BE(0), bytes: data });
      else
        this.frames.push({
          frame: 'text',
          msg: JSON.parse(data.toString('utf8')) as { type: string; data: Record<string, unknown> },
        });
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
  }

  /** Connects to `baseUrl`'s /ws (with `clientId` when given) and sends `featureFlags` first when given. */
  static async open(
    baseUrl: string,
    options: { clientId?: string; featureFlags?: Record<string, unknown> } = {},
  ): Promise<SocketRecorder> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/ws${options.clientId ? `?clientId=${encodeURIComponent(options.clientId)}` : ''}`;
    const socket = new WebSocket(url);
    const recorder = new SocketRecorder(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    if (options.featureFlags) socket.send(JSON.stringify({ type: 'feature_flags', data: options.featureFlags }));
    await recorder.waitFor((frame) => frame.frame === 'text' && frame.msg.type === 'status');
    if (options.featureFlags)
      await recorder.waitFor((frame) => frame.frame === 'text' && frame.msg.type === 'feature_flags');
    return recorder;
  }

  /** Resolves with the first recorded frame (from `from` on) that matches, waiting as long as needed up to the deadline. */
  async waitFor(
    match: (frame: RecordedFrame) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RecordedFrame> {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      const found = this.frames.slice(options.from ?? 0).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame in time; got ${this.frames.map(describeFrame).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `executing {node: null, prompt_id}`: the prompt finished and its history is written. */
  waitForFinish(promptId: string, timeoutMs?: number): Promise<RecordedFrame> {
    return this.waitFor(
      (frame) =>
        frame.frame === 'text' &&
        frame.msg.type === 'executing' &&
        frame.msg.data.node === null &&
        frame.msg.data.prompt_id === promptId,
      { timeoutMs },
    );
  }

  close(): void {
    this.#socket.terminate();
  }
}

/** A frame as a short label: the message type, or `binary:<event type>`. */
export function describeFrame(frame: RecordedFrame): string {
  return frame.frame === 'text' ? frame.msg.type : `binary:${frame.eventType}`;
}

/**
 * The shape of a JSON value with ids and times blanked: object keys (sorted) with their shapes,
 * arrays by their items, scalars by type. Two runs of the same scenario have equal shapes.
 */
export function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.map(shapeOf);
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((key) => [key, shapeOf((value as Record<string, unknown>)[key])]),
    );
  }
  return typeof value;
}
