#!/usr/bin/env node
// Launcher for the built CLI: checks the Node version and the build before loading it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `comfydesk: ComfyDesk needs Node 22.12 or newer, and this is Node ${process.versions.node}.\n` +
      'Run it through npm in the project folder ("npx comfydesk …"), which uses the Node 22 the project installs, or install Node 22 LTS.',
  );
  process.exit(1);
}

const entry = new URL('../out/main/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(
    `comfydesk: ComfyDesk is not built yet. Run "npm run build" in ${fileURLToPath(new URL('..', import.meta.url))}.`,
  );
  process.exit(1);
}
await import(entry.href);
