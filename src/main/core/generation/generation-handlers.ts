import type { OpenInComfyResult } from '@shared/domain/generation';
import type { ServerDirectory } from '../jobs/server-directory';
import { AppError } from '../lib/errors';
import type { Handlers } from '../router';
import type { GenerationService } from './generation-service';
import { openInComfy, type OpenResultLike } from './open-in-comfy';
import type { PresetStore } from './preset-store';
import type { StagedInputs } from './staging';

export interface GenerationHandlerDeps {
  presets: PresetStore;
  generation: GenerationService;
  servers: ServerDirectory;
  staged: StagedInputs;
  /** Opens a server's own page (the connection manager's Open ComfyUI). */
  openServer: (serverId: string, options: { canOpenWindow: boolean }) => Promise<OpenResultLike>;
}

type GenerationCommand = 'presets.list' | 'presets.save' | 'presets.delete' | 'generation.openInComfy';

/** The Generate form's own tools: presets per workflow, and Open in ComfyUI. */
export function generationHandlers(deps: GenerationHandlerDeps): Pick<Handlers, GenerationCommand> {
  return {
    'presets.list': async ({ workflowId }) => ({ presets: await deps.presets.list(workflowId) }),
    'presets.save': async ({ workflowId, name, values, seedMode }) => ({
      presets: await deps.presets.save(workflowId, { name, values, ...(seedMode ? { seedMode } : {}) }),
    }),
    'presets.delete': async ({ workflowId, name }) => ({ presets: await deps.presets.delete(workflowId, name) }),
    'generation.openInComfy': async ({ workflowId, serverId, values }, context): Promise<OpenInComfyResult> => {
      const id = serverId ?? deps.servers.defaultId();
      if (!id)
        throw new AppError('comfy_offline', 'No ComfyUI server is set up yet. Add one in Settings › Connections.');
      return openInComfy(
        {
          generation: deps.generation,
          servers: deps.servers,
          staged: deps.staged,
          openServer: (server) => deps.openServer(server, { canOpenWindow: context.transport === 'ipc' }),
        },
        { workflowId, serverId: id, values },
      );
    },
  };
}
