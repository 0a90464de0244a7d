import type { AppMode } from '@shared/domain/app';
import type { Handlers } from '../router';
import type { NoticeCenter } from './notice-center';

export function appHandlers(deps: { notices: NoticeCenter; mode: AppMode; version: string; platform: string }): Pick<Handlers, 'app.info' | 'app.dismissNotice'> {
  return {
    'app.info': () => ({
      name: 'ComfyDesk',
      version: deps.version,
      mode: deps.mode,
      platform: deps.platform,
      notices: deps.notices.list(),
    }),
    'app.dismissNotice': ({ id }) => {
      deps.notices.dismiss(id);
      return {};
    },
  };
}
