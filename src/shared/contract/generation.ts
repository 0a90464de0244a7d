import { z } from 'zod';
import { OpenInComfyResult, ParameterValues, Preset } from '../domain/generation';
import { SeedMode } from '../domain/job';

const WorkflowId = z.string().min(1).max(128);
const Presets = z.object({ presets: z.array(Preset) });

/** The Generate form's own tools: named presets per workflow, and opening the form's values in ComfyUI. */
export const generationCommands = {
  /** The presets saved for a workflow, by name. */
  'presets.list': { input: z.object({ workflowId: WorkflowId }).strict(), output: Presets },
  /** Saves (or replaces, by name) a preset; answers the workflow's presets. */
  'presets.save': {
    input: z
      .object({
        workflowId: WorkflowId,
        name: z.string().trim().min(1).max(80),
        values: ParameterValues,
        seedMode: SeedMode.optional(),
      })
      .strict(),
    output: Presets,
  },
  'presets.delete': {
    input: z.object({ workflowId: WorkflowId, name: z.string().min(1).max(80) }).strict(),
    output: Presets,
  },
  /**
   * Writes the workflow with these values into the server's user workflows (so ComfyUI's workflow
   * browser lists it) and opens that server's page. Dropped files are uploaded first.
   */
  'generation.openInComfy': {
    input: z
      .object({ workflowId: WorkflowId, serverId: z.string().min(1).optional(), values: ParameterValues })
      .strict(),
    output: OpenInComfyResult,
  },
} as const;
