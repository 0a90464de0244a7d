import { join } from 'node:path';
import { silenceSqliteExperimentalWarning } from '../core/lib/quiet-warnings';

// Electron entry (out/main/index.js). electron-vite sets ELECTRON_RENDERER_URL while developing.
// The shell is loaded after the warning filter, since node:sqlite warns as soon as it is imported.
silenceSqliteExperimentalWarning();
const { startDesktop } = await import('./desktop');

void startDesktop({ outDir: join(import.meta.dirname, '..'), devUrl: process.env.ELECTRON_RENDERER_URL }).catch(
  (error: unknown) => {
    console.error('ComfyDesk failed to start:', error);
    process.exit(3);
  },
);
