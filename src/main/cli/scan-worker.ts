import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { readWorkflowFileSync, measureWorkflowBytes, type ReadScratch } from '../core/workflows/scan-file';
import type { ReadReply, ReadRequest, ReaderData, SlotRead } from './scan-pool';

// The reader thread of `comfydesk scan` (out/main/scan-worker.js): reads the files of each batch it
// is sent into that batch's slot of the shared memory, a file after the other with plain system
// calls, and answers with where each file's bytes lie and how deeply their JSON nests and whether it is ASCII (or why the file
// could not be read). Decoding, parsing and analysis stay on the main thread.
const port = parentPort;
if (!port) throw new Error('scan-worker runs as a worker thread');
const { memory, slotBytes } = workerData as ReaderData;
const view = Buffer.from(memory);

port.on('message', ({ index, slot, root, paths }: ReadRequest) => {
  const slotStart = slot * slotBytes;
  const slotEnd = slotStart + slotBytes;
  let used = slotStart;
  const reads: SlotRead[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const path of paths.split('\0')) {
    // The scratch is the free rest of the slot; a file larger than that is read into a buffer of its own.
    const scratch: ReadScratch = { buffer: view.subarray(used, slotEnd) };
    const read = readWorkflowFileSync(join(root, path), undefined, scratch);
    if (!('bytes' in read)) {
      reads.push(read);
    } else if (read.bytes.buffer === memory) {
      reads.push({
        start: used - slotStart,
        end: used - slotStart + read.bytes.length,
        sizeBytes: read.sizeBytes,
        modifiedMs: read.modifiedMs,
        measure: measureWorkflowBytes(read.bytes),
      });
      used += read.bytes.length;
    } else {
      const own = new Uint8Array(read.bytes);
      transfer.push(own.buffer);
      reads.push({
        buffer: own.buffer,
        sizeBytes: read.sizeBytes,
        modifiedMs: read.modifiedMs,
        measure: measureWorkflowBytes(own),
      });
    }
  }
  const reply: ReadReply = { index, reads };
  port.postMessage(reply, transfer);
});
