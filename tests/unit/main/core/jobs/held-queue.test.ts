import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { HeldQueue, type Dispatcher } from '../../../../../src/main/core/jobs/held-queue';
import { HistoryStore } from '../../../../../src/main/core/jobs/history-store';
import { JobBook, type JobServiceEvents } from '../../../../../src/main/core/jobs/job-book';
import { entryFromRecord, entryFromRun, type Entry } from '../../../../../src/main/core/jobs/job-entry';
import { Emitter } from '../../../../../src/main/core/lib/emitter';
import { silentLogger } from '../../../../../src/main/core/lib/logger';
import { tempDir } from '../../../../support/core';
import { preparedRun } from '../../../../support/prepared-run';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function run(name: string) {
  return preparedRun({
    workflowName: name,
    prompt: { '1': { class_type: 'SaveImage', inputs: { filename_prefix: name } } },
    promptText: name,
  });
}

/** A dispatcher that places nothing and remembers which jobs the pump offered it, in order. */
function recordingDispatcher(): Dispatcher & { offered: string[] } {
  const offered: string[] = [];
  return {
    offered,
    place: (entry) => {
      offered.push(entry.job.workflowName);
      return {};
    },
    isFull: () => false,
  };
}

/** One session of ComfyDesk's queue on a history file: the book, the held queue, and a dispatcher. */
async function session(file: string) {
  const history = new HistoryStore({ file, log: silentLogger });
  await history.start();
  cleanups.push(() => history.stop());
  const book = new JobBook({
    history,
    emitter: new Emitter<JobServiceEvents>(),
    log: silentLogger,
    now: () => 1000,
    onCountsChanged: () => undefined,
  });
  for (const record of history.unfinished()) book.restore(entryFromRecord(record));
  const dispatcher = recordingDispatcher();
  const held = new HeldQueue({ book, dispatcher, history, log: silentLogger });
  held.start();
  const add = (name: string): Entry => {
    const entry = entryFromRun(run(name), { id: name, now: 1000, position: held.nextPosition(), batch: null });
    book.add(entry);
    return entry;
  };
  return { history, book, held, dispatcher, add };
}

describe('HeldQueue', () => {
  test('a paused queue offers nothing to the servers, and stays paused after a restart until resumed', async () => {
    const dir = tempDir('comfydesk-held-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'history.db');
    const first = await session(file);
    first.held.setPaused(true);
    first.add('a');
    first.add('b');
    first.held.pump();
    expect(first.dispatcher.offered).toEqual([]);
    await first.history.stop();

    const second = await session(file);
    expect(second.held.paused).toBe(true);
    expect(second.held.held().map((entry) => entry.job.id)).toEqual(['a', 'b']);
    second.held.pump();
    expect(second.dispatcher.offered).toEqual([]);
    second.held.setPaused(false);
    second.held.pump();
    expect(second.dispatcher.offered).toEqual(['a', 'b']);
  });

  test('a job sent without an answer is not offered again: only the server can say whether it arrived', async () => {
    const dir = tempDir('comfydesk-held-');
    cleanups.push(() => dir.remove());
    const { add, held, dispatcher } = await session(join(dir.path, 'history.db'));
    const sent = add('sent');
    sent.job = { ...sent.job, promptId: 'p-1' };
    sent.sentAt = 900;
    add('next');
    held.pump();
    expect(dispatcher.offered).toEqual(['next']);
    expect(() => held.move(sent, 1)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});
