import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import type { Job } from '@shared/domain/job';
import { ConnectionsState } from '../../../src/renderer/src/state/connections.svelte';
import { HistoryState } from '../../../src/renderer/src/state/history.svelte';
import { JobsState } from '../../../src/renderer/src/state/jobs.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { FakeCore } from './support/fake-core';
import { manualFrames } from './support/frames';
import GenerateHarness from './support/GenerateHarness.svelte';
import { job, progress, succeeded, type View } from './support/jobs-data';

afterEach(() => cleanup());

/** A part of the Generate page on a core whose live queue is `live` and whose history is `past`. */
async function mount(view: View, live: Job[], past: Job[] = []) {
  const core = new FakeCore();
  let history = past;
  core.handle('jobs.list', () => ({ jobs: live, paused: false }));
  core.handle('history.list', ({ text, offset, limit }) => ({
    jobs: history.filter((item) => !text || item.promptText.includes(text)).slice(offset, offset + limit),
  }));
  core.handle('jobs.cancel', () => ({}));
  core.handle('jobs.move', () => ({}));
  core.handle('jobs.setPaused', ({ paused }) => ({ paused }));
  core.handle('jobs.retry', () => ({ jobIds: ['again'] }));
  core.handle('outputs.reveal', ({ jobId }) => ({ isRevealed: false, path: `/o/2025-01-01/${jobId}.png` }));
  core.handle('history.delete', ({ jobId }) => {
    history = history.filter((item) => item.id !== jobId);
    return {};
  });
  const frames = manualFrames();
  const toasts = new Toasts();
  const jobs = new JobsState(core.api, toasts, { schedule: frames.schedule });
  const historyState = new HistoryState(core.api, toasts, { pageSize: 2, searchDelayMs: 0 });
  const rerun: string[][] = [];
  render(GenerateHarness, {
    api: core.api,
    view,
    jobs,
    history: historyState,
    toasts,
    onrerun: (ids: string[]) => rerun.push(ids),
  });
  await core.answered();
  return { core, frames, toasts, rerun, history: historyState };
}

describe('the Current view', () => {
  /** The Current view over servers A and B, with `generation` the ones used for generation. */
  async function mountOnServers(generation: string[], live: Job[]) {
    const core = new FakeCore();
    core.handle('jobs.list', () => ({ jobs: live, paused: false }));
    core.handle('connections.list', () => ({
      profiles: [
        { id: 'a', name: 'Server A', kind: 'url', url: 'http://127.0.0.1:1' },
        { id: 'b', name: 'Server B', kind: 'url', url: 'http://127.0.0.1:2' },
      ],
      activeId: 'a',
      online: ['a', 'b'],
      health: [],
      withSecrets: [],
      secretStorage: 'os-keychain',
      generation,
    }));
    const toasts = new Toasts();
    const connections = new ConnectionsState(core.api, toasts, { openTab: () => undefined });
    await connections.refresh();
    const frames = manualFrames();
    const state = new JobsState(core.api, toasts, { schedule: frames.schedule });
    render(GenerateHarness, { api: core.api, view: 'current', jobs: state, connections, toasts });
    await core.answered();
    return { core, frames };
  }

  test('with several servers used for generation, it names the server the job runs on, and that it ran on', async () => {
    const running = job('j', { status: 'running', serverId: 'b', progress: progress(45) });
    const { core, frames } = await mountOnServers(['a', 'b'], [running]);
    expect((await screen.findByText('on Server B')).closest('.title')?.textContent).toContain(running.workflowName);
    core.emit('jobs.updated', succeeded('j', { serverId: 'b' }));
    await core.answered();
    frames.frame();
    const result = await screen.findByRole('region', { name: `Result of ${running.workflowName}` });
    expect(within(result).getByText('on Server B')).toBeTruthy();
  });

  test('with one server used for generation, the Current view does not name it', async () => {
    await mountOnServers(['a'], [job('j', { status: 'running', serverId: 'a', progress: progress(45) })]);
    expect(await screen.findByText('45%')).toBeTruthy();
    expect(screen.queryByText(/on Server/)).toBeNull();
  });

  test('a running job shows the bar with its values, the node and step, the ETA and a live preview; Pause and Cancel work', async () => {
    const { core, frames } = await mount('current', [job('a', { status: 'running', progress: progress(45) })]);
    core.emit('generation.preview', {
      jobId: 'a',
      promptId: 'p-a',
      mime: 'image/jpeg',
      dataUrl: 'data:image/jpeg;base64,AQID',
      nodeId: '3',
    });
    await core.answered();
    frames.frame();
    const bar = await screen.findByRole('progressbar', { name: 'Generation progress' });
    expect(bar.getAttribute('aria-valuenow')).toBe('45');
    expect(bar.getAttribute('aria-valuetext')).toBe('45% — KSampler (step 15/30)');
    expect(screen.getByText('~12 s left')).toBeTruthy();
    expect((screen.getByRole('img', { name: 'Live preview of Text to image' }) as HTMLImageElement).src).toBe(
      'data:image/jpeg;base64,AQID',
    );
    await fireEvent.click(screen.getByRole('button', { name: /Pause queue/ }));
    await fireEvent.click(screen.getByRole('button', { name: /Cancel/ }));
    await core.answered();
    expect(core.callsOf('jobs.setPaused')).toEqual([{ paused: true }]);
    expect(core.callsOf('jobs.cancel')).toEqual([{ jobId: 'a' }]);
    expect(screen.getByRole('button', { name: /Resume queue/ }).getAttribute('aria-pressed')).toBe('true');
  });

  test('when it finishes the outputs take the bar’s place, and one opens in the viewer with what made it', async () => {
    const { core, frames, toasts, rerun } = await mount('current', [
      job('a', { status: 'running', progress: progress(90) }),
    ]);
    core.emit('jobs.updated', succeeded('a'));
    await core.answered();
    frames.frame();
    const result = await screen.findByRole('region', { name: 'Result of Text to image' });
    expect(result.textContent).toContain('Finished');
    expect(result.textContent).toContain('in 12.4 s');
    const thumb = within(result).getByRole('button', { name: 'Open output 1 of Text to image' });
    expect(thumb.querySelector('img')?.getAttribute('src')).toBe('/media/2025-01-01/a.png');
    await fireEvent.click(thumb);

    const viewer = screen.getByRole('dialog', { name: 'Text to image' });
    expect(within(viewer).getByRole('img', { name: 'Text to image, output 1 of 1' }).getAttribute('src')).toBe(
      '/media/2025-01-01/a.png',
    );
    const terms = [...viewer.querySelector('dl')!.querySelectorAll('dt')].map((term) => [
      term.textContent,
      term.nextElementSibling?.textContent,
    ]);
    expect(Object.fromEntries(terms)).toMatchObject({
      Status: 'Finished',
      Prompt: 'a red fox in the snow',
      Seed: '42',
      Server: 'local',
      Took: '12.4 s',
      File: '2025-01-01/a.png',
    });
    expect(within(viewer).getByRole('link', { name: /Save/ }).getAttribute('download')).toBe('a.png');
    await fireEvent.click(within(viewer).getByRole('button', { name: /Show path/ }));
    await core.answered();
    expect(toasts.items.at(-1)?.message).toBe('On the machine running ComfyDesk, this output is /o/2025-01-01/a.png');
    await fireEvent.click(within(viewer).getByRole('button', { name: /Re-run/ }));
    await core.answered();
    expect(core.callsOf('jobs.retry')).toEqual([{ jobId: 'a' }]);
    expect(rerun).toEqual([['again']]);
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  test('video and sound play in place, large, one at a time from the strip; a text output is shown as text', async () => {
    const { core, frames } = await mount('current', [job('a', { status: 'running' })]);
    core.emit(
      'jobs.updated',
      succeeded('a', {
        outputs: [
          {
            kind: 'video',
            nodeId: '20',
            filename: 'clip_00001.mp4',
            subfolder: '',
            type: 'output',
            localPath: '2025-01-01/clip.mp4',
            mime: 'video/mp4',
          },
          {
            kind: 'audio',
            nodeId: '21',
            filename: 'song_00001.flac',
            subfolder: 'audio',
            type: 'output',
            localPath: '2025-01-01/song.flac',
            mime: 'audio/flac',
          },
          { kind: 'text', nodeId: '22', filename: '', subfolder: '', type: 'output', text: 'width: 512, height: 512' },
        ],
      }),
    );
    await core.answered();
    frames.frame();
    const result = await screen.findByRole('region', { name: 'Result of Text to image' });
    const video = result.querySelector('video')!;
    expect([video.getAttribute('src'), video.hasAttribute('controls'), video.getAttribute('aria-label')]).toEqual([
      '/media/2025-01-01/clip.mp4',
      true,
      'output 1 of Text to image',
    ]);
    expect(result.querySelector('pre')?.textContent).toBe('width: 512, height: 512');
    const strip = within(result).getByRole('list', { name: 'Outputs' });
    await fireEvent.click(within(strip).getByRole('button', { name: 'Show output 2 of Text to image' }));
    const audio = result.querySelector('audio')!;
    expect([audio.getAttribute('src'), audio.hasAttribute('controls')]).toEqual(['/media/2025-01-01/song.flac', true]);
    expect(result.querySelector('video[controls]')).toBeNull();
    expect(within(result).getByRole('button', { name: 'Open output 2 of Text to image' })).toBeTruthy();
  });

  test('a failed job shows ComfyUI’s own message and the node’s title; Retry queues it again', async () => {
    const { core, frames, rerun } = await mount('current', [job('a', { status: 'running' })]);
    core.emit(
      'jobs.updated',
      job('a', {
        status: 'failed',
        error: {
          message: 'Allocation on device: CUDA out of memory',
          type: 'torch.OutOfMemoryError',
          nodeId: '3',
          nodeTitle: 'KSampler',
        },
      }),
    );
    await core.answered();
    frames.frame();
    const result = await screen.findByRole('region', { name: 'Result of Text to image' });
    expect(result.textContent).toContain('Allocation on device: CUDA out of memory');
    expect(result.textContent).toContain('In the node “KSampler” (torch.OutOfMemoryError).');
    await fireEvent.click(within(result).getByRole('button', { name: /Retry/ }));
    await core.answered();
    expect(rerun).toEqual([['again']]);
  });
});

describe('the Queue view', () => {
  const LIVE = [
    job('run', { status: 'running', progress: progress(20) }),
    job('theirs', { status: 'queued', origin: 'foreign', workflowName: 'Their upscale', promptText: '' }),
    job('h1', { position: 0, workflowName: 'First held' }),
    job('h2', { position: 1, workflowName: 'Second held' }),
  ];

  test('every job is listed in order, other clients’ marked, held ones movable by buttons', async () => {
    const { core } = await mount('queue', LIVE);
    const rows = within(await screen.findByRole('list', { name: 'Queued jobs' })).getAllByRole('listitem');
    expect(rows.map((row) => row.getAttribute('aria-label'))).toEqual([
      'Text to image',
      'Their upscale (another client)',
      'First held',
      'Second held',
    ]);
    expect(rows[1]!.textContent).toContain('another client');
    expect(within(rows[0]!).queryByRole('button', { name: /Move up/ })).toBeNull();
    expect((within(rows[2]!).getByRole('button', { name: 'Move up: First held' }) as HTMLButtonElement).disabled).toBe(
      true,
    );
    await fireEvent.click(within(rows[2]!).getByRole('button', { name: 'Move down: First held' }));
    await fireEvent.click(within(rows[1]!).getByRole('button', { name: /Cancel Their upscale/ }));
    await core.answered();
    expect(core.callsOf('jobs.move')).toEqual([{ jobId: 'h1', toIndex: 1 }]);
    expect(core.callsOf('jobs.cancel')).toEqual([{ jobId: 'theirs' }]);
    expect(screen.getByText(/1 running · 3 waiting/)).toBeTruthy();
  });

  test('dragging a held job onto another moves it to that place', async () => {
    const { core } = await mount('queue', LIVE);
    const second = await screen.findByRole('listitem', { name: 'Second held' });
    const first = screen.getByRole('listitem', { name: 'First held' });
    const dataTransfer = { setData: () => undefined, effectAllowed: 'none' };
    await fireEvent.dragStart(second, { dataTransfer });
    await fireEvent.dragOver(first, { dataTransfer });
    await fireEvent.drop(first, { dataTransfer });
    await core.answered();
    expect(core.callsOf('jobs.move')).toEqual([{ jobId: 'h2', toIndex: 0 }]);
  });

  test('a row’s menu opens by right click, moves by arrow keys, acts on Enter and closes on Escape with focus back', async () => {
    const { core } = await mount('queue', LIVE);
    const row = await screen.findByRole('listitem', { name: 'Second held' });
    await fireEvent.contextMenu(row, { clientX: 40, clientY: 60 });
    let menu = screen.getByRole('menu', { name: 'Actions for Second held' });
    const items = within(menu).getAllByRole('menuitem');
    expect(items.map((item) => item.textContent?.trim())).toEqual(['Send next', 'Move up', 'Move down', 'Cancel']);
    expect(document.activeElement).toBe(items[0]);
    await fireEvent.keyDown(menu, { key: 'ArrowDown' });
    expect(document.activeElement).toBe(items[1]);
    await fireEvent.keyDown(menu, { key: 'End' });
    expect(document.activeElement).toBe(items[3]);
    await fireEvent.keyDown(menu, { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();

    const more = within(row).getByRole('button', { name: 'More actions for Second held' });
    more.focus();
    await fireEvent.click(more);
    menu = screen.getByRole('menu', { name: 'Actions for Second held' });
    await fireEvent.click(within(menu).getByRole('menuitem', { name: 'Send next' }));
    await core.answered();
    expect(core.callsOf('jobs.move')).toEqual([{ jobId: 'h2', toIndex: 0 }]);
    await waitFor(() => expect(document.activeElement).toBe(more));
  });
});

describe('the Recent view', () => {
  const PAST = [
    succeeded('r1', { promptText: 'a red fox' }),
    succeeded('r2', { promptText: 'a lighthouse' }),
    job('r3', { status: 'failed', promptText: 'a red barn', error: { message: 'boom' } }),
  ];

  test('past generations are listed newest first with thumbnails, searched by prompt, and older ones load on request', async () => {
    const { core } = await mount('recent', [], PAST);
    const grid = await screen.findByRole('list', { name: 'Past generations' });
    expect(
      within(grid)
        .getAllByRole('button')
        .map((button) => button.getAttribute('aria-label')),
    ).toEqual(['Text to image: a red fox', 'Text to image: a lighthouse']);
    await fireEvent.click(screen.getByRole('button', { name: 'Show older' }));
    await core.answered();
    expect(within(grid).getAllByRole('button').at(-1)?.getAttribute('aria-label')).toBe(
      'Text to image (failed): a red barn',
    );
    await fireEvent.input(screen.getByLabelText('Search past generations'), { target: { value: 'red' } });
    await waitFor(() => expect(core.callsOf('history.list').at(-1)).toEqual({ text: 'red', limit: 2, offset: 0 }));
    await core.answered();
    await waitFor(() => expect(within(grid).getAllByRole('button')).toHaveLength(2));
  });

  test('a job that finishes now appears at the top without a reload', async () => {
    const { core } = await mount('recent', [], PAST.slice(0, 1));
    await screen.findByRole('list', { name: 'Past generations' });
    core.emit('jobs.updated', succeeded('new', { promptText: 'a snowy owl' }));
    await waitFor(() =>
      expect(
        within(screen.getByRole('list', { name: 'Past generations' }))
          .getAllByRole('button')[0]
          ?.getAttribute('aria-label'),
      ).toBe('Text to image: a snowy owl'),
    );
  });

  test('a job deleted elsewhere leaves the list and the viewer', async () => {
    const { core, history } = await mount('recent', [], PAST.slice(0, 2));
    await fireEvent.click(await screen.findByRole('button', { name: 'Text to image: a red fox' }));
    expect(screen.getByRole('dialog', { name: 'Text to image' })).toBeTruthy();
    core.emit('jobs.removed', { jobId: 'r1' });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(history.items.map((item) => item.id)).toEqual(['r2']);
  });

  test('deleting from history asks first and can take the files along', async () => {
    const { core, toasts } = await mount('recent', [], PAST.slice(0, 2));
    const thumb = await screen.findByRole('button', { name: 'Text to image: a red fox' });
    await fireEvent.contextMenu(thumb, { clientX: 10, clientY: 10 });
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Delete from history…' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Delete from history?' });
    await fireEvent.click(within(confirm).getByRole('checkbox', { name: /Also delete its file/ }));
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Delete with files' }));
    await core.answered();
    expect(core.callsOf('history.delete')).toEqual([{ jobId: 'r1', deleteFiles: true }]);
    expect(screen.queryByRole('button', { name: 'Text to image: a red fox' })).toBeNull();
    expect(toasts.items.at(-1)?.message).toBe('Deleted from history, with its files.');
  });

  test('Copy image says so plainly when the browser will not copy images', async () => {
    const { toasts } = await mount('recent', [], PAST.slice(0, 1));
    await fireEvent.contextMenu(await screen.findByRole('button', { name: 'Text to image: a red fox' }), {
      clientX: 10,
      clientY: 10,
    });
    await fireEvent.click(screen.getByRole('menuitem', { name: 'Copy image' }));
    await waitFor(() =>
      expect(toasts.items.at(-1)?.message).toBe('This browser does not let pages copy images; use Save instead.'),
    );
  });
});
