import type {
  ControlMode,
  ConversionResult,
  Parameter,
  ParameterConstraints,
  ParameterGroup,
  ParameterKind,
  ValueType,
} from '@shared/domain/generation';
import type { ObjectInfo } from '../../comfy/object-info';
import { constraintsFor, modelFolderOf, uploadMediaOf, valueTypeOf } from './constraints';
import { promptTextInputs, samplerSettingsNodes, samplersOf, tracePrompts } from './conditioning';
import { disambiguate, humanize, humanizeClassName } from './labels';
import { PromptGraph, type InputRef } from './prompt-graph';

/**
 * Finds what a person wants to change in a converted workflow (issue 5 item 2): prompts by
 * following the samplers' conditioning, seed, sampling settings, size, video length and frame
 * rate, input files and model choices — each with its constraints from object_info — then every
 * other literal input under "advanced", grouped by node title. Pure and deterministic.
 */
export function detectParameters(
  conversion: Pick<ConversionResult, 'prompt'> & Partial<Pick<ConversionResult, 'nodeMap' | 'exposedInputs'>>,
  objectInfo: ObjectInfo,
): Parameter[] {
  return new Detector(new PromptGraph(conversion.prompt, objectInfo, conversion.nodeMap), conversion).run();
}

/** Field labels for the main parameter of each kind. */
export const KIND_LABELS: Record<ParameterKind, string> = {
  prompt: 'Prompt',
  negative_prompt: 'Negative prompt',
  seed: 'Seed',
  steps: 'Steps',
  cfg: 'CFG',
  guidance: 'Guidance',
  sampler: 'Sampler',
  scheduler: 'Scheduler',
  denoise: 'Denoise',
  width: 'Width',
  height: 'Height',
  batch_size: 'Batch size',
  length: 'Length (frames)',
  fps: 'Frame rate',
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  mask: 'Mask',
  model: 'Model',
  text: 'Text',
  integer: 'Number',
  number: 'Number',
  boolean: 'Switch',
  choice: 'Choice',
};

const GROUP_ORDER: readonly ParameterGroup[] = [
  'prompt',
  'inputs',
  'size',
  'sampling',
  'video',
  'models',
  'exposed',
  'advanced',
];

/** Sampling settings found by input name and type. */
const SETTINGS: Array<{ kind: ParameterKind; name: string; type: ValueType }> = [
  { kind: 'steps', name: 'steps', type: 'INT' },
  { kind: 'cfg', name: 'cfg', type: 'FLOAT' },
  { kind: 'sampler', name: 'sampler_name', type: 'COMBO' },
  { kind: 'scheduler', name: 'scheduler', type: 'COMBO' },
  { kind: 'denoise', name: 'denoise', type: 'FLOAT' },
];

const LENGTH_NAMES = new Set(['length', 'video_frames', 'num_frames', 'frames', 'frame_count']);
const FPS_NAMES = new Set(['fps', 'frame_rate']);

/** Friendly names for model inputs (ckpt_name → "Checkpoint"). */
const MODEL_INPUT_LABELS: Record<string, string> = {
  ckpt_name: 'Checkpoint',
  unet_name: 'Diffusion model',
  clip_name: 'Text encoder',
  clip_name1: 'Text encoder 1',
  clip_name2: 'Text encoder 2',
  clip_name3: 'Text encoder 3',
  clip_name4: 'Text encoder 4',
  vae_name: 'VAE',
  lora_name: 'LoRA',
  control_net_name: 'ControlNet',
  style_model_name: 'Style model',
  gligen_name: 'GLIGEN model',
  hypernetwork_name: 'Hypernetwork',
  photomaker_model_name: 'PhotoMaker model',
  audio_encoder_name: 'Audio encoder',
  config_name: 'Model config',
};

function genericKind(type: ValueType): ParameterKind {
  return ({ INT: 'integer', FLOAT: 'number', STRING: 'text', BOOLEAN: 'boolean', COMBO: 'choice' } as const)[type];
}

const key = (ref: InputRef) => `${ref.nodeId}\u0000${ref.inputName}`;

interface AddOptions {
  /** The main parameter of its kind gets the kind as its id. */
  isMain?: boolean;
  label?: string;
  section?: string;
  /** Inputs a primitive node's value flows into (for constraints and control modes). */
  consumers?: InputRef[];
}

class Detector {
  readonly #graph: PromptGraph;
  readonly #conversion: Partial<Pick<ConversionResult, 'nodeMap' | 'exposedInputs'>>;
  readonly #parameters: Parameter[] = [];
  readonly #claimed = new Set<string>();
  readonly #consumers = new Map<string, InputRef[]>();

  constructor(graph: PromptGraph, conversion: Partial<Pick<ConversionResult, 'nodeMap' | 'exposedInputs'>>) {
    this.#graph = graph;
    this.#conversion = conversion;
  }

  run(): Parameter[] {
    const samplers = samplersOf(this.#graph);
    this.#prompts(samplers);
    this.#media();
    this.#size(samplers[0]);
    this.#seeds(samplers);
    this.#settings(samplers);
    this.#video();
    this.#models();
    this.#exposed();
    this.#advanced();
    return disambiguate(
      this.#parameters
        .map((parameter, index) => ({ parameter, index }))
        .sort(
          (a, b) =>
            GROUP_ORDER.indexOf(a.parameter.group) - GROUP_ORDER.indexOf(b.parameter.group) || a.index - b.index,
        )
        .map(({ parameter }) => parameter),
    );
  }

  /** A literal input or the primitive feeding it, remembering the consumer for constraints. */
  #target(nodeId: string, inputName: string): InputRef | undefined {
    const target = this.#graph.valueTarget(nodeId, inputName);
    if (target && (target.nodeId !== nodeId || target.inputName !== inputName)) {
      const list = this.#consumers.get(key(target)) ?? [];
      list.push({ nodeId, inputName });
      this.#consumers.set(key(target), list);
    }
    return target;
  }

  #isClaimed(ref: InputRef): boolean {
    return this.#claimed.has(key(ref));
  }

  #add(kind: ParameterKind, group: ParameterGroup, refs: InputRef[], options: AddOptions = {}): Parameter | undefined {
    const targets = refs.filter(
      (ref, index) => !this.#isClaimed(ref) && refs.findIndex((other) => key(other) === key(ref)) === index,
    );
    const first = targets[0];
    if (!first) return undefined;
    const consumers = options.consumers ?? this.#consumers.get(key(first)) ?? [];
    let constraints = constraintsFor(this.#graph, first, consumers);
    if (!constraints) return undefined;
    for (const other of targets.slice(1))
      constraints = intersect(constraints, constraintsFor(this.#graph, other, this.#consumers.get(key(other)) ?? []));
    const id =
      options.isMain && !this.#parameters.some((parameter) => parameter.id === kind)
        ? kind
        : `${first.nodeId}.${first.inputName}`;
    const parameter: Parameter = {
      id,
      kind,
      label: options.label ?? KIND_LABELS[kind],
      group,
      section: options.section ?? this.#title(first.nodeId),
      targets,
      value: this.#graph.literal(first.nodeId, first.inputName),
      constraints,
    };
    if (kind === 'seed') parameter.seedControl = this.#controlOf(first, consumers);
    for (const target of targets) this.#claimed.add(key(target));
    this.#parameters.push(parameter);
    return parameter;
  }

  #controlOf(target: InputRef, consumers: InputRef[]): ControlMode {
    const nodeMap = this.#conversion.nodeMap ?? {};
    for (const ref of [target, ...consumers]) {
      const mode = nodeMap[ref.nodeId]?.controls[ref.inputName];
      if (mode) return mode;
    }
    // What the ComfyUI frontend starts a new seed widget with.
    return 'randomize';
  }

  // -------------------------------------------------------------------------------------------

  #prompts(samplers: string[]): void {
    const positive: InputRef[] = [];
    const negative: InputRef[] = [];
    for (const sampler of samplers) {
      const traced = tracePrompts(this.#graph, sampler);
      positive.push(...traced.positive);
      negative.push(...traced.negative);
    }
    if (positive.length === 0 && negative.length === 0) {
      // No sampler to follow (API partner nodes, custom pipelines): prompt inputs as the node names them.
      for (const id of this.#graph.order) {
        for (const name of promptTextInputs(this.#graph, id)) {
          if (this.#graph.isLiteral(id, name))
            (/neg/i.test(name) ? negative : positive).push({ nodeId: id, inputName: name });
        }
      }
    }
    const positiveKeys = new Set(positive.map(key));
    // An encoder feeding both sides is the positive prompt (a zeroed copy is not a negative prompt).
    const negativeOnly = negative.filter((ref) => !positiveKeys.has(key(ref)));
    const positiveGroups = this.#byValue(positive);
    const negativeGroups = this.#byValue(negativeOnly);
    if (positiveGroups[0]) this.#add('prompt', 'prompt', positiveGroups[0], { isMain: true });
    if (negativeGroups[0]) this.#add('negative_prompt', 'prompt', negativeGroups[0], { isMain: true });
    for (const group of positiveGroups.slice(1))
      this.#add('prompt', 'prompt', group, { label: this.#titledLabel(group[0]!, 'Prompt') });
    for (const group of negativeGroups.slice(1))
      this.#add('negative_prompt', 'prompt', group, { label: this.#titledLabel(group[0]!, 'Negative prompt') });
  }

  /** Groups text targets holding the same text: one prompt typed once reaches every encoder that shares it. */
  #byValue(refs: InputRef[]): InputRef[][] {
    const groups = new Map<string, InputRef[]>();
    for (const ref of refs) {
      const value = JSON.stringify(this.#graph.literal(ref.nodeId, ref.inputName));
      const group = groups.get(value) ?? [];
      if (!group.some((other) => key(other) === key(ref))) group.push(ref);
      groups.set(value, group);
    }
    return [...groups.values()];
  }

  #titledLabel(ref: InputRef, fallback: string): string {
    return this.#graph.customTitle(ref.nodeId) ?? `${fallback} (${this.#graph.title(ref.nodeId)})`;
  }

  #media(): void {
    const counts = new Map<ParameterKind, number>();
    for (const id of this.#graph.order) {
      for (const name of Object.keys(this.#graph.node(id)!.inputs)) {
        if (!this.#graph.isLiteral(id, name) || this.#graph.typeOf(id, name) !== 'COMBO') continue;
        const media = uploadMediaOf(this.#graph.optionsOf(id, name));
        if (!media) continue;
        const kind: ParameterKind = media === 'image' && /mask/i.test(this.#graph.classType(id)) ? 'mask' : media;
        const count = (counts.get(kind) ?? 0) + 1;
        counts.set(kind, count);
        this.#add(kind, 'inputs', [{ nodeId: id, inputName: name }], {
          isMain: true,
          label: this.#graph.customTitle(id) ?? (count === 1 ? KIND_LABELS[kind] : `${KIND_LABELS[kind]} ${count}`),
        });
      }
    }
  }

  /**
   * Width and height of the latent the first sampler starts from, batch size and length beside them;
   * then the size of every other node that makes an image or latent from nothing (EmptyImage, a
   * second EmptyLatentImage…), each under its own title with its batch size and colour.
   */
  #size(primary: string | undefined): void {
    const sizeNode = this.#sizeNode(primary);
    const upstream = primary ? this.#graph.ancestors(primary) : new Set(this.#graph.order);
    for (const name of ['width', 'height'] as const) {
      const candidates = this.#candidates(name, 'INT');
      const main = sizeNode ? this.#target(sizeNode, name) : undefined;
      if (!main) continue;
      const value = this.#graph.literal(main.nodeId, main.inputName);
      // Latent and schedule nodes upstream of the sampler holding the same size (Flux 2's scheduler) change with it;
      // areas and image resizes keep their own numbers.
      const same = candidates.filter(
        (ref) =>
          upstream.has(ref.nodeId) &&
          this.#graph.literal(ref.nodeId, ref.inputName) === value &&
          this.#graph.outputTypes(ref.nodeId).some((type) => type === 'LATENT' || type === 'SIGMAS'),
      );
      this.#add(name, 'size', [main, ...same], { isMain: true });
    }
    if (sizeNode) {
      const batch = this.#target(sizeNode, 'batch_size');
      if (batch) this.#add('batch_size', 'size', [batch], { isMain: true });
      const lengthName = Object.keys(this.#graph.node(sizeNode)!.inputs).find(
        (name) => LENGTH_NAMES.has(name) && this.#graph.typeOf(sizeNode, name) === 'INT',
      );
      const length = lengthName ? this.#target(sizeNode, lengthName) : undefined;
      if (length) this.#add('length', 'video', [length], { isMain: true });
    }
    for (const id of this.#graph.order) {
      if (id === sizeNode || !this.#makesSize(id)) continue;
      const section = this.#title(id);
      for (const name of ['width', 'height', 'batch_size'] as const) {
        const ref = this.#graph.typeOf(id, name) === 'INT' ? this.#target(id, name) : undefined;
        if (ref) this.#add(name, 'size', [ref], { section });
      }
      for (const name of Object.keys(this.#graph.node(id)!.inputs)) {
        const ref = this.#graph.optionsOf(id, name).display === 'color' ? this.#target(id, name) : undefined;
        if (ref) this.#add('integer', 'size', [ref], { section, label: this.#inputLabel(id, name) });
      }
    }
  }

  /**
   * A node that makes an image or a latent of a size it is told (EmptyImage, EmptyLatentImage and
   * their video kin) rather than resizing one it is given.
   */
  #makesSize(id: string): boolean {
    const hasSize = (['width', 'height'] as const).every(
      (name) => this.#graph.typeOf(id, name) === 'INT' && this.#graph.valueTarget(id, name) !== undefined,
    );
    if (!hasSize) return false;
    const makes = this.#graph.outputTypes(id).some((type) => type === 'LATENT' || type === 'IMAGE');
    const resizes = ['IMAGE', 'LATENT', 'VIDEO', 'MASK'].some(
      (type) => this.#graph.linkedInputsOfType(id, type).length > 0,
    );
    return makes && !resizes;
  }

  /** A node's title for a form heading; a bare class name ("ImageBlend", no display name on the server) made readable. */
  #title(id: string): string {
    const title = this.#graph.title(id);
    return title === this.#graph.classType(id) && /^[A-Z][A-Za-z0-9]+$/.test(title) ? humanizeClassName(title) : title;
  }

  /** An input's label for the form: object_info's display name when it has one, else the name made readable. */
  #inputLabel(id: string, name: string): string {
    const display = this.#graph.optionsOf(id, name).display_name;
    return typeof display === 'string' && display.trim() !== '' ? display.trim() : humanize(name);
  }

  #sizeNode(primary: string | undefined): string | undefined {
    const hasSize = (id: string) =>
      this.#graph.valueTarget(id, 'width') !== undefined &&
      this.#graph.valueTarget(id, 'height') !== undefined &&
      this.#graph.typeOf(id, 'width') === 'INT';
    if (primary) {
      const queue = this.#graph
        .linkedInputsOfType(primary, 'LATENT')
        .map((name) => this.#graph.link(primary, name)![0]);
      const seen = new Set<string>();
      while (queue.length > 0) {
        const id = queue.shift()!;
        if (seen.has(id)) continue;
        seen.add(id);
        if (hasSize(id)) return id;
        queue.push(...this.#graph.linkedInputsOfType(id, 'LATENT').map((name) => this.#graph.link(id, name)![0]));
      }
    }
    return this.#graph.order.find((id) => hasSize(id) && this.#graph.outputTypes(id).includes('LATENT'));
  }

  /** Every settable input called `name` of type `type`, in graph order. */
  #candidates(name: string, type: ValueType, nodes: readonly string[] = this.#graph.order): InputRef[] {
    return nodes.flatMap((id) =>
      this.#graph.node(id) &&
      Object.hasOwn(this.#graph.node(id)!.inputs, name) &&
      valueTypeOf(this.#graph.spec(id, name)) === type
        ? [this.#target(id, name)].filter((ref): ref is InputRef => ref !== undefined)
        : [],
    );
  }

  #seeds(samplers: string[]): void {
    const isSeedInput = (id: string, name: string) =>
      this.#graph.typeOf(id, name) === 'INT' &&
      (name === 'seed' ||
        name === 'noise_seed' ||
        (/seed/i.test(name) && Boolean(this.#graph.optionsOf(id, name).control_after_generate)));
    const seedInputs = (id: string) =>
      Object.keys(this.#graph.node(id)?.inputs ?? {}).filter((name) => isSeedInput(id, name));
    const ordered: InputRef[] = [];
    for (const sampler of samplers) {
      const sources = [
        sampler,
        ...this.#graph.linkedInputsOfType(sampler, 'NOISE').map((name) => this.#graph.link(sampler, name)![0]),
      ];
      for (const id of sources)
        for (const name of seedInputs(id))
          ordered.push(...[this.#target(id, name)].filter((ref): ref is InputRef => ref !== undefined));
    }
    for (const id of this.#graph.order)
      for (const name of seedInputs(id))
        ordered.push(...[this.#target(id, name)].filter((ref): ref is InputRef => ref !== undefined));
    const [first, ...rest] = ordered;
    if (first) this.#add('seed', 'sampling', [first], { isMain: true });
    for (const ref of rest) this.#add('seed', 'advanced', [ref]);
  }

  #settings(samplers: string[]): void {
    const preferred = [...new Set(samplers.flatMap((sampler) => samplerSettingsNodes(this.#graph, sampler)))];
    const ordered = [...preferred, ...this.#graph.order.filter((id) => !preferred.includes(id))];
    for (const { kind, name, type } of SETTINGS) {
      const [first, ...rest] = this.#candidates(name, type, ordered);
      if (first) this.#add(kind, 'sampling', [first], { isMain: true });
      for (const ref of rest) this.#add(kind, 'advanced', [ref]);
    }
    const guidance = this.#candidates('guidance', 'FLOAT');
    if (guidance[0]) this.#add('guidance', 'sampling', [guidance[0]], { isMain: true });
    for (const ref of guidance.slice(1)) this.#add('guidance', 'advanced', [ref]);
  }

  #video(): void {
    const lengths = [...LENGTH_NAMES].flatMap((name) => this.#candidates(name, 'INT'));
    const hasLength = this.#parameters.some((parameter) => parameter.id === 'length');
    const [firstLength, ...otherLengths] = lengths.filter((ref) => !this.#isClaimed(ref));
    if (firstLength) this.#add('length', hasLength ? 'advanced' : 'video', [firstLength], { isMain: !hasLength });
    for (const ref of otherLengths) this.#add('length', 'advanced', [ref]);
    const rates = [...FPS_NAMES]
      .flatMap((name) => [...this.#candidates(name, 'FLOAT'), ...this.#candidates(name, 'INT')])
      .sort((a, b) => this.#graph.order.indexOf(a.nodeId) - this.#graph.order.indexOf(b.nodeId));
    const [firstRate] = rates;
    if (firstRate) {
      const value = this.#graph.literal(firstRate.nodeId, firstRate.inputName);
      // Every frame rate holding the same value (conditioning and the video writer) moves together.
      this.#add(
        'fps',
        'video',
        rates.filter((ref) => this.#graph.literal(ref.nodeId, ref.inputName) === value),
        { isMain: true },
      );
    }
    for (const ref of rates) this.#add('fps', 'advanced', [ref]);
    for (const name of ['width', 'height', 'batch_size'] as const) {
      for (const ref of this.#candidates(name, 'INT')) this.#add(name, 'advanced', [ref]);
    }
  }

  #models(): void {
    for (const id of this.#graph.order) {
      const names = Object.keys(this.#graph.node(id)!.inputs).filter(
        (name) =>
          this.#graph.isLiteral(id, name) && modelFolderOf(this.#graph, { nodeId: id, inputName: name }) !== undefined,
      );
      for (const name of names) {
        const plain =
          MODEL_INPUT_LABELS[name] ?? (name === 'model_name' ? this.#graph.title(id) : this.#inputLabel(id, name));
        const custom = this.#graph.customTitle(id);
        const label = custom ? (names.length > 1 ? `${custom} › ${plain}` : custom) : plain;
        this.#add('model', 'models', [{ nodeId: id, inputName: name }], { label });
      }
    }
  }

  #exposed(): void {
    for (const exposed of this.#conversion.exposedInputs ?? []) {
      const ref = { nodeId: exposed.nodeId, inputName: exposed.inputName };
      if (this.#isClaimed(ref) || !this.#graph.isLiteral(ref.nodeId, ref.inputName)) continue;
      const type = valueTypeOf(this.#graph.spec(ref.nodeId, ref.inputName));
      if (!type) continue;
      const section = this.#conversion.nodeMap?.[ref.nodeId]?.containerTitles.at(-1) ?? this.#graph.title(ref.nodeId);
      this.#add(genericKind(type), 'exposed', [ref], { label: exposed.label, section });
    }
  }

  #advanced(): void {
    for (const id of this.#graph.order) {
      const def = this.#graph.def(id);
      const names = [
        ...Object.keys(def?.input.required ?? {}),
        ...Object.keys(def?.input.optional ?? {}),
        ...Object.keys(this.#graph.node(id)!.inputs),
      ];
      for (const name of new Set(names)) {
        if (!this.#graph.isLiteral(id, name)) continue;
        const value = this.#graph.literal(id, name);
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
        const type = valueTypeOf(this.#graph.spec(id, name));
        if (type)
          this.#add(genericKind(type), 'advanced', [{ nodeId: id, inputName: name }], {
            label: this.#inputLabel(id, name),
          });
      }
    }
  }
}

/** The tighter of two sets of constraints (for a parameter with several targets). */
function intersect(a: ParameterConstraints, b: ParameterConstraints | undefined): ParameterConstraints {
  if (!b) return a;
  const result = { ...a };
  if (b.min !== undefined) result.min = result.min === undefined ? b.min : Math.max(result.min, b.min);
  if (b.max !== undefined) result.max = result.max === undefined ? b.max : Math.min(result.max, b.max);
  if (a.options && b.options) result.options = a.options.filter((option) => b.options!.includes(option));
  return result;
}
