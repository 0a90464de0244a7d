import { beforeEach, describe, expect, test, vi } from 'vitest';
import type { Job } from '@shared/domain/job';
import type { TransferItem } from '@shared/domain/transfer';
import { job as makeJob } from '../../../support/jobs';

const standIn = await vi.hoisted(async () =>
  (await import('../../../support/electron-stand-in')).createElectronStandIn(),
);
vi.mock('electron', () => standIn.module);

const { StandInNotification, StandInTray } = await import('../../../support/electron-stand-in');
const { trayElectron } = await import('../../../../src/main/electron/tray-electron');
const { TrayController } = await import('../../../../src/main/electron/tray-controller');
const { silentLogger } = await import('../../../../src/main/core/lib/logger');

function job(overrides: Partial<Job> = {}): Job {
  return makeJob('j1', overrides);
}

function running(percent: number, overrides: Partial<Job> = {}): Job {
  return job({
    status: 'running',
    progress: { percent, nodeId: '3', nodeTitle: 'KSampler', step: 15, steps: 30, etaSeconds: 12 },
    ...overrides,
  });
}

let actions: string[];
let window: InstanceType<typeof standIn.module.BrowserWindow>;
let notificationsEnabled: boolean;
let controller: InstanceType<typeof TrayController>;

function tray() {
  return StandInTray.created.at(-1)!;
}

function iconName(): string {
  return ((tray().image as { path: string }).path.split('/').at(-1) ?? '').replace('.png', '');
}

beforeEach(() => {
  StandInTray.created.length = 0;
  StandInNotification.shown.length = 0;
  actions = [];
  notificationsEnabled = true;
  window = new standIn.module.BrowserWindow({});
  controller = new TrayController({
    electron: trayElectron,
    actions: {
      showWindow: () => actions.push('show'),
      showJob: (id) => actions.push(`show-job:${id}`),
      setPaused: (paused) => actions.push(paused ? 'pause' : 'resume'),
      openOutputs: () => actions.push('outputs'),
      quit: () => actions.push('quit'),
    },
    trayIconsDir: '/res/tray',
    outputsDir: () => '/data/outputs',
    window: () => window as never,
    notificationsEnabled: () => notificationsEnabled,
    log: silentLogger,
  });
  controller.start();
});

describe('tray, taskbar and notifications from job events', () => {
  test('idle: the idle icon, an idle tooltip, and a menu with pause, show, outputs and quit', () => {
    expect(iconName()).toBe('idle');
    expect(tray().tooltip).toBe('ComfyDesk — idle');
    expect(tray().menu!.items.map((item) => item.label ?? item.type)).toEqual([
      'Nothing running',
      '0 jobs waiting',
      'separator',
      'Pause queue',
      'Show ComfyDesk',
      'Open outputs folder',
      'separator',
      'Quit ComfyDesk',
    ]);
    expect(window.progressBar.value).toBe(-1);
  });

  test('start and progress: the ring icon follows the percent, the tooltip and menu show the job, the taskbar bar moves', () => {
    controller.update([job()], false);
    expect(tray().tooltip).toBe('ComfyDesk — 1 waiting');
    controller.update([running(0)], false);
    expect(iconName()).toBe('running-0');
    controller.update([running(50), job({ id: 'j2' })], false);
    expect(iconName()).toBe('running-4');
    expect(tray().tooltip).toBe('ComfyDesk — Text to image 50% · KSampler (step 15/30) · ~12 s left · 1 waiting');
    expect(
      tray()
        .menu!.items.slice(0, 3)
        .map((item) => item.label),
    ).toEqual(['Text to image — 50%', 'KSampler (step 15/30) · ~12 s left', '1 job waiting']);
    expect(window.progressBar).toEqual({ value: 0.5, mode: 'normal' });
  });

  test('jobs running on several servers: the tray, tooltip and taskbar show their overall progress', () => {
    controller.update(
      [running(20, { serverId: 'a' }), running(60, { id: 'j2', serverId: 'b' }), job({ id: 'j3' })],
      false,
    );
    expect(tray().tooltip).toBe('ComfyDesk — 2 running on your servers, 40% overall · 1 waiting');
    expect(iconName()).toBe('running-3');
    expect(window.progressBar).toEqual({ value: 0.4, mode: 'normal' });
  });

  test('success: one notification with the result thumbnail; clicking it shows that job; idle again', () => {
    controller.update([running(90)], false);
    const done = job({
      status: 'succeeded',
      progress: null,
      outputs: [
        { kind: 'image', nodeId: '9', filename: 'a.png', subfolder: '', type: 'output', localPath: 'j1/a.png' },
      ],
    });
    controller.update([done], false);
    controller.update([done], false);
    expect(StandInNotification.shown).toHaveLength(1);
    const notification = StandInNotification.shown[0]!;
    expect(notification.options).toMatchObject({
      title: 'Generation finished',
      body: 'Text to image — a red fox in the snow',
      icon: { path: '/data/outputs/j1/a.png' },
    });
    notification.emit('click');
    expect(actions).toEqual(['show-job:j1']);
    expect(iconName()).toBe('idle');
    expect(window.progressBar.value).toBe(-1);
  });

  test('failure: a notification with the reason, the error icon and a red taskbar bar until the window is focused', () => {
    controller.update([running(30)], false);
    controller.update([job({ status: 'failed', error: { message: 'CUDA out of memory' } })], false);
    expect(StandInNotification.shown[0]!.options).toMatchObject({
      title: 'Generation failed',
      body: 'Text to image: CUDA out of memory',
    });
    expect(iconName()).toBe('error');
    expect(tray().tooltip).toBe('ComfyDesk — last job failed: CUDA out of memory');
    expect(window.progressBar).toEqual({ value: 1, mode: 'error' });
    controller.windowFocused();
    expect(iconName()).toBe('idle');
  });

  test('cancel: no notification, back to idle', () => {
    controller.update([running(30)], false);
    controller.update([job({ status: 'cancelled' })], false);
    expect(StandInNotification.shown).toHaveLength(0);
    expect(iconName()).toBe('idle');
  });

  test("several jobs: our running job is shown over another client's, and the queue counts both kinds of waiting jobs", () => {
    controller.update(
      [
        running(10, { id: 'f', origin: 'foreign', workflowName: 'Someone else' }),
        running(60, { id: 'mine' }),
        job({ id: 'h' }),
        job({ id: 'q', status: 'queued' }),
      ],
      false,
    );
    expect(tray().tooltip).toContain('Text to image 60%');
    expect(tray().tooltip).toContain('2 waiting');
    // Another client's job finishing does not notify.
    controller.update([job({ id: 'f', origin: 'foreign', status: 'succeeded' }), running(70, { id: 'mine' })], false);
    expect(StandInNotification.shown).toHaveLength(0);
  });

  test('the menu pauses and resumes the queue, shows the window, opens outputs and quits', () => {
    tray().clickMenuItem('Pause queue');
    controller.update([job()], true);
    expect(tray().tooltip).toBe('ComfyDesk — 1 waiting (paused)');
    tray().clickMenuItem('Resume queue');
    tray().clickMenuItem('Show ComfyDesk');
    tray().clickMenuItem('Open outputs folder');
    tray().clickMenuItem('Quit ComfyDesk');
    tray().emit('click');
    expect(actions).toEqual(['pause', 'resume', 'show', 'outputs', 'quit', 'show']);
  });

  test('no notification when they are turned off, or while the window is focused', () => {
    notificationsEnabled = false;
    controller.update([running(10)], false);
    controller.update([job({ status: 'succeeded' })], false);
    notificationsEnabled = true;
    window.focus();
    controller.update([running(10, { id: 'j3' })], false);
    controller.update([job({ id: 'j3', status: 'succeeded' })], false);
    expect(StandInNotification.shown).toHaveLength(0);
  });

  test("a pod's cost alert becomes a native notification that shows the window when clicked", () => {
    controller.notifyPod({
      serverId: 'rp',
      kind: 'idle',
      title: 'RunPod 4090 is idle',
      message: 'RunPod 4090: queue done 10 min ago — pod still running at $0.79/h.',
    });
    expect(StandInNotification.shown).toHaveLength(1);
    const notification = StandInNotification.shown[0]!;
    expect(notification.options).toEqual({
      title: 'RunPod 4090 is idle',
      body: 'RunPod 4090: queue done 10 min ago — pod still running at $0.79/h.',
    });
    notification.emit('click');
    expect(actions).toEqual(['show']);
  });

  test('no pod notification when notifications are off or the window is in front (it shows the alert itself)', () => {
    const alert = { serverId: 'rp', kind: 'auto-stop' as const, title: 'Stopping RunPod 4090', message: 'in 60 s' };
    notificationsEnabled = false;
    controller.notifyPod(alert);
    notificationsEnabled = true;
    window.focus();
    controller.notifyPod(alert);
    expect(StandInNotification.shown).toHaveLength(0);
  });
});

function transfer(overrides: Partial<TransferItem> = {}): TransferItem {
  return {
    id: 't1',
    serverId: 'pod',
    serverName: 'Pod',
    kind: 'model',
    name: 'sd15.safetensors',
    folder: 'checkpoints',
    url: 'https://example.com/sd15.safetensors',
    destination: '/workspace/ComfyUI/models/checkpoints/sd15.safetensors',
    method: 'ssh',
    state: 'running',
    receivedBytes: 500_000_000,
    totalBytes: 1_000_000_000,
    bytesPerSecond: 50_000_000,
    etaSeconds: 10,
    error: null,
    note: null,
    workflowIds: ['w1'],
    createdAt: 1,
    updatedAt: 2,
    finishedAt: null,
    ...overrides,
  };
}

describe('tray and taskbar while files download onto a server', () => {
  test('with no job running the ring, tooltip, menu and taskbar follow the downloads', () => {
    controller.updateDownloads([transfer(), transfer({ id: 't2', receivedBytes: 0, totalBytes: 1_000_000_000 })]);
    expect(iconName()).toBe('running-2');
    expect(tray().tooltip).toBe('ComfyDesk — downloading 2 files 25% · 95 MB/s · ~15 s left');
    expect(tray().menu!.items.map((item) => item.label)).toContain('Downloading 2 files 25% · 95 MB/s · ~15 s left');
    expect(window.progressBar).toEqual({ value: 0.25, mode: 'normal' });
    // A job's progress comes first; the downloads stay in the tooltip.
    controller.update([running(50)], false);
    expect(iconName()).toBe('running-4');
    expect(window.progressBar).toEqual({ value: 0.5, mode: 'normal' });
    expect(tray().tooltip).toContain('· downloading 2 files 25%');
    // Finished downloads leave the tray.
    controller.update([], false);
    controller.updateDownloads([transfer({ state: 'done' })]);
    expect(iconName()).toBe('idle');
    expect(window.progressBar.value).toBe(-1);
    expect(tray().tooltip).toBe('ComfyDesk — idle');
  });

  test('a download of unknown size shows an indeterminate taskbar bar', () => {
    controller.updateDownloads([transfer({ totalBytes: null })]);
    expect(window.progressBar.mode).toBe('indeterminate');
    expect(tray().tooltip).toBe('ComfyDesk — downloading 1 file · 48 MB/s');
  });

  test('a workflow turning Ready notifies once, and not while the window is in front', () => {
    controller.notifyReady({ workflowName: 'Portrait', serverName: 'Pod' });
    expect(StandInNotification.shown.at(-1)!.options).toMatchObject({
      title: 'Ready to run',
      body: 'Portrait is Ready on Pod: its models are on the server.',
    });
    StandInNotification.shown.at(-1)!.emit('click');
    expect(actions).toEqual(['show']);
    window.focus();
    controller.notifyReady({ workflowName: 'Portrait', serverName: 'Pod' });
    expect(StandInNotification.shown).toHaveLength(1);
  });
});
