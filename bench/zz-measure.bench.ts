import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { recordFromBytes, decodeWorkflowBytes } from '../src/main/core/workflows/scan-file';
import { analyzeWorkflow } from '../src/main/core/workflows/analyze';
test('m', () => {
  const root = '/tmp/libs-10k';
  const files = readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  const bufs = files.map((f) => readFileSync(f));
  const cpu = (label: string, fn: () => unknown) => {
    const c = process.cpuUsage();
    fn();
    const u = process.cpuUsage(c);
    console.log(label, ((u.user + u.system) / 1000).toFixed(0));
  };
  for (let r = 0; r < 3; r++) {
    let parsed: unknown[] = [];
    cpu('parse', () => (parsed = bufs.map((b) => JSON.parse(decodeWorkflowBytes(b)))));
    cpu('analyze', () => parsed.map((p) => analyzeWorkflow(p)));
    let recs: unknown[] = [];
    cpu(
      'record',
      () =>
        (recs = bufs.map((b, i) =>
          recordFromBytes(
            { root, path: files[i]!.slice(root.length + 1), sizeBytes: b.length, modifiedMs: 0, thumbnail: null },
            b,
          ),
        )),
    );
    cpu('stringify', () => JSON.stringify(recs));
  }
});
