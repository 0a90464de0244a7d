import { mkdir } from 'node:fs/promises';
import type { AppFolder, AppMode } from '@shared/domain/app';
import { fileError } from '../lib/errors';
import type { Paths } from '../paths';
import type { Handlers } from '../router';
import type { DesktopPort } from './desktop-port';
import type { NoticeCenter } from './notice-center';

export interface AppHandlerDeps {
  notices: NoticeCenter;
  mode: AppMode;
  version: string;
  platform: string;
  paths: Paths;
  /** Where outputs are saved now: the folder chosen in settings, else the data folder's. */
  outputsDir: () => string;
  desktop: DesktopPort | undefined;
}

function folderPaths(deps: AppHandlerDeps): Record<AppFolder, string> {
  const { paths } = deps;
  return { data: paths.dataDir, logs: paths.logsDir, outputs: deps.outputsDir(), workflows: paths.workflowsDir };
}

export function appHandlers(deps: AppHandlerDeps): Pick<Handlers, 'app.info' | 'app.dismissNotice' | 'app.openFolder'> {
  return {
    'app.info': () => ({
      name: 'ComfyDesk',
      version: deps.version,
      mode: deps.mode,
      platform: deps.platform,
      canOpenFolders: deps.desktop !== undefined,
      folders: folderPaths(deps),
      notices: deps.notices.list(),
    }),
    'app.dismissNotice': ({ id }) => {
      deps.notices.dismiss(id);
      return {};
    },
    'app.openFolder': async ({ folder }) => {
      const path = folderPaths(deps)[folder];
      if (!deps.desktop) return { opened: false, path };
      // A folder nothing was saved to yet still opens (empty) instead of failing.
      await mkdir(path, { recursive: true }).catch((error: unknown) => {
        throw fileError(error, 'create', path);
      });
      await deps.desktop.openPath(path);
      return { opened: true, path };
    },
  };
}
