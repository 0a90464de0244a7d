import { Worker } from 'node:worker_threads';
import type { WorkflowRecord } from '@shared/domain/workflow';
import type { JsonBytesMeasure } from '@shared/json-depth';
import type { FileRead } from '../core/workflows/scan-file';
import { recordFromRead, scanFilesSync, type PendingFile } from '../core/workflows/scan-root';

/** Files per batch: small enough that the first results come soon, large enough that messages are few. */
const BATCH_FILES = 128;
/** Below this many files a reader thread costs more to start than it saves. */
const MIN_FILES_FOR_READER = 512;
/** Batches the reader thread may hold read at once, each in its own slot of shared memory. */
const SLOTS = 4;
/** Bytes per slot; a batch's files that do not fit come in buffers of their own. @default 4 MiB */
const SLOT_BYTES = 4 * 1024 * 1024;

/** What the reader thread is started with. */
export interface ReaderData {
  /** `SLOTS` slots of `slotBytes` each, written by the reader, read by this thread. */
  memory: SharedArrayBuffer;
  slotBytes: number;
}

/** A batch for the reader thread to read into a slot. */
export interface ReadRequest {
  index: number;
  slot: number;
  root: string;
  /** The files' paths below `root`, joined by NUL (which no path holds): one string copies faster than many. */
  paths: string;
}

/**
 * One file as the reader thread read it: where its bytes lie in the slot, its bytes in a buffer of
 * their own when the slot was full, or why it could not be read. `measure` is their JSON nesting and
 * whether they are ASCII, measured by the reader too.
 */
export type SlotRead =
  | { start: number; end: number; sizeBytes: number; modifiedMs: number; measure: JsonBytesMeasure | undefined }
  | { buffer: ArrayBuffer; sizeBytes: number; modifiedMs: number; measure: JsonBytesMeasure | undefined }
  | Exclude<FileRead, { bytes: Buffer }>;

/** The reader thread's answer to a {@link ReadRequest}, a read per path. */
export interface ReadReply {
  index: number;
  reads: SlotRead[];
}

/** A batch's records, or their JSON (the records serialised, joined by commas; '' for none). */
export type ScanBatchResult = { index: number; records: WorkflowRecord[] } | { index: number; json: string };

/** What `scanInParallel` needs to know. */
export interface ScanPoolOptions {
  /** The built reader thread (out/main/scan-worker.js); without it this thread reads too. */
  workerPath?: string;
  /** Results as JSON text (for `--json`) rather than records. */
  asJson: boolean;
  /**
   * Wait for the reader thread instead of reading here whenever it is not ready, so that every batch
   * is the reader's unless it fails (tests use it to see what the reader does). @default false
   */
  waitForReader?: boolean;
}

interface Batch {
  index: number;
  root: string;
  files: readonly PendingFile[];
  /** The slot the reader thread reads it into; undefined while it is this thread's to read. */
  slot?: number;
  reply?: ReadReply;
  /** The reader had not answered when its turn came, so this thread read it; the answer only frees the slot. */
  isReadHere?: boolean;
}

/**
 * Reads, parses and analyses every listed file of every root. The system calls that read the files,
 * and the measuring of their JSON nesting, run on a reader thread a few batches ahead, into shared
 * memory; this thread decodes, parses and analyses. So V8 compiles the analysis once: threads that
 * each analysed a share compiled it once each, which on two cores cost more than they saved. Until
 * the reader has started, and if it fails, this thread reads for itself. Each result goes to
 * `onResult` in the order of `roots` and their files as soon as it is ready, so output is written
 * while the rest is still being read.
 */
export async function scanInParallel(
  roots: ReadonlyArray<{ root: string; files: readonly PendingFile[] }>,
  options: ScanPoolOptions,
  onResult: (result: ScanBatchResult) => void,
): Promise<void> {
  const batches: Batch[] = [];
  for (const { root, files } of roots) {
    for (let start = 0; start < files.length; start += BATCH_FILES)
      batches.push({ index: batches.length, root, files: files.slice(start, start + BATCH_FILES) });
  }
  const fileCount = roots.reduce((sum, { files }) => sum + files.length, 0);
  const reader =
    options.workerPath && fileCount >= MIN_FILES_FOR_READER
      ? startReader(options.workerPath, batches, options.waitForReader === true)
      : undefined;
  try {
    if (options.waitForReader) await reader?.started;
    for (const batch of batches) {
      reader?.readAhead(batch.index);
      const records = (await reader?.recordsOf(batch)) ?? scanFilesSync(batch.root, batch.files);
      onResult(
        options.asJson
          ? // One stringify of the list, brackets cut off: the same text as the records' JSON joined by commas.
            { index: batch.index, json: JSON.stringify(records).slice(1, -1) }
          : { index: batch.index, records },
      );
      if (reader) {
        reader.release(batch);
        // Let the reader's replies in between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    await reader?.stop();
  }
}

/**
 * The reader thread, from this thread's side. A batch the reader has not answered when its turn comes
 * is read here rather than waited for (unless `waitForReader`): on two cores the reader can be kept
 * off the processor for a while by V8's compiler threads, and this thread should not sit idle then.
 */
function startReader(workerPath: string, batches: Batch[], waitForReader: boolean) {
  const memory = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  const view = Buffer.from(memory);
  const workerData: ReaderData = { memory, slotBytes: SLOT_BYTES };
  const worker = new Worker(workerPath, { workerData });
  const freeSlots = Array.from({ length: SLOTS }, (_, slot) => slot);
  let isOnline = false;
  let isDead = false;
  let nextToAssign = 0;
  let wake: (() => void) | undefined;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  worker.on('online', () => {
    isOnline = true;
    markStarted();
  });
  worker.on('message', (reply: ReadReply) => {
    const batch = batches[reply.index]!;
    if (batch.isReadHere) freeSlots.push(batch.slot!);
    else batch.reply = reply;
    wake?.();
  });
  // A reader that fails leaves its batches to this thread.
  const fail = () => {
    isDead = true;
    markStarted();
    wake?.();
  };
  worker.on('error', fail);
  worker.on('exit', fail);

  return {
    /** Settles once the reader runs (or has failed). */
    started,

    /** Hands the reader the next batches from `from` on, as far as there are free slots. */
    readAhead(from: number): void {
      if (!isOnline || isDead) return;
      nextToAssign = Math.max(nextToAssign, from);
      while (freeSlots.length > 0 && nextToAssign < batches.length) {
        const batch = batches[nextToAssign]!;
        nextToAssign += 1;
        batch.slot = freeSlots.pop()!;
        const request: ReadRequest = {
          index: batch.index,
          slot: batch.slot,
          root: batch.root,
          paths: batch.files.map((file) => file.path).join('\0'),
        };
        worker.postMessage(request);
      }
    },

    /** The records of a batch the reader has read; undefined when this thread is to read it. */
    async recordsOf(batch: Batch): Promise<WorkflowRecord[] | undefined> {
      if (batch.slot === undefined) return undefined;
      while (waitForReader && !batch.reply && !isDead) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const reply = batch.reply;
      if (!reply || isDead) {
        batch.isReadHere = true;
        return undefined;
      }
      const slotStart = batch.slot * SLOT_BYTES;
      const records: WorkflowRecord[] = [];
      for (const [position, file] of batch.files.entries()) {
        const read = reply.reads[position]!;
        // Bytes in the slot, or in a buffer of their own when the slot was full; else why there are none.
        const fileRead: FileRead =
          'start' in read || 'buffer' in read
            ? {
                bytes:
                  'start' in read
                    ? view.subarray(slotStart + read.start, slotStart + read.end)
                    : Buffer.from(read.buffer),
                sizeBytes: read.sizeBytes,
                modifiedMs: read.modifiedMs,
                measure: read.measure,
              }
            : read;
        const record = recordFromRead(batch.root, file, fileRead);
        if (record) records.push(record);
      }
      return records;
    },

    /** The batch's slot may be read into again once its bytes have been decoded. */
    release(batch: Batch): void {
      if (batch.slot === undefined || batch.isReadHere) return;
      freeSlots.push(batch.slot);
      batch.reply = undefined;
    },

    async stop(): Promise<void> {
      await worker.terminate();
    },
  };
}
