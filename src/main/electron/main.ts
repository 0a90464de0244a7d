import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';
import { startDesktop } from './desktop';

silenceSqliteExperimentalWarning();

// Electron entry (out/main/index.js). electron-vite sets ELECTRON_RENDERER_URL while developing.
void startDesktop({ outDir: join(import.meta.dirname, '..'), devUrl: process.env.ELECTRON_RENDERER_URL }).catch((error: unknown) => {
  console.error('ComfyDesk failed to start:', error);
  process.exit(3);
});
