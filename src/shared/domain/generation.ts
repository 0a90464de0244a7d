import { z } from 'zod';

/**
 * Generation: what a workflow becomes before it is queued. A UI workflow is converted into an API
 * prompt (protocol doc §6), the prompt's user-facing parameters are detected, and the values a
 * person picks are validated and injected. These schemas are shared so the renderer can build its
 * form from them; the logic lives in `src/main/core/generation`.
 */

// ---------------------------------------------------------------------------------------------
// The API prompt (protocol doc §6.7)

/** One node of an API prompt: `{class_type, inputs, _meta?}`. Inputs hold literals or links `["<id>", slot]`. */
export const ApiNode = z
  .object({
    class_type: z.string(),
    inputs: z.record(z.string(), z.unknown()),
    _meta: z.object({ title: z.string().optional() }).loose().optional(),
  })
  .loose();
export type ApiNode = z.infer<typeof ApiNode>;

/** The dict POSTed to ComfyUI's `/prompt`: execution id → node. */
export const ApiPrompt = z.record(z.string(), ApiNode);
export type ApiPrompt = z.infer<typeof ApiPrompt>;

/** A link inside an API prompt: `["<source execution id>", <output index>]` (literal lists are boxed as `{"__value__": …}`). */
export type ApiLink = [string, number];

/** Whether an API prompt input value is a link rather than a literal. */
export function isApiLink(value: unknown): value is ApiLink {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';
}

/** Which format a workflow file was in: the frontend's graph (`ui`) or an API prompt (`api`). */
export const WorkflowFormat = z.enum(['ui', 'api']);
export type WorkflowFormat = z.infer<typeof WorkflowFormat>;

/** How a seed-like widget changes between runs (ComfyUI's `control_after_generate` modes). */
export const ControlMode = z.enum(['fixed', 'increment', 'decrement', 'randomize', 'increment-wrap']);
export type ControlMode = z.infer<typeof ControlMode>;

// ---------------------------------------------------------------------------------------------
// Conversion result

/**
 * Why a conversion needed attention. `info` = expected and handled (a legacy format that was
 * upgraded), `warning` = the result may differ from what the ComfyUI frontend would have sent.
 */
export const ConversionWarningCode = z.enum([
  /** A link id that does not exist, or a link to a node that does not exist: the input is left unconnected. */
  'dangling_link',
  /** A node's saved widget values do not fit the server's inputs (count or types); values were matched by type and defaults filled in. */
  'widget_layout_mismatch',
  /** An old file stores a boolean where the seed control mode belongs. */
  'legacy_control_value',
  /** A bypassed node has no input that can stand in for the output a link needs. */
  'bypass_unresolved',
  /** A circular chain of links (through reroutes, bypassed nodes or subgraphs) was cut. */
  'link_cycle',
  /** A KJNodes GetNode names a SetNode that does not exist. */
  'set_node_missing',
  /** A legacy group node was expanded; re-saving the workflow in a current ComfyUI turns it into a subgraph. */
  'legacy_group_node',
  /** A widget the ComfyUI frontend computes itself (3D viewer, webcam, recorder…): the saved value was sent as is. */
  'frontend_widget',
  /** A PrimitiveNode points at a widget the target node does not have. */
  'primitive_target_missing',
  /** An API prompt had a link with a numeric node id, or a reserved key; it was normalised. */
  'api_normalised',
  /** A node (or part of the file) could not be read and was skipped. */
  'node_skipped',
  /** A node that would run lacks a required input (its source is muted, bypassed without a match, or missing): ComfyUI will refuse the prompt. */
  'required_input_missing',
]);
export type ConversionWarningCode = z.infer<typeof ConversionWarningCode>;

/** Something about the conversion a person may need to know, tied to a node where there is one. */
export const ConversionWarning = z.object({
  code: ConversionWarningCode,
  severity: z.enum(['info', 'warning']),
  /** One sentence for a person. */
  message: z.string(),
  /** Execution id of the node concerned (`"12"`, `"12:5"`), when there is one. */
  nodeId: z.string().optional(),
  /** That node's title as the workflow shows it. */
  title: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ConversionWarning = z.infer<typeof ConversionWarning>;

/** A node type the server does not have, with the pack that provides it when the file says so. */
export const MissingNodeType = z.object({
  type: z.string(),
  /** Execution ids of the nodes of this type that would have run. */
  nodeIds: z.array(z.string()),
  /** Comfy registry id of the node pack (`properties.cnr_id`). */
  cnrId: z.string().optional(),
  /** GitHub `user/repo` of the pack (`properties.aux_id`). */
  auxId: z.string().optional(),
  /** Pack version the workflow was saved with (`properties.ver`). */
  version: z.string().optional(),
});
export type MissingNodeType = z.infer<typeof MissingNodeType>;

/**
 * Where a literal of the API prompt lives in the UI workflow, so values injected later can be
 * written back into `widgets_values` (for `extra_pnginfo.workflow`).
 */
export const WidgetSource = z.object({
  /** `root`, a subgraph definition UUID, or `group:<name>` for a legacy group node definition. */
  graph: z.string(),
  /** The UI node id within that graph (a legacy group node's inner nodes use their index). */
  nodeId: z.string(),
  /** Index into `widgets_values` (array form) or its key (object form). */
  slot: z.union([z.number().int().nonnegative(), z.string()]),
});
export type WidgetSource = z.infer<typeof WidgetSource>;

/** What an execution id of the API prompt stands for in the UI workflow. */
export const NodeMapEntry = z.object({
  classType: z.string(),
  /** The node's title (user-given, else the node type's display name). */
  title: z.string(),
  /** Whether a person renamed the node (its title is a label worth showing). */
  hasCustomTitle: z.boolean(),
  /** UI node ids from the root graph down: enclosing subgraph/group instances first. */
  uiPath: z.array(z.string()),
  /** Titles of the enclosing subgraph or group instances, outermost first. */
  containerTitles: z.array(z.string()),
  /** Input name → where its literal value came from in the UI workflow. */
  widgetSources: z.record(z.string(), z.array(WidgetSource)),
  /** Input name → the control-after-generate mode saved with it (seeds and other controlled widgets). */
  controls: z.record(z.string(), ControlMode),
});
export type NodeMapEntry = z.infer<typeof NodeMapEntry>;

/**
 * An input a subgraph's author exposed on the instance (a promoted widget or a
 * `properties.proxyWidgets` entry): a parameter they chose to show.
 */
export const ExposedInput = z.object({
  /** Execution id of the inner node that receives the value. */
  nodeId: z.string(),
  inputName: z.string(),
  /** The label the instance shows for it. */
  label: z.string(),
  /** Execution id of the subgraph instance that exposes it. */
  instanceId: z.string(),
});
export type ExposedInput = z.infer<typeof ExposedInput>;

/** Everything `convertWorkflow` produces. */
export const ConversionResult = z.object({
  format: WorkflowFormat,
  /** The API prompt. Nodes whose type the server lacks are left out: check `missingNodeTypes` before queueing. */
  prompt: ApiPrompt,
  warnings: z.array(ConversionWarning),
  missingNodeTypes: z.array(MissingNodeType),
  /** Execution id → UI node, for titles in progress events and for writing values back. */
  nodeMap: z.record(z.string(), NodeMapEntry),
  exposedInputs: z.array(ExposedInput),
});
export type ConversionResult = z.infer<typeof ConversionResult>;

// ---------------------------------------------------------------------------------------------
// Parameters

/** What a parameter means: the form picks its control and wording from this. */
export const ParameterKind = z.enum([
  'prompt',
  'negative_prompt',
  'seed',
  'steps',
  'cfg',
  'guidance',
  'sampler',
  'scheduler',
  'denoise',
  'width',
  'height',
  'batch_size',
  'length',
  'fps',
  'image',
  'video',
  'audio',
  'mask',
  'model',
  // Generic kinds for everything else (advanced and exposed inputs), by value type.
  'text',
  'integer',
  'number',
  'boolean',
  'choice',
]);
export type ParameterKind = z.infer<typeof ParameterKind>;

/** Where a parameter belongs in the form, in display order. `advanced` is collapsed by default. */
export const ParameterGroup = z.enum([
  'prompt',
  'inputs',
  'size',
  'sampling',
  'video',
  'models',
  'exposed',
  'advanced',
]);
export type ParameterGroup = z.infer<typeof ParameterGroup>;

/** The value type ComfyUI checks an input against. */
export const ValueType = z.enum(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);
export type ValueType = z.infer<typeof ValueType>;

/** What the server's object_info allows for a parameter's value. */
export const ParameterConstraints = z.object({
  type: ValueType,
  /** Inclusive bounds (INT, FLOAT). INT bounds are kept within JavaScript's safe integers. */
  min: z.number().optional(),
  max: z.number().optional(),
  /** UI step (INT, FLOAT); the server does not check it. */
  step: z.number().optional(),
  /** UI rounding precision (FLOAT). */
  round: z.number().optional(),
  /** The choices (COMBO). For media and remote combos they are suggestions, not a limit. */
  options: z.array(z.union([z.string(), z.number()])).optional(),
  /** A text area rather than a one-line field (STRING). */
  multiline: z.boolean().optional(),
  /** The server's default for the input. */
  default: z.unknown().optional(),
  /** `slider`, `knob`, `color`… as object_info suggests (INT, FLOAT). */
  display: z.string().optional(),
  /** A file the user provides and ComfyDesk uploads (LoadImage and friends). */
  media: z.enum(['image', 'video', 'audio']).optional(),
  /** The server accepts any existing file path here, listed or not (custom validation). */
  acceptsAnyFile: z.boolean().optional(),
  /** Which server folder the value names (`input`, `output`, or a model folder key such as `checkpoints`). */
  folder: z.string().optional(),
  /** The options come from a route the frontend fetches; the server does not limit them. */
  isRemote: z.boolean().optional(),
  /** Text that the frontend runs through dynamic prompts (`{a|b}`) before sending. */
  dynamicPrompts: z.boolean().optional(),
  /** The input's tooltip from object_info. */
  tooltip: z.string().optional(),
});
export type ParameterConstraints = z.infer<typeof ParameterConstraints>;

/** One input a parameter sets: `(execution id, input name)` of the API prompt. */
export const ParameterTarget = z.object({ nodeId: z.string(), inputName: z.string() });
export type ParameterTarget = z.infer<typeof ParameterTarget>;

/** A value a person may change, with everything a generated form field needs. */
export const Parameter = z.object({
  /**
   * Stable id: the kind for the main parameter of that kind (`prompt`, `seed`, `steps`…), otherwise
   * `<nodeId>.<inputName>` of its first target. The same workflow gives the same ids every time.
   */
  id: z.string(),
  kind: ParameterKind,
  /** The field label: the user's node title where they gave one, else a plain name ("Steps"). */
  label: z.string(),
  group: ParameterGroup,
  /** Sub-heading within the group: the node title (advanced inputs are grouped by it). */
  section: z.string(),
  /** Every input this value goes to (one prompt may feed several encoders). */
  targets: z.array(ParameterTarget).min(1),
  /** The value the workflow has now. */
  value: z.unknown(),
  constraints: ParameterConstraints,
  /** Seeds: how the value changes between runs unless the user picks another mode. */
  seedControl: ControlMode.optional(),
});
export type Parameter = z.infer<typeof Parameter>;

/** Parameter id → the value a person chose. Ids not present keep the workflow's value. */
export const ParameterValues = z.record(z.string(), z.unknown());
export type ParameterValues = z.infer<typeof ParameterValues>;

/** Why a chosen value cannot be queued. */
export const ParameterIssue = z.object({
  parameterId: z.string(),
  code: z.enum(['unknown_parameter', 'wrong_type', 'below_min', 'above_max', 'not_an_option', 'no_options']),
  /** One sentence naming the field and the allowed values. */
  message: z.string(),
});
export type ParameterIssue = z.infer<typeof ParameterIssue>;

/** One value written into the prompt: what `applyParameterValues` did, for writing back to the UI workflow. */
export const ParameterAssignment = z.object({ nodeId: z.string(), inputName: z.string(), value: z.unknown() });
export type ParameterAssignment = z.infer<typeof ParameterAssignment>;

// ---------------------------------------------------------------------------------------------
// Presets and Open in ComfyUI

/** How a batch changes the seed between runs (the same values as the job's `SeedMode`). */
const PresetSeedMode = z.enum(['randomize', 'fixed', 'increment']);

/** A named set of values for one workflow's form, saved on this machine. */
export const Preset = z.object({
  /** Shown in the list; unique per workflow (saving under a used name replaces that preset). */
  name: z.string().min(1).max(80),
  /** Parameter id → value. Prompts and input files are not part of a preset. */
  values: ParameterValues,
  /** The seed mode chosen when it was saved, if one was. */
  seedMode: PresetSeedMode.optional(),
  /** ms since epoch. */
  savedAt: z.number(),
});
export type Preset = z.infer<typeof Preset>;

/** A workflow written into a server's user data so ComfyUI's own workflow browser lists it. */
export const OpenInComfyResult = z.object({
  /** Where it was saved, relative to the server's user folder (`workflows/ComfyDesk/Name.json`). */
  savedAs: z.string(),
  /** ComfyUI's own page. */
  url: z.string(),
  /** `window`: the desktop app opened it; `client`: the caller opens `url` (a new browser tab). */
  openedBy: z.enum(['window', 'client']),
  /** A caveat to show (an SSH tunnel's address, a proxy sign-in). */
  note: z.string().optional(),
});
export type OpenInComfyResult = z.infer<typeof OpenInComfyResult>;
