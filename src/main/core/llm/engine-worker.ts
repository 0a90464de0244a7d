import { AppError } from '../lib/errors';
import { createLogger, type LogFields, type LogRecord } from '../lib/logger';
import { EngineOptions, ToEngine, type EngineError, type FromEngine } from './engine-protocol';
import { LocalEngine } from './local-engine';

/**
 * The engine's own process (out/main/llm-worker.js): node-llama-cpp runs here, answering
 * ProcessEngine's requests one at a time, so that a native abort in llama.cpp or a model that
 * exhausts memory ends this process and not ComfyDesk. It runs as an Electron utility process in the
 * desktop app (messages on `process.parentPort`) and as a Node child process in serve mode and the
 * CLI (messages on the IPC channel).
 */

interface Port {
  post(message: FromEngine): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** Electron's port of a utility process; a property of `process` there, absent in plain Node. */
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

function connect(): Port {
  const parentPort = (process as NodeJS.Process & { parentPort?: ParentPort }).parentPort;
  if (parentPort)
    return {
      post: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
    };
  const send = process.send?.bind(process);
  if (!send)
    throw new Error('llm-worker runs as a child process with an IPC channel or as an Electron utility process');
  // The main process is gone (crashed or killed): nothing is left to answer to.
  process.on('disconnect', () => process.exit(0));
  return { post: (message) => void send(message), onMessage: (listener) => process.on('message', listener) };
}

/** Log fields as they can cross the channel: errors become their text. */
function portable(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [
      key,
      value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : value,
    ]),
  );
}

function describeError(error: unknown, signal: AbortSignal): EngineError {
  if (signal.aborted) return { message: 'aborted', abortReason: String(signal.reason) };
  if (error instanceof AppError)
    return { code: error.code, message: error.message, userMessage: error.userMessage, details: error.details };
  return { message: error instanceof Error ? error.message : String(error) };
}

const port = connect();
const log = createLogger(
  (record: LogRecord) =>
    port.post({ type: 'log', level: record.level, message: record.message, fields: portable(record.fields) }),
  { level: 'debug', scope: 'engine' },
);
let engine = new LocalEngine({ log });
const controllers = new Map<number, AbortController>();
let chain: Promise<void> = Promise.resolve();

/** The answer to a request, after the state it left: the caller sees what is loaded when its request ends. */
function answer(message: FromEngine): void {
  port.post({ type: 'state', loadedPath: engine.loadedPath ?? null, compute: engine.compute, threads: engine.threads });
  port.post(message);
}

port.onMessage((raw) => {
  const parsed = ToEngine.safeParse(raw);
  if (!parsed.success) {
    log.warn('ignored an invalid message', { issues: parsed.error.issues.length });
    return;
  }
  const message = parsed.data;
  if (message.type === 'init') {
    engine = new LocalEngine({ ...EngineOptions.parse(message.options), log });
    return;
  }
  if (message.type === 'abort') {
    controllers.get(message.id)?.abort(message.reason);
    return;
  }
  const controller = new AbortController();
  controllers.set(message.id, controller);
  const { signal } = controller;
  // One request at a time, as LocalEngine expects; an abort reaches a waiting one through its signal.
  chain = chain.then(async () => {
    try {
      signal.throwIfAborted();
      switch (message.type) {
        case 'load':
          await engine.load(message.path, signal);
          answer({ type: 'done', id: message.id });
          break;
        case 'generate': {
          const result = await engine.generate({
            system: message.system,
            user: message.user,
            maxTokens: message.maxTokens,
            signal,
            onText: (text) => port.post({ type: 'text', id: message.id, text }),
          });
          answer({ type: 'done', id: message.id, result });
          break;
        }
        case 'unload':
          await engine.unload();
          answer({ type: 'done', id: message.id });
          break;
        case 'dispose':
          await engine.dispose();
          process.exit(0);
      }
    } catch (error) {
      if (!signal.aborted && !(error instanceof AppError)) log.error('engine request failed', { error });
      answer({ type: 'failed', id: message.id, error: describeError(error, signal) });
    } finally {
      controllers.delete(message.id);
    }
  });
});
