import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../../../../src/main/core/lib/logger';
import type { ToEngine } from '../../../../../src/main/core/llm/engine-protocol';
import { ProcessEngine, type EngineExit, type EngineProcess } from '../../../../../src/main/core/llm/process-engine';

/**
 * An engine process in memory: it records what it is sent and answers only what the test scripts,
 * so a test can play an engine that hangs, misbehaves or dies.
 */
class FakeEngineProcess implements EngineProcess {
  readonly received: ToEngine[] = [];
  isKilled = false;
  /** Answers requests as they arrive; by default a load or unload succeeds at once. */
  answer: (message: ToEngine, reply: (message: unknown) => void) => void = (message, reply) => {
    if (message.type === 'load' || message.type === 'unload') {
      const loadedPath = message.type === 'load' ? message.path : null;
      reply({ type: 'state', loadedPath, compute: 'cpu', threads: 1 });
      reply({ type: 'done', id: message.id });
    }
    if (message.type === 'dispose') this.exit({ code: 0, signal: null });
  };

  #onMessage: Array<(message: unknown) => void> = [];
  #onExit: Array<(exit: EngineExit) => void> = [];

  send(message: ToEngine): void {
    this.received.push(message);
    queueMicrotask(() => this.answer(message, (reply) => this.reply(reply)));
  }
  onMessage(listener: (message: unknown) => void): void {
    this.#onMessage.push(listener);
  }
  onExit(listener: (exit: EngineExit) => void): void {
    this.#onExit.push(listener);
  }
  kill(): void {
    this.isKilled = true;
    this.exit({ code: null, signal: 'SIGKILL' });
  }
  reply(message: unknown): void {
    for (const listener of this.#onMessage) listener(message);
  }
  exit(exit: EngineExit): void {
    const listeners = this.#onExit.splice(0);
    queueMicrotask(() => listeners.forEach((listener) => listener(exit)));
  }
}

function engineWith(options: { abortGraceMs?: number; exitGraceMs?: number } = {}) {
  const processes: FakeEngineProcess[] = [];
  const engine = new ProcessEngine({
    spawn: () => {
      const process = new FakeEngineProcess();
      processes.push(process);
      return process;
    },
    log: silentLogger,
    now: () => 1234,
    ...options,
  });
  return { engine, processes };
}

const never = () => new AbortController().signal;

describe('ProcessEngine', () => {
  test('the process starts on the first request, is told its options, and reports what is loaded', async () => {
    const { engine, processes } = engineWith();
    expect(processes).toHaveLength(0);
    await engine.load('/models/a.gguf', never());
    expect(processes).toHaveLength(1);
    expect(processes[0]!.received.map((message) => message.type)).toEqual(['init', 'load']);
    expect(engine).toMatchObject({ loadedPath: '/models/a.gguf', compute: 'cpu', threads: 1 });
    await engine.load('/models/a.gguf', never());
    expect(processes[0]!.received.filter((message) => message.type === 'load')).toHaveLength(1);
    await engine.unload();
    expect(engine.loadedPath).toBeUndefined();
  });

  test('an engine that does not honour an abort is ended after the grace time; the next request starts a new one', async () => {
    const { engine, processes } = engineWith({ abortGraceMs: 0 });
    await engine.load('/models/a.gguf', never());
    // A generation stuck in native code: it never answers, not even the abort.
    processes[0]!.answer = () => undefined;
    const controller = new AbortController();
    const generation = engine.generate({
      system: 's',
      user: 'u',
      maxTokens: 8,
      signal: controller.signal,
      onText: () => undefined,
    });
    controller.abort('cancelled');
    await expect(generation).rejects.toBe('cancelled');
    expect(processes[0]!.isKilled).toBe(true);
    expect(processes[0]!.received.at(-1)).toMatchObject({ type: 'abort', reason: 'cancelled' });
    // Ended on purpose: not a crash, so nothing waits for a restart.
    expect(engine.status).toEqual({ state: 'ok' });
    expect(engine.loadedPath).toBeUndefined();
    await engine.load('/models/a.gguf', never());
    expect(processes).toHaveLength(2);
  });

  test('text that arrives after a request was stopped is not passed on', async () => {
    const { engine, processes } = engineWith();
    await engine.load('/models/a.gguf', never());
    const texts: string[] = [];
    const controller = new AbortController();
    processes[0]!.answer = (message, reply) => {
      if (message.type === 'generate') reply({ type: 'text', id: message.id, text: 'first' });
      if (message.type === 'abort') {
        reply({ type: 'text', id: message.id, text: 'late' });
        reply({ type: 'failed', id: message.id, error: { message: 'aborted', abortReason: 'cancelled' } });
      }
    };
    const generation = engine.generate({
      system: 's',
      user: 'u',
      maxTokens: 8,
      signal: controller.signal,
      onText: (text) => {
        texts.push(text);
        controller.abort('cancelled');
      },
    });
    await expect(generation).rejects.toBe('cancelled');
    expect(texts).toEqual(['first']);
  });

  test('messages that are not the protocol are ignored, and an engine error keeps its code and words', async () => {
    const { engine, processes } = engineWith();
    await engine.load('/models/a.gguf', never());
    processes[0]!.answer = (message, reply) => {
      if (message.type !== 'load') return;
      reply({ type: 'done' });
      reply('hello');
      reply({
        type: 'failed',
        id: message.id,
        error: { code: 'llm_model_invalid', message: 'bad header', userMessage: 'b.gguf cannot be used: it is empty.' },
      });
    };
    await expect(engine.load('/models/b.gguf', never())).rejects.toMatchObject({
      code: 'llm_model_invalid',
      userMessage: 'b.gguf cannot be used: it is empty.',
    });
  });

  test('a process that dies fails what was in flight, says what it was doing, and refuses work until restarted', async () => {
    const { engine, processes } = engineWith();
    const stopped: unknown[] = [];
    engine.on('stopped', (status) => stopped.push(status));
    const load = engine.load('/models/huge.gguf', never());
    processes[0]!.answer = () => undefined;
    processes[0]!.exit({ code: null, signal: 'SIGSEGV' });
    await expect(load).rejects.toMatchObject({
      code: 'llm_engine_stopped',
      userMessage: expect.stringMatching(/while loading huge\.gguf: it crashed inside llama\.cpp/),
    });
    expect(engine.status).toMatchObject({ state: 'stopped', stoppedAt: 1234 });
    expect(stopped).toHaveLength(1);
    await expect(engine.load('/models/a.gguf', never())).rejects.toMatchObject({ code: 'llm_engine_stopped' });
    expect(processes).toHaveLength(1);
    await engine.restart();
    await engine.load('/models/a.gguf', never());
    expect(processes).toHaveLength(2);
  });

  test('dispose asks the process to exit, and ends it when it does not', async () => {
    const polite = engineWith();
    await polite.engine.load('/models/a.gguf', never());
    await polite.engine.dispose();
    expect(polite.processes[0]!.received.at(-1)).toMatchObject({ type: 'dispose' });
    expect(polite.processes[0]!.isKilled).toBe(false);

    const stubborn = engineWith({ exitGraceMs: 0 });
    await stubborn.engine.load('/models/a.gguf', never());
    stubborn.processes[0]!.answer = () => undefined;
    await stubborn.engine.dispose();
    expect(stubborn.processes[0]!.isKilled).toBe(true);
    expect(stubborn.engine.status).toEqual({ state: 'ok' });
  });
});
