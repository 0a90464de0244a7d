import { homedir } from 'node:os';
import { join } from 'node:path';

/** Folders ComfyDesk owns. Everything derives from one data folder so tests can point it anywhere. */
export interface Paths {
  dataDir: string;
  /** Default workflow root, seeded with samples on first start. */
  workflowsDir: string;
  /** Downloaded generation outputs. */
  outputsDir: string;
  /** GGUF models for prompt enhancement. */
  llmModelsDir: string;
  logsDir: string;
}

export const APP_NAME = 'ComfyDesk';

export function resolvePaths(dataDir: string): Paths {
  return {
    dataDir,
    workflowsDir: join(dataDir, 'workflows'),
    outputsDir: join(dataDir, 'outputs'),
    llmModelsDir: join(dataDir, 'models', 'llm'),
    logsDir: join(dataDir, 'logs'),
  };
}

/**
 * The data folder when nothing overrides it: the same folder Electron uses as `userData` for an
 * app named ComfyDesk, so the desktop app, serve mode and the CLI share settings and history.
 * `COMFYDESK_HOME` overrides it.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.COMFYDESK_HOME) return env.COMFYDESK_HOME;
  const home = homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', APP_NAME);
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), APP_NAME);
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), APP_NAME);
}
