import { parentPort } from 'node:worker_threads';
import { scanFilesSync } from '../core/workflows/scan-root';
import type { ScanBatch, ScanBatchResult } from './scan-pool';

// A worker thread of `comfydesk scan` (out/main/scan-worker.js): reads, parses and analyses the
// batches it is sent, and answers with their records, or their JSON text when the command prints JSON
// (so the main thread does not serialise those records a second time).
const port = parentPort;
if (!port) throw new Error('scan-worker runs as a worker thread');
port.on('message', (batch: ScanBatch) => {
  const records = scanFilesSync(batch.root, batch.files);
  const result: ScanBatchResult = batch.asJson
    ? { index: batch.index, json: records.map((record) => JSON.stringify(record)).join(',') }
    : { index: batch.index, records };
  port.postMessage(result);
});
