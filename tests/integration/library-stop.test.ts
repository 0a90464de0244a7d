import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { startTestCore, tempDir } from '../support/core';

test('a core stopped while its library is still scanning stops promptly', async () => {
  const data = tempDir('comfydesk-stop-');
  for (let index = 0; index < 300; index += 1) {
    mkdirSync(join(data.path, 'workflows', `f${index % 30}`), { recursive: true });
    writeFileSync(join(data.path, 'workflows', `f${index % 30}`, `${index}.json`), '{"nodes": [], "links": []}');
  }
  const started = await startTestCore({ dataDir: data.path });
  await started.stop();
  expect(started.core.library.roots()).toEqual([]);
  data.remove();
});
