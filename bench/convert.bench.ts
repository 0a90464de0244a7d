import { readFileSync, statSync } from 'node:fs';
import { test } from 'vitest';
import { convertWorkflow } from '../src/main/core/generation/convert/convert-workflow';
import { isApiPrompt, isUiWorkflow } from '../src/main/core/generation/convert/workflow-format';
import { detectParameters } from '../src/main/core/generation/parameters/detect-parameters';
import { corpusName, filesUnder, recordedObjectInfo } from '../tests/support/corpus';
import { CORPUS_DIR } from '../tests/support/paths';
import { ms, percentile, printTable } from './table';

const RUNS_PER_WORKFLOW = 5;
const RUNS_LARGEST = 50;

function median(values: number[]): number {
  return percentile(values, 50);
}

/** Times `body` `runs` times and returns each duration in ms. */
function time(runs: number, body: () => void): number[] {
  const samples: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const start = performance.now();
    body();
    samples.push(performance.now() - start);
  }
  return samples;
}

test('workflow conversion and parameter detection over the corpus', () => {
  if (!CORPUS_DIR) {
    printTable('Conversion: corpus not found (set COMFYDESK_CORPUS_DIR)', [{ metric: 'skipped', value: '-' }]);
    return;
  }
  const objectInfo = recordedObjectInfo();
  // Parsing JSON is not conversion: every file is read and parsed before timing starts.
  const workflows = filesUnder(CORPUS_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => ({ file, size: statSync(file).size, raw: JSON.parse(readFileSync(file, 'utf8')) as unknown }))
    .filter((entry) => isUiWorkflow(entry.raw) || isApiPrompt(entry.raw));
  const options = { objectInfo, random: () => 0.5, now: () => new Date(2025, 0, 1) };
  for (const entry of workflows) convertWorkflow(entry.raw, options);

  const conversion = workflows.map((entry) =>
    median(time(RUNS_PER_WORKFLOW, () => convertWorkflow(entry.raw, options))),
  );
  const conversions = workflows.map((entry) => convertWorkflow(entry.raw, options));
  const detection = conversions.map((result) =>
    median(time(RUNS_PER_WORKFLOW, () => detectParameters(result, objectInfo))),
  );
  printTable(
    `Conversion: one corpus workflow → API prompt (${workflows.length} files, median of ${RUNS_PER_WORKFLOW} runs each)`,
    [
      { metric: 'p50', value: ms(percentile(conversion, 50)) },
      { metric: 'p95', value: ms(percentile(conversion, 95)) },
      { metric: 'max', value: ms(Math.max(...conversion)) },
      { metric: 'all files once', value: ms(conversion.reduce((sum, value) => sum + value, 0)) },
    ],
  );
  printTable(`Parameter detection on the converted prompt (${workflows.length} files)`, [
    { metric: 'p50', value: ms(percentile(detection, 50)) },
    { metric: 'p95', value: ms(percentile(detection, 95)) },
    { metric: 'max', value: ms(Math.max(...detection)) },
  ]);

  const largest = workflows.reduce((biggest, entry) => (entry.size > biggest.size ? entry : biggest));
  const largestSamples = time(RUNS_LARGEST, () => detectParameters(convertWorkflow(largest.raw, options), objectInfo));
  printTable(
    `Largest corpus file: ${corpusName(largest.file)} (${(largest.size / 1024).toFixed(0)} kB), convert + detect, ${RUNS_LARGEST} runs`,
    [
      { metric: 'p50', value: ms(percentile(largestSamples, 50)) },
      { metric: 'p95', value: ms(percentile(largestSamples, 95)) },
    ],
  );
});
