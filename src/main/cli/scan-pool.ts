import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { scanFilesSync, type PendingFile } from '../core/workflows/scan-root';

/** Files per batch handed to a thread: small enough to balance the threads, large enough that messages are few. */
const BATCH_FILES = 128;
/** Below this many files a worker thread costs more to start than it saves. */
const MIN_FILES_FOR_WORKERS = 512;
/** Batches a worker has at once. */
const IN_FLIGHT = 2;
/** Worker threads at most, besides the main thread. */
const MAX_WORKERS = 3;

/** Files of one root to read in one go. */
export interface ScanBatch {
  index: number;
  root: string;
  files: PendingFile[];
  /** Answer with JSON text instead of records. */
  asJson: boolean;
}

/** A batch's records, or their JSON (each record serialised, joined by commas; '' for none). */
export type ScanBatchResult = { index: number; records: WorkflowRecord[] } | { index: number; json: string };

/** What `scanInParallel` needs to know. */
export interface ScanPoolOptions {
  /** The built worker entry (out/main/scan-worker.js); without it everything runs on this thread. */
  workerPath?: string;
  /** Worker threads to use. @default os.availableParallelism() - 1, at most 3 */
  workers?: number;
  /** Results as JSON text (for `--json`) rather than records. */
  asJson: boolean;
}

/**
 * Reads every listed file of every root, spread over this thread and worker threads: each takes the
 * next batch when it is done with the last, so a slow folder does not hold the others back. Results
 * come back in the order of `roots` and their files. A worker that fails has its batch done here.
 */
export async function scanInParallel(
  roots: ReadonlyArray<{ root: string; files: readonly PendingFile[] }>,
  options: ScanPoolOptions,
): Promise<ScanBatchResult[]> {
  const batches: ScanBatch[] = [];
  for (const { root, files } of roots) {
    for (let start = 0; start < files.length; start += BATCH_FILES)
      batches.push({
        index: batches.length,
        root,
        files: files.slice(start, start + BATCH_FILES),
        asJson: options.asJson,
      });
  }
  const results = new Array<ScanBatchResult | undefined>(batches.length);
  const queue = [...batches];
  let remaining = batches.length;
  let wake: (() => void) | undefined;
  const settle = (result: ScanBatchResult) => {
    if (results[result.index]) return;
    results[result.index] = result;
    remaining -= 1;
    wake?.();
  };

  const fileCount = roots.reduce((sum, { files }) => sum + files.length, 0);
  const workerCount =
    options.workerPath && fileCount >= MIN_FILES_FOR_WORKERS
      ? Math.max(0, options.workers ?? Math.min(MAX_WORKERS, availableParallelism() - 1))
      : 0;
  const workers = Array.from({ length: workerCount }, () => {
    const worker = new Worker(options.workerPath!);
    // Two batches in flight: the main thread hands out the next one only between its own batches,
    // and the worker should not sit idle meanwhile.
    const inFlight = new Map<number, ScanBatch>();
    const feed = () => {
      while (inFlight.size < IN_FLIGHT) {
        const batch = queue.shift();
        if (!batch) return;
        inFlight.set(batch.index, batch);
        worker.postMessage(batch);
      }
    };
    worker.on('message', (result: ScanBatchResult) => {
      inFlight.delete(result.index);
      settle(result);
      feed();
    });
    // A worker that dies leaves its batches to the others (this thread always finishes what is left).
    const fail = () => {
      for (const batch of inFlight.values()) if (!results[batch.index]) queue.unshift(batch);
      inFlight.clear();
      wake?.();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    feed();
    return worker;
  });

  try {
    while (remaining > 0) {
      const batch = queue.shift();
      if (batch) {
        settle(runHere(batch));
        // Let worker replies in, so they get their next batch while this thread works on its own.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return results as ScanBatchResult[];
}

function runHere(batch: ScanBatch): ScanBatchResult {
  const records = scanFilesSync(batch.root, batch.files);
  return batch.asJson
    ? { index: batch.index, json: records.map((record) => JSON.stringify(record)).join(',') }
    : { index: batch.index, records };
}
