import type { utilityProcess as ElectronUtilityProcess } from 'electron';
import type { EngineExit, SpawnEngineProcess } from '../core/llm/process-engine';

/** The part of Electron's `utilityProcess` the engine needs (the stand-in provides it in tests). */
export type UtilityProcessModule = Pick<typeof ElectronUtilityProcess, 'fork'>;

/** The name the engine's process has in the system's task manager. */
export const ENGINE_SERVICE_NAME = 'ComfyDesk AI engine';

/**
 * The desktop app's engine process: out/main/llm-worker.js in an Electron utility process (a Node
 * environment of Electron's own, no extra runtime to ship). When llama.cpp aborts or the model runs
 * the machine out of memory, only this process ends; the window and the queue carry on.
 */
export function utilityEngineProcess(utilityProcess: UtilityProcessModule, workerPath: string): SpawnEngineProcess {
  return () => {
    const child = utilityProcess.fork(workerPath, [], { serviceName: ENGINE_SERVICE_NAME, stdio: 'inherit' });
    let exited = false;
    const exitListeners: Array<(exit: EngineExit) => void> = [];
    child.once('exit', (code) => {
      if (exited) return;
      exited = true;
      // Electron reports a code only; the hints know the shell's 128 + signal convention.
      for (const listener of exitListeners) listener({ code, signal: null });
    });
    return {
      send: (message) => {
        if (!exited) child.postMessage(message);
      },
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => exitListeners.push(listener),
      kill: () => void child.kill(),
    };
  };
}
