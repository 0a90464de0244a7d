import type { AppFolder, AppMode } from '@shared/domain/app';
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
  /** Where outputs are saved now (settings may move it away from the data folder). @default paths.outputsDir */
  outputsDir?: () => string;
  desktop: DesktopPort | undefined;
}

export function appHandlers(deps: AppHandlerDeps): Pick<Handlers, 'app.info' | 'app.dismissNotice' | 'app.openFolder'> {
  const folderPaths = (paths: Paths): Record<AppFolder, string> => ({
    data: paths.dataDir,
    logs: paths.logsDir,
    outputs: deps.outputsDir?.() ?? paths.outputsDir,
    workflows: paths.workflowsDir,
  });
  return {
    'app.info': () => ({
      name: 'ComfyDesk',
      version: deps.version,
      mode: deps.mode,
      platform: deps.platform,
      canOpenFolders: deps.desktop !== undefined,
      folders: folderPaths(deps.paths),
      notices: deps.notices.list(),
    }),
    'app.dismissNotice': ({ id }) => {
      deps.notices.dismiss(id);
      return {};
    },
    'app.openFolder': async ({ folder }) => {
      const path = folderPaths(deps.paths)[folder];
      if (!deps.desktop) return { opened: false, path };
      await deps.desktop.openPath(path);
      return { opened: true, path };
    },
  };
}
