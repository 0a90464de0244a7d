import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, test } from 'vitest';
import { RingIcons } from '../../../src/renderer/src/features/shell/attention';
import { JobsState } from '../../../src/renderer/src/state/jobs.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';
import { WebNotifications, type NotificationPort } from '../../../src/renderer/src/state/web-notifications.svelte';
import { FakeCore } from './support/fake-core';
import { manualFrames } from './support/frames';
import GenerateHarness from './support/GenerateHarness.svelte';
import { job, progress, succeeded } from './support/jobs-data';

afterEach(() => {
  cleanup();
  window.location.hash = '';
  document.title = 'ComfyDesk';
});

/** A browser's notifications that answer a permission request with `answer` and record what they show. */
function fakeBrowser(answer: NotificationPermission, initial: NotificationPermission = 'default') {
  const shown: Array<{ title: string; body: string; onclick?: () => void }> = [];
  let permission = initial;
  const port: NotificationPort = {
    get permission() {
      return permission;
    },
    requestPermission: async () => (permission = answer),
    show: (title, options) => shown.push({ title, ...options }),
  };
  return { port, shown };
}

function memoryStorage(initial: Record<string, string> = {}) {
  const values = new Map(Object.entries(initial));
  return {
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
    values,
  };
}

async function attention(options: { mode?: 'serve' | 'desktop'; notifications?: WebNotifications } = {}) {
  const core = new FakeCore();
  if (options.mode === 'desktop') {
    core.handle('app.info', () => ({
      name: 'ComfyDesk',
      version: '0.0.0',
      mode: 'desktop',
      platform: 'linux',
      canOpenFolders: true,
      folders: { data: '/d', logs: '/l', outputs: '/o', workflows: '/w' },
      notices: [],
    }));
  }
  core.handle('jobs.list', () => ({ jobs: [job('a', { status: 'running', progress: progress(10) })], paused: false }));
  core.handle('history.list', () => ({ jobs: [] }));
  core.handle('jobs.retry', () => ({ jobIds: ['a2'] }));
  const frames = manualFrames();
  const toasts = new Toasts();
  const jobs = new JobsState(core.api, toasts, { schedule: frames.schedule });
  render(GenerateHarness, {
    api: core.api,
    view: 'attention',
    jobs,
    toasts,
    notifications: options.notifications ?? new WebNotifications({ port: undefined }),
  });
  await core.answered();
  const push = async (...updates: Parameters<typeof core.emit<'jobs.updated'>>[1][]) => {
    for (const update of updates) core.emit('jobs.updated', update);
    await core.answered();
    frames.frame();
  };
  return { core, toasts, push };
}

describe('job attention on every page', () => {
  test('while ours runs the title shows its percent and workflow, and the mini status links to it; both go after', async () => {
    const { push } = await attention();
    await push(job('a', { status: 'running', progress: progress(45) }));
    await waitFor(() => expect(document.title).toBe('45% · Text to image — ComfyDesk'));
    const mini = screen.getByRole('link', { name: /Running: Text to image, 45%/ });
    expect(mini.getAttribute('href')).toBe('#/generate?workflow=wf-t2i');
    await push(succeeded('a'));
    await waitFor(() => expect(document.title).toBe('ComfyDesk'));
    expect(screen.queryByRole('link', { name: /Running:/ })).toBeNull();
  });

  test('a failure raises a toast with ComfyUI’s reason and a Retry, and a Web Notification while the tab is in the background', async () => {
    const browser = fakeBrowser('granted', 'granted');
    const notifications = new WebNotifications({
      port: browser.port,
      storage: memoryStorage({ 'comfydesk.webNotifications': 'on' }),
      isInFront: () => false,
    });
    const { core, push } = await attention({ notifications });
    await push(job('a', { status: 'failed', error: { message: 'CUDA out of memory', nodeTitle: 'KSampler' } }));
    const toast = await screen.findByRole('alert');
    expect(toast.textContent).toContain('Text to image failed: CUDA out of memory (in “KSampler”)');
    expect(browser.shown.map(({ title, body }) => ({ title, body }))).toEqual([
      { title: 'Generation failed', body: 'Text to image: CUDA out of memory (in “KSampler”)' },
    ]);
    await fireEvent.click(within(toast).getByRole('button', { name: 'Retry' }));
    await core.answered();
    expect(core.callsOf('jobs.retry')).toEqual([{ jobId: 'a' }]);
  });

  test('a lost job says its settings are kept and offers Retry', async () => {
    const { push, toasts } = await attention();
    await push(job('a', { status: 'lost', error: { message: 'the server restarted and no longer knows this job' } }));
    expect(toasts.items.map((toast) => [toast.level, toast.message, toast.action?.label])).toEqual([
      [
        'warning',
        'Text to image was lost: the server restarted and no longer knows this job. Its settings are kept.',
        'Retry',
      ],
    ]);
  });

  test('a success is toasted only away from the Generate page (where the result is in view), once per batch', async () => {
    const { push, toasts } = await attention();
    await push(succeeded('a'));
    expect(toasts.items).toEqual([]);
    window.location.hash = '#/models';
    await waitFor(() => expect(window.location.hash).toBe('#/models'));
    await push(
      job('b1', { status: 'running', batch: { index: 1, count: 2 } }),
      job('b2', { status: 'held', batch: { index: 2, count: 2 } }),
    );
    await push(succeeded('b1', { batch: { index: 1, count: 2 } }));
    expect(toasts.items).toEqual([]);
    await push(succeeded('b2', { batch: { index: 2, count: 2 } }));
    expect(toasts.items.map((toast) => [toast.message, toast.action?.label])).toEqual([
      ['The batch of 2 runs of Text to image finished.', 'View'],
    ]);
  });

  test('no Web Notification in the desktop app (its shell shows native ones), nor while the page is in front', async () => {
    const browser = fakeBrowser('granted', 'granted');
    const storage = memoryStorage({ 'comfydesk.webNotifications': 'on' });
    const { push } = await attention({
      mode: 'desktop',
      notifications: new WebNotifications({ port: browser.port, storage, isInFront: () => false }),
    });
    await push(succeeded('a'));
    expect(browser.shown).toEqual([]);
    cleanup();
    const inFront = await attention({
      notifications: new WebNotifications({ port: browser.port, storage, isInFront: () => true }),
    });
    await inFront.push(succeeded('a'));
    expect(browser.shown).toEqual([]);
  });
});

describe('Settings › notifications', () => {
  test('in a browser the switch asks for permission first and remembers the choice for this browser', async () => {
    const browser = fakeBrowser('granted');
    const storage = memoryStorage();
    const core = new FakeCore();
    render(GenerateHarness, {
      api: core.api,
      view: 'settings',
      notifications: new WebNotifications({ port: browser.port, storage }),
    });
    const toggle = (await screen.findByRole('switch', {
      name: /Notify me when a generation finishes or fails/,
    })) as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    expect(screen.queryByRole('switch', { name: /tray/ })).toBeNull();
    await fireEvent.click(toggle);
    await waitFor(() => expect(toggle.checked).toBe(true));
    expect(storage.values.get('comfydesk.webNotifications')).toBe('on');
    expect(screen.getByRole('status').textContent).toContain('This browser will notify you');
  });

  test('when the browser blocks notifications the switch stays off and says how to allow them', async () => {
    const browser = fakeBrowser('denied');
    const core = new FakeCore();
    render(GenerateHarness, {
      api: core.api,
      view: 'settings',
      notifications: new WebNotifications({ port: browser.port, storage: memoryStorage() }),
    });
    const toggle = (await screen.findByRole('switch', { name: /Notify me/ })) as HTMLInputElement;
    await fireEvent.click(toggle);
    await waitFor(() =>
      expect(screen.getByRole('status').textContent).toContain('The browser blocks notifications for this page'),
    );
    expect(toggle.checked).toBe(false);
  });

  test('in the desktop app the switch is the notifications setting, beside the tray and generation settings', async () => {
    const core = new FakeCore();
    core.handle('app.info', () => ({
      name: 'ComfyDesk',
      version: '0.0.0',
      mode: 'desktop',
      platform: 'linux',
      canOpenFolders: true,
      folders: { data: '/d', logs: '/l', outputs: '/o', workflows: '/w' },
      notices: [],
    }));
    render(GenerateHarness, { api: core.api, view: 'settings' });
    const toggle = (await screen.findByRole('switch', { name: /Notify me/ })) as HTMLInputElement;
    await waitFor(() => expect(toggle.checked).toBe(true));
    await fireEvent.click(toggle);
    await fireEvent.click(screen.getByRole('switch', { name: 'Keep running in the tray when the window is closed' }));
    await fireEvent.input(screen.getByRole('spinbutton', { name: 'Jobs sent to a server at once' }), {
      target: { value: '2' },
    });
    await core.answered();
    expect(core.callsOf('settings.update')).toEqual([
      { desktop: { notifications: false } },
      { desktop: { closeToTray: false } },
      { generation: { maxInFlightPerServer: 2 } },
    ]);
    expect(screen.getByRole('switch', { name: 'Start with only the tray icon' })).toBeTruthy();
  });
});

describe('Settings › Generation', () => {
  test('the failover wait and the retry of lost jobs on another server show their settings and save changes', async () => {
    const core = new FakeCore();
    render(GenerateHarness, { api: core.api, view: 'settings' });
    const grace = (await screen.findByRole('spinbutton', {
      name: 'Move waiting jobs off an offline server after',
    })) as HTMLInputElement;
    const retry = screen.getByRole('switch', {
      name: 'Run a job lost with its server again on another server',
    }) as HTMLInputElement;
    expect(grace.value).toBe('30');
    expect(retry.checked).toBe(false);
    await fireEvent.input(grace, { target: { value: '90' } });
    await fireEvent.click(retry);
    await core.answered();
    expect(core.callsOf('settings.update')).toEqual([
      { generation: { failoverGraceSeconds: 90 } },
      { generation: { retryLostElsewhere: true } },
    ]);
    await waitFor(() => expect(retry.checked).toBe(true));
    // A value the setting cannot hold is not sent.
    await fireEvent.input(grace, { target: { value: '5000' } });
    await core.answered();
    expect(core.callsOf('settings.update')).toHaveLength(2);
  });
});

describe('the page title with several servers', () => {
  test('while jobs of ours run on several servers, the title shows how many and their mean progress', async () => {
    const { progressTitle } = await import('../../../src/renderer/src/features/shell/attention');
    const one = job('a', { status: 'running', serverId: 's1', progress: progress(20) });
    const two = job('b', { status: 'running', serverId: 's2', progress: progress(61) });
    expect(progressTitle(one, 'ComfyDesk', [one, two])).toBe('2 running · 40% — ComfyDesk');
    expect(progressTitle(one, 'ComfyDesk', [one])).toBe(`20% · ${one.workflowName} — ComfyDesk`);
  });
});

describe('the favicon ring icons', () => {
  function icons() {
    const drawn: string[] = [];
    let reads = 0;
    const ringIcons = new RingIcons(
      async (percent, colors) => {
        drawn.push(`${percent}:${colors.fill}`);
        return `data:image/png;${percent}:${colors.fill}`;
      },
      () => {
        reads += 1;
        return { track: 'grey', fill: `accent-${reads}` };
      },
    );
    return { ringIcons, drawn, reads: () => reads };
  }

  test('each step is drawn once per theme, and the theme’s colours are read once per theme', async () => {
    const { ringIcons, drawn, reads } = icons();
    expect(await ringIcons.icon(5, 'dark')).toBe('data:image/png;5:accent-1');
    expect(await ringIcons.icon(5, 'dark')).toBe('data:image/png;5:accent-1');
    expect(await ringIcons.icon(10, 'dark')).toBe('data:image/png;10:accent-1');
    expect(await ringIcons.icon(5, 'light')).toBe('data:image/png;5:accent-2');
    expect(drawn).toEqual(['5:accent-1', '10:accent-1', '5:accent-2']);
    expect(reads()).toBe(2);
  });

  test('a step asked for again while it is being drawn is drawn once', async () => {
    const { ringIcons, drawn } = icons();
    const [first, second] = await Promise.all([ringIcons.icon(5, 'dark'), ringIcons.icon(5, 'dark')]);
    expect(first).toBe(second);
    expect(drawn).toEqual(['5:accent-1']);
  });

  test('a step the page could not draw, or failed to, is tried again next time', async () => {
    let outcome: 'none' | 'throw' | 'ok' = 'none';
    const ringIcons = new RingIcons(
      async () => {
        if (outcome === 'throw') throw new Error('broken image');
        return outcome === 'ok' ? 'data:image/png;ok' : undefined;
      },
      () => ({ track: 'grey', fill: 'blue' }),
    );
    expect(await ringIcons.icon(5, 'dark')).toBeUndefined();
    outcome = 'throw';
    expect(await ringIcons.icon(5, 'dark')).toBeUndefined();
    outcome = 'ok';
    expect(await ringIcons.icon(5, 'dark')).toBe('data:image/png;ok');
  });
});
