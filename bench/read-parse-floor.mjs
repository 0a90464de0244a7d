// The floor `comfydesk scan` is measured against: one plain Node process that lists a folder and
// reads and parses every .json file in it with readFileSync + JSON.parse, the fastest known way to
// do the work no scan can skip. Usage: node bench/read-parse-floor.mjs DIR (prints the file count).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let count = 0;
for (const entry of readdirSync(process.argv[2], { withFileTypes: true, recursive: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.json') || entry.name.startsWith('.')) continue;
  JSON.parse(readFileSync(join(entry.parentPath, entry.name), 'utf8'));
  count += 1;
}
process.stdout.write(`${count}\n`);
