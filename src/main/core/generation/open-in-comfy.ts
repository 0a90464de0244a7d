import type { OpenInComfyResult, ParameterValues } from '@shared/domain/generation';
import { StagedRef } from '@shared/domain/job';
import type { ServerDirectory } from '../jobs/server-directory';
import { AppError } from '../lib/errors';
import type { GenerationService } from './generation-service';
import { applyParameterValues, assertValidParameterValues } from './parameters/parameter-values';
import { writeValuesToWorkflow } from './parameters/write-back';
import type { StagedInputs } from './staging';

/** How Open ComfyUI went: the page's address, who opens it, and a caveat to show. */
export interface OpenResultLike {
  url: string;
  openedBy: 'window' | 'client';
  note?: string;
}

export interface OpenInComfyDeps {
  generation: Pick<GenerationService, 'load'>;
  servers: Pick<ServerDirectory, 'client' | 'label'>;
  staged: Pick<StagedInputs, 'get' | 'read'>;
  /** Opens the server's own page (a desktop window, or an address for the browser). */
  openServer: (serverId: string) => Promise<OpenResultLike>;
}

/** The folder of the server's user workflows ComfyDesk writes into (ComfyUI's workflow browser shows it as a folder). */
export const COMFY_WORKFLOWS_FOLDER = 'workflows/ComfyDesk';

/** A workflow name as a file name ComfyUI accepts on every platform (no `:\/*?"<>|`, no leading dot). */
export function userDataFileName(name: string): string {
  const cleaned = [...name]
    .map((char) => (char.charCodeAt(0) < 32 ? ' ' : char))
    .join('')
    .replace(/[\\/:*?"<>|]+/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/^[.\s]+|[.\s]+$/g, '')
    .slice(0, 120);
  return `${cleaned || 'Workflow'}.json`;
}

/**
 * Open in ComfyUI: the workflow with the form's values written back into its widgets is saved in
 * the server's user workflows (`workflows/ComfyDesk/<name>.json`, replacing an earlier copy), so it
 * appears in ComfyUI's own workflow browser; then the server's page is opened. Dropped files are
 * uploaded first so the copy names files the server has.
 */
export async function openInComfy(
  deps: OpenInComfyDeps,
  input: { workflowId: string; serverId: string; values: ParameterValues },
): Promise<OpenInComfyResult> {
  const loaded = await deps.generation.load({ workflowId: input.workflowId }, input.serverId);
  if (loaded.conversion.format !== 'ui') {
    throw new AppError(
      'invalid_input',
      `${loaded.name} is an API prompt, not a workflow saved from ComfyUI's editor, so ComfyUI's workflow browser cannot open it. Drag the file onto ComfyUI's canvas instead.`,
      { details: { workflowId: input.workflowId } },
    );
  }
  const client = deps.servers.client(input.serverId);
  if (!client) {
    throw new AppError(
      'comfy_offline',
      `${deps.servers.label(input.serverId)} is not connected right now. Connect it in Settings › Connections.`,
      { details: { serverId: input.serverId } },
    );
  }
  const values: ParameterValues = { ...input.values };
  for (const parameter of loaded.parameters) {
    const ref = StagedRef.safeParse(values[parameter.id]);
    if (!ref.success) continue;
    if (!deps.staged.get(ref.data.staged))
      throw new AppError('not_found', `The file for "${parameter.label}" is no longer available; add it again.`, {
        details: { parameterId: parameter.id },
      });
    const file = deps.staged.read(ref.data.staged);
    const uploaded = await client.uploadImage({ data: file.data, filename: file.name });
    values[parameter.id] = uploaded.subfolder ? `${uploaded.subfolder}/${uploaded.name}` : uploaded.name;
  }
  assertValidParameterValues(loaded.parameters, values);
  const { assignments } = applyParameterValues(loaded.conversion.prompt, loaded.parameters, values);
  const workflow = writeValuesToWorkflow(loaded.raw as Record<string, unknown>, loaded.conversion.nodeMap, assignments);
  const path = `${COMFY_WORKFLOWS_FOLDER}/${userDataFileName(loaded.name)}`;
  const saved = await client.saveUserData(path, JSON.stringify(workflow), { overwrite: true });
  const opened = await deps.openServer(input.serverId);
  return {
    savedAs: saved.path,
    url: opened.url,
    openedBy: opened.openedBy,
    ...(opened.note ? { note: opened.note } : {}),
  };
}
