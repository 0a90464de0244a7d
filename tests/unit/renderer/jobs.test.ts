import { cleanup, render, screen, waitFor, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { Job } from '@shared/domain/job';
import { JobsState, type JobTransition } from '../../../src/renderer/src/state/jobs.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { FakeCore, FakeFailure } from './support/fake-core';
import { manualFrames } from './support/frames';
import GenerateHarness from './support/GenerateHarness.svelte';
import { job, progress, succeeded } from './support/jobs-data';

afterEach(() => cleanup());

/** A core whose live queue is `jobs`, and a JobsState on it whose frames the test drives. */
async function connected(jobs: Job[], paused = false) {
  const core = new FakeCore();
  core.handle('jobs.list', () => ({ jobs, paused }));
  const frames = manualFrames();
  const toasts = new Toasts();
  const state = new JobsState(core.api, toasts, { schedule: frames.schedule });
  const disconnect = state.connect();
  await core.answered();
  return { core, frames, toasts, state, disconnect };
}

describe('JobsState', () => {
  test('the queue lists every unfinished job in run order: running, then queued on the server, then held by position', async () => {
    const { state } = await connected([
      job('held-b', { position: 1 }),
      job('foreign-q', { origin: 'foreign', status: 'queued', workflowName: 'Their workflow' }),
      job('held-a', { position: 0 }),
      job('run', { status: 'running', progress: progress(10) }),
    ]);
    expect(state.queue.map((item) => item.id)).toEqual(['run', 'foreign-q', 'held-a', 'held-b']);
    expect(state.held.map((item) => item.id)).toEqual(['held-a', 'held-b']);
    expect(state.counts).toEqual({ running: 1, pending: 3, paused: false });
    expect(state.badgeCount).toBe(4);
  });

  test('updates, removals, progress and previews that arrive before a frame are applied together on that frame', async () => {
    const { core, frames, state } = await connected([job('a', { status: 'queued' }), job('b', { position: 0 })]);
    core.emit('jobs.updated', job('a', { status: 'running', startedAt: 5 }));
    core.emit('generation.progress', { jobId: 'a', promptId: 'p-a', progress: progress(40) });
    core.emit('generation.preview', {
      jobId: 'a',
      promptId: 'p-a',
      mime: 'image/jpeg',
      dataUrl: 'data:image/jpeg;base64,AAAA',
      nodeId: '3',
    });
    core.emit('jobs.removed', { jobId: 'b' });
    core.emit('jobs.queue', { running: 1, pending: 0, paused: true });
    await core.answered();
    // Nothing shows until the frame: one update for the whole burst.
    expect(state.jobs.get('a')?.status).toBe('queued');
    expect(frames.waiting).toBe(1);
    frames.frame();
    expect(state.jobs.get('a')?.status).toBe('running');
    expect(state.jobs.get('a')?.progress?.percent).toBe(40);
    expect(state.previewOf('a')).toBe('data:image/jpeg;base64,AAAA');
    expect(state.jobs.has('b')).toBe(false);
    expect(state.paused).toBe(true);
    expect(state.counts).toEqual({ running: 1, pending: 0, paused: true });
  });

  test('a whole job update replaces progress that came before it, and progress after it is merged in', async () => {
    const { core, frames, state } = await connected([job('a', { status: 'running', progress: progress(10) })]);
    core.emit('generation.progress', { jobId: 'a', promptId: 'p-a', progress: progress(30) });
    core.emit(
      'jobs.updated',
      job('a', { status: 'running', progress: progress(35, { nodeTitle: 'VAE Decode', step: null, steps: null }) }),
    );
    await core.answered();
    frames.frame();
    expect(state.jobs.get('a')?.progress?.nodeTitle).toBe('VAE Decode');
    core.emit('jobs.updated', job('a', { status: 'running', progress: progress(50) }));
    core.emit('generation.progress', { jobId: 'a', promptId: 'p-a', progress: progress(60) });
    await core.answered();
    frames.frame();
    expect(state.jobs.get('a')?.progress?.percent).toBe(60);
    expect(state.progressOf('a')?.percent).toBe(60);
  });

  test('100 queued jobs and a second of progress at 30 events a second make one update per frame, not one per event', async () => {
    const jobs = [
      job('run', { status: 'running', progress: progress(0) }),
      ...Array.from({ length: 99 }, (_, index) => job(`held-${index}`, { position: index })),
    ];
    const { core, frames, state } = await connected(jobs);
    const queues: Job[][] = [];
    // Three frames' worth of events: 15 progress events each, as 30 a second arrive over ~33 ms frames.
    for (let frame = 0; frame < 3; frame += 1) {
      for (let step = 1; step <= 15; step += 1)
        core.emit('generation.progress', {
          jobId: 'run',
          promptId: 'p-run',
          progress: progress(frame * 15 + step, { step: frame * 15 + step }),
        });
      await core.answered();
      frames.frame();
      queues.push(state.queue);
    }
    expect(frames.requests).toBe(3);
    expect(state.progressOf('run')?.step).toBe(45);
    expect(state.running?.progress?.step).toBe(45);
    // The job's first progress goes into the job; after that the queue is the very same array:
    // progress alone changes nothing downstream of it, only what reads that job's progress.
    expect(queues[1]).toBe(queues[0]);
    expect(queues[2]).toBe(queues[0]);
  });

  test('a long queue renders only the rows in view, each saying its place in the whole queue', async () => {
    const jobs = Array.from({ length: 500 }, (_, index) =>
      job(`held-${index}`, { position: index, workflowName: `Flow ${index}` }),
    );
    const core = new FakeCore();
    core.handle('jobs.list', () => ({ jobs, paused: false }));
    render(GenerateHarness, { api: core.api, view: 'queue', jobs: new JobsState(core.api, new Toasts()) });
    const list = await screen.findByRole('list', { name: 'Queued jobs' });
    await waitFor(() => expect(within(list).queryAllByRole('listitem').length).toBeGreaterThan(0));
    const rows = within(list).getAllByRole('listitem');
    expect(rows.length).toBeLessThan(30);
    expect(rows.map((row) => row.getAttribute('aria-posinset'))).toEqual(rows.map((_, index) => String(index + 1)));
    expect(rows.every((row) => row.getAttribute('aria-setsize') === '500')).toBe(true);
    expect(within(list).getByRole('listitem', { name: 'Flow 0' })).toBe(rows[0]);
    // The rows not rendered still take their room, so the scroll bar spans the whole queue.
    expect(parseFloat(list.style.paddingBottom)).toBe((500 - rows.length) * parseFloat(rows[0]!.style.height));
  });

  test('in the queue view, progress of the running job changes only that job’s row', async () => {
    const jobs = [
      job('run', { status: 'running', progress: progress(10) }),
      ...Array.from({ length: 99 }, (_, index) =>
        job(`held-${index}`, { position: index, workflowName: `Flow ${index}` }),
      ),
    ];
    const core = new FakeCore();
    core.handle('jobs.list', () => ({ jobs, paused: false }));
    const frames = manualFrames();
    const state = new JobsState(core.api, new Toasts(), { schedule: frames.schedule });
    render(GenerateHarness, { api: core.api, view: 'queue', jobs: state });
    const list = await screen.findByRole('list', { name: 'Queued jobs' });
    await waitFor(() => expect(within(list).getAllByRole('listitem')[0]?.getAttribute('aria-setsize')).toBe('100'));
    const running = within(list).getAllByRole('listitem')[0]!;
    const changed = new Set<Node>();
    const observer = new MutationObserver((records) => records.forEach((record) => changed.add(record.target)));
    observer.observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
    for (let step = 11; step <= 40; step += 1)
      core.emit('generation.progress', { jobId: 'run', promptId: 'p-run', progress: progress(step, { step }) });
    await core.answered();
    frames.frame();
    flushSync();
    observer.takeRecords().forEach((record) => changed.add(record.target));
    observer.disconnect();
    expect(running.textContent).toContain('Running · 40%');
    expect(changed.size).toBeGreaterThan(0);
    const outside = [...changed]
      .filter((node) => !running.contains(node))
      .map((node) => (node as Element).outerHTML ?? node.textContent);
    expect(outside).toEqual([]);
  });

  test('the current job is ours that runs; once it finishes it stays in view until we queue another', async () => {
    const { core, frames, state } = await connected([
      job('foreign', { origin: 'foreign', status: 'running' }),
      job('mine', { status: 'queued' }),
    ]);
    expect(state.current?.id).toBe('mine');
    expect(state.running).toBeUndefined();
    core.emit('jobs.updated', job('mine', { status: 'running' }));
    await core.answered();
    frames.frame();
    expect(state.running?.id).toBe('mine');
    core.emit('jobs.updated', succeeded('mine'));
    await core.answered();
    frames.frame();
    expect(state.current?.id).toBe('mine');
    expect(state.current?.status).toBe('succeeded');
    expect(state.queue.map((item) => item.id)).toEqual(['foreign']);
    core.emit('jobs.updated', job('next', { status: 'held' }));
    await core.answered();
    frames.frame();
    expect(state.current?.id).toBe('next');
  });

  test('a finished job deleted from history leaves the Current view', async () => {
    const { core, frames, state } = await connected([job('a', { status: 'running' })]);
    core.emit('jobs.updated', succeeded('a'));
    await core.answered();
    frames.frame();
    expect(state.current?.id).toBe('a');
    core.emit('jobs.removed', { jobId: 'a' });
    await core.answered();
    frames.frame();
    expect(state.current).toBeUndefined();
  });

  test('each job that ends is reported once, with the status it had before', async () => {
    const { core, frames, state } = await connected([job('a', { status: 'running' })]);
    const seen: JobTransition[][] = [];
    state.onTransitions((transitions) => seen.push(transitions));
    core.emit(
      'jobs.updated',
      job('a', { status: 'failed', error: { message: 'CUDA out of memory', nodeTitle: 'KSampler' } }),
    );
    await core.answered();
    frames.frame();
    // A late repeat of the same end (outputs attached, a reconnect) is not a new event.
    core.emit(
      'jobs.updated',
      job('a', { status: 'failed', error: { message: 'CUDA out of memory', nodeTitle: 'KSampler' } }),
    );
    await core.answered();
    frames.frame();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map(({ job: item, previous }) => [item.id, previous, item.status])).toEqual([
      ['a', 'running', 'failed'],
    ]);
  });

  test('a preview is kept while its job is live or shown as the last result, and dropped after', async () => {
    const { core, frames, state } = await connected([job('a', { status: 'running' })]);
    core.emit('generation.preview', {
      jobId: 'a',
      promptId: 'p-a',
      mime: 'image/jpeg',
      dataUrl: 'data:image/jpeg;base64,AQID',
      nodeId: '3',
    });
    core.emit('jobs.updated', succeeded('a'));
    await core.answered();
    frames.frame();
    expect(state.previewOf('a')).toBe('data:image/jpeg;base64,AQID');
    core.emit('jobs.updated', job('b', { status: 'held' }));
    await core.answered();
    frames.frame();
    expect(state.previewOf('a')).toBeUndefined();
  });

  test('when the link to the core comes back, the queue is fetched again and replaces what was there', async () => {
    let jobs = [job('a', { status: 'running' })];
    const core = new FakeCore();
    core.handle('jobs.list', () => ({ jobs, paused: false }));
    const state = new JobsState(core.api, new Toasts(), { schedule: manualFrames().schedule });
    state.connect();
    await core.answered();
    core.setLink('closed');
    jobs = [job('b', { status: 'queued' })];
    core.setLink('open');
    await core.answered();
    expect([...state.jobs.keys()]).toEqual(['b']);
    expect(core.callsOf('jobs.list')).toHaveLength(2);
  });

  test('cancel, move, pause and retry reach the core; a refusal becomes a toast in the core’s words', async () => {
    const { core, state, toasts } = await connected([job('a', { status: 'held' })]);
    core.handle('jobs.cancel', () => ({}));
    core.handle('jobs.move', () => ({}));
    core.handle('jobs.setPaused', ({ paused }) => ({ paused }));
    core.handle('jobs.retry', () => ({ jobIds: ['a2'] }));
    expect(await state.cancel('a')).toBe(true);
    expect(await state.move('a', -3)).toBe(true);
    expect(await state.setPaused(true)).toBe(true);
    expect(state.paused).toBe(true);
    expect(await state.retry('a')).toEqual(['a2']);
    expect(core.callsOf('jobs.move')).toEqual([{ jobId: 'a', toIndex: 0 }]);
    core.handle('jobs.cancel', () => {
      throw new FakeFailure({ code: 'job_not_found', userMessage: 'That job is no longer in the queue.' });
    });
    expect(await state.cancel('zz')).toBe(false);
    expect(toasts.items.map((toast) => toast.message)).toEqual(['That job is no longer in the queue.']);
  });
});
