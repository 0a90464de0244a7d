import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const alias = { '@shared': resolve(import.meta.dirname, 'src/shared') };

export default defineConfig({
  resolve: { alias },
  test: {
    // A test that leaves a socket, watcher or child process behind is reported, not ignored.
    reporters: ['default', 'hanging-process'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          environment: 'node',
          // electron-store imports electron itself; inlining it lets the stand-in take that import too.
          server: { deps: { inline: ['electron-store'] } },
          // Explicit, so Playwright's *.spec.ts files never run here.
          include: ['tests/unit/**/*.test.ts'],
          exclude: ['tests/unit/renderer/**'],
          typecheck: { enabled: true, include: ['tests/unit/**/*.test-d.ts'], tsconfig: './tsconfig.node.json' },
        },
      },
      {
        resolve: { alias, conditions: ['browser'] },
        plugins: [svelte({ configFile: resolve(import.meta.dirname, 'svelte.config.js') })],
        test: {
          name: 'renderer',
          environment: 'jsdom',
          include: ['tests/unit/renderer/**/*.test.ts'],
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          environment: 'node',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/support/build-once.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // Speed targets are measured here (npm run bench), never asserted in tests.
          name: 'bench',
          environment: 'node',
          include: ['bench/**/*.bench.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          disableConsoleIntercept: true,
        },
      },
    ],
  },
});
