import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { OutputFile } from '@shared/domain/job';
import type { DesktopPort } from '../../src/main/core/app/desktop-port';
import type { Core } from '../../src/main/core/create-core';
import { startTestCore, tempDir } from '../support/core';
import { job } from '../support/jobs';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** A desktop shell that records what it was asked to open or show. */
class RecordingDesktop implements DesktopPort {
  readonly opened: string[] = [];
  readonly shown: string[] = [];
  async openPath(path: string): Promise<void> {
    this.opened.push(path);
  }
  showItemInFolder(path: string): void {
    this.shown.push(path);
  }
  async openExternal(): Promise<void> {}
}

async function desktopCore(settings?: unknown): Promise<{ core: Core; dataDir: string; desktop: RecordingDesktop }> {
  const desktop = new RecordingDesktop();
  const started = await startTestCore({ settings, core: { desktop } });
  stops.push(() => started.stop());
  return { core: started.core, dataDir: started.dataDir, desktop };
}

function output(localPath: string): OutputFile {
  return { kind: 'image', nodeId: '9', filename: 'x.png', subfolder: '', type: 'output', localPath };
}

/** A finished job in the history whose outputs point at `paths`. */
function remember(core: Core, id: string, paths: string[]): void {
  core.history.save({
    job: job(id, { status: 'succeeded', outputs: paths.map(output) }),
    apiPrompt: null,
    sourceWorkflow: null,
  });
}

async function refusal(call: Promise<unknown>): Promise<{ code: string; userMessage: string }> {
  const error = (await call.then(
    () => undefined,
    (failure: unknown) => failure,
  )) as { error?: { code: string; userMessage: string } } | undefined;
  if (!error?.error) throw new Error('the call was not refused');
  return error.error;
}

describe('revealing and deleting outputs', () => {
  test('reveal shows a file that really is in the outputs folder, and never falls back to an unchecked path', async () => {
    const { core, dataDir, desktop } = await desktopCore();
    const outputs = core.outputsDir();
    mkdirSync(join(outputs, 'day'), { recursive: true });
    writeFileSync(join(outputs, 'day', 'fox.png'), 'png');
    writeFileSync(join(dataDir, 'secret.txt'), 'not an output');
    symlinkSync(join(dataDir, 'secret.txt'), join(outputs, 'day', 'link.png'));
    remember(core, 'j', ['day/fox.png', '../secret.txt', 'day/link.png', 'day/gone.png']);

    expect(await core.router.call('outputs.reveal', { jobId: 'j', index: 0 })).toEqual({
      isRevealed: true,
      path: join(outputs, 'day', 'fox.png'),
    });
    for (const index of [1, 2, 3]) {
      const refused = await refusal(core.router.call('outputs.reveal', { jobId: 'j', index }));
      expect(refused.code).toBe('not_found');
      expect(refused.userMessage).toContain('no longer in the outputs folder');
    }
    expect(desktop.shown).toEqual([join(outputs, 'day', 'fox.png')]);
  });

  test('deleting a job with its files removes only what lies in the outputs folder, never through a linked folder', async () => {
    const { core, dataDir } = await desktopCore();
    const outputs = core.outputsDir();
    mkdirSync(join(outputs, 'day'), { recursive: true });
    writeFileSync(join(outputs, 'day', 'fox.png'), 'png');
    const elsewhere = join(dataDir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'keep.png'), 'keep');
    symlinkSync(elsewhere, join(outputs, 'linked'));
    writeFileSync(join(dataDir, 'keep-too.png'), 'keep');
    remember(core, 'j', ['day/fox.png', 'linked/keep.png', '../keep-too.png']);

    await core.router.call('history.delete', { jobId: 'j', deleteFiles: true });
    expect(existsSync(join(outputs, 'day', 'fox.png'))).toBe(false);
    expect(readFileSync(join(elsewhere, 'keep.png'), 'utf8')).toBe('keep');
    expect(readFileSync(join(dataDir, 'keep-too.png'), 'utf8')).toBe('keep');
  });
});

describe('the outputs folder setting', () => {
  test('a relative path, a drive root, the home folder, the data folder or a parent of it, and a file are refused', async () => {
    const { core, dataDir } = await desktopCore();
    writeFileSync(join(dataDir, 'a-file'), '');
    const cases: Array<[string, RegExp]> = [
      ['outputs', /full path/],
      ['/', /root of a drive/],
      [homedir(), /home folder/],
      [dataDir, /ComfyDesk's own data/],
      [dirname(dataDir), /ComfyDesk's own data|home folder/],
      [join(dataDir, 'a-file'), /a file, not a folder/],
    ];
    for (const [outputsDir, message] of cases) {
      const refused = await refusal(core.router.call('settings.update', { generation: { outputsDir } }));
      expect([outputsDir, refused.code]).toEqual([outputsDir, 'invalid_input']);
      expect(JSON.stringify(refused)).toMatch(message);
    }
    expect(core.settings.get().generation.outputsDir).toBe('');
  });

  test('"Open outputs folder" and the folders the app reports follow the folder chosen in settings', async () => {
    const { core, desktop } = await desktopCore();
    const chosen = tempDir('comfydesk-outputs-');
    stops.push(() => chosen.remove());
    const target = join(chosen.path, 'ComfyDesk');
    await core.router.call('settings.update', { generation: { outputsDir: target } });
    expect(core.outputsDir()).toBe(target);
    expect((await core.router.call('app.info', {})).folders.outputs).toBe(target);
    expect(await core.router.call('app.openFolder', { folder: 'outputs' })).toEqual({ opened: true, path: target });
    expect(desktop.opened).toEqual([target]);
    // Nothing was saved there yet: it is created so it opens (empty) instead of failing.
    expect(existsSync(target)).toBe(true);
  });

  test('a settings file edited by hand to an unsafe outputs folder is not used; outputs go to the default and the user is told', async () => {
    const { core, dataDir } = await desktopCore({ generation: { outputsDir: '/' } });
    expect(core.outputsDir()).toBe(join(dataDir, 'outputs'));
    const notices = (await core.router.call('app.info', {})).notices;
    expect(notices.map((notice) => notice.message)).toEqual([
      expect.stringContaining('The outputs folder / cannot be used'),
    ]);
  });
});
