import type { GenerationForm } from '@shared/contract/jobs';
import { checkParameterValue } from '@shared/parameter-check';
import type { Parameter } from '@shared/domain/generation';
import type { SeedMode, StagedInput } from '@shared/domain/job';
import type { WorkflowCard } from '@shared/domain/workflow';
import type { ApiClient } from '../api';
import { ApiError, errorMessage } from '../api';

/** Largest file a run may take (the core refuses bigger ones). @default 64 MiB */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** What the Generate panel works against, as the page knows it. */
export interface GenerationTarget {
  /** The workflow chosen in the URL; undefined when none is. */
  workflowId: string | undefined;
  /** Its library card, when the library has it (undefined while loading or after it was deleted). */
  card: WorkflowCard | undefined;
  /** Whether the library has been read (so a missing card means the workflow is gone). */
  isLibraryLoaded: boolean;
  /** The default connection, and whether it is online. */
  serverId: string | null;
  isOnline: boolean;
  /** Whether the window is connected to ComfyDesk itself. */
  isLinkOpen: boolean;
}

/** A file a person dropped or picked for a media field. */
export interface StagedFile {
  state: 'reading' | 'ready' | 'failed';
  name: string;
  mime: string;
  sizeBytes: number;
  /** A local object URL for the thumbnail (images, video and audio play from it too). */
  previewUrl: string | undefined;
  /** The core's handle once staged. */
  input: StagedInput | undefined;
  error: string | undefined;
}

export interface GenerationStateOptions {
  /** Creates a preview address for a local file. @default URL.createObjectURL where it exists */
  createPreviewUrl?: (file: Blob) => string | undefined;
  revokePreviewUrl?: (url: string) => void;
  /** @default Math.random */
  random?: () => number;
  /** Reads a saved output by its address (for "use as input"). @default fetch */
  fetchFile?: (url: string) => Promise<Blob>;
}

/** Values that follow a person from one workflow to the next (what they wrote, not how a graph is set up). */
const CARRIED_OVER = ['prompt', 'negative_prompt'];

const EMPTY_TARGET: GenerationTarget = {
  workflowId: undefined,
  card: undefined,
  isLibraryLoaded: false,
  serverId: null,
  isOnline: false,
  isLinkOpen: false,
};

/**
 * The Generate panel's form: the selected workflow converted for the default server
 * (`generation.form`), reloaded when the workflow, the connection, its state or what the server has
 * changes; the values a person changed (by parameter id), what is wrong with them (checked here
 * as they type, and by the core on Generate), the seed mode, the batch count, the dropped files,
 * and `generate()`.
 */
export class GenerationState {
  #target = $state.raw<GenerationTarget>(EMPTY_TARGET);
  #form = $state.raw<GenerationForm | undefined>(undefined);
  #isLoading = $state(false);
  #loadError = $state<string | undefined>(undefined);
  #edits = $state.raw<Readonly<Record<string, unknown>>>({});
  #seedMode = $state<SeedMode | undefined>(undefined);
  #count = $state(1);
  /** The server the next runs are pinned to; null spreads them over every server used for generation. */
  #pin = $state<string | null>(null);
  #staged = $state.raw<Readonly<Record<string, StagedFile>>>({});
  #serverIssues = $state.raw<Readonly<Record<string, string>>>({});
  #submitError = $state<string | undefined>(undefined);
  #isSubmitting = $state(false);
  /** A file to put into the image input of a workflow whose form is still loading ("use as input"). */
  #pendingInput: { workflowId: string; file: File } | undefined;
  #loadedKey = '';
  #loadSeq = 0;
  readonly #api: ApiClient;
  readonly #createPreviewUrl: (file: Blob) => string | undefined;
  readonly #revokePreviewUrl: (url: string) => void;
  readonly #random: () => number;
  readonly #fetchFile: (url: string) => Promise<Blob>;

  readonly #parameters = $derived(this.#form?.parameters ?? []);
  readonly #issues = $derived.by(() => {
    const issues: Record<string, string> = {};
    for (const parameter of this.#parameters) {
      const problem = fieldProblem(parameter, this.valueOf(parameter), this.#staged[parameter.id]);
      if (problem) issues[parameter.id] = problem;
    }
    return issues;
  });

  constructor(api: ApiClient, options: GenerationStateOptions = {}) {
    this.#api = api;
    this.#createPreviewUrl =
      options.createPreviewUrl ??
      ((file) => (typeof URL.createObjectURL === 'function' ? URL.createObjectURL(file) : undefined));
    this.#revokePreviewUrl =
      options.revokePreviewUrl ??
      ((url) => (typeof URL.revokeObjectURL === 'function' ? URL.revokeObjectURL(url) : undefined));
    this.#random = options.random ?? Math.random;
    this.#fetchFile =
      options.fetchFile ??
      (async (url) => {
        const response = await fetch(url);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.blob();
      });
  }

  get target(): GenerationTarget {
    return this.#target;
  }

  get form(): GenerationForm | undefined {
    return this.#form;
  }

  get parameters(): Parameter[] {
    return this.#parameters;
  }

  get isLoading(): boolean {
    return this.#isLoading;
  }

  /** Why the form could not be read (the core's words), if it could not. */
  get loadError(): string | undefined {
    return this.#loadError;
  }

  /** The main prompt parameter, when the workflow has one. */
  get promptParameter(): Parameter | undefined {
    return this.#parameters.find((parameter) => parameter.id === 'prompt');
  }

  get negativeParameter(): Parameter | undefined {
    return this.#parameters.find((parameter) => parameter.id === 'negative_prompt');
  }

  /** Whether the Prompt box belongs on the form: the workflow has a prompt, or the form is not known yet. */
  get hasPrompt(): boolean {
    return !this.#form || this.promptParameter !== undefined;
  }

  get hasNegativePrompt(): boolean {
    return !this.#form || this.negativeParameter !== undefined;
  }

  get prompt(): string {
    return asText(this.#edits.prompt ?? this.promptParameter?.value);
  }

  set prompt(text: string) {
    this.setValue('prompt', text);
  }

  get negativePrompt(): string {
    return asText(this.#edits.negative_prompt ?? this.negativeParameter?.value);
  }

  set negativePrompt(text: string) {
    this.setValue('negative_prompt', text);
  }

  /** The seed parameter, when the workflow has one. */
  get seedParameter(): Parameter | undefined {
    return this.#parameters.find((parameter) => parameter.kind === 'seed');
  }

  /** How seeds change between runs: the person's choice, else the workflow's own control mode. */
  get seedMode(): SeedMode {
    return this.#seedMode ?? seedModeOf(this.seedParameter);
  }

  get count(): number {
    return this.#count;
  }

  get pin(): string | null {
    return this.#pin;
  }

  /** Pins the next runs to one server, or (null) lets each go to the least busy server that can run it. */
  setPin(serverId: string | null): void {
    this.#pin = serverId;
  }

  /** What the person changed, by parameter id. */
  get edits(): Readonly<Record<string, unknown>> {
    return this.#edits;
  }

  /** Problems with the values, by parameter id: checked here first, then the core's answer to Generate. */
  get issues(): Readonly<Record<string, string>> {
    return { ...this.#issues, ...this.#serverIssues };
  }

  get issueCount(): number {
    return Object.keys(this.issues).length;
  }

  get staged(): Readonly<Record<string, StagedFile>> {
    return this.#staged;
  }

  /** Why the last Generate was refused, when it was not about one field. */
  get submitError(): string | undefined {
    return this.#submitError;
  }

  get isSubmitting(): boolean {
    return this.#isSubmitting;
  }

  /** Why Generate is off, in words; undefined when it is on. */
  get blockedReason(): string | undefined {
    const target = this.#target;
    if (!target.workflowId) return 'Select a workflow first.';
    if (!target.card)
      return target.isLibraryLoaded
        ? 'That workflow is no longer in your library. Pick another.'
        : 'Reading your workflows…';
    if (target.card.error) return `This file cannot be used: ${target.card.error.reason}`;
    if (!target.isLinkOpen) return 'ComfyDesk is reconnecting; Generate comes back when it is connected.';
    if (!target.serverId || !target.isOnline) return 'Connect to a ComfyUI server to generate.';
    if (this.#isLoading && !this.#form) return 'Reading the workflow…';
    if (this.#loadError) return this.#loadError;
    if (!this.#form) return 'Reading the workflow…';
    if (this.#form.missingNodeTypes.length > 0) return 'Install the missing custom nodes on the server first.';
    if (target.card.compat.status === 'missing') return 'Install the missing models on the server first.';
    if (Object.values(this.#staged).some((file) => file.state === 'reading'))
      return 'Wait until the dropped files are ready.';
    const problems = this.issueCount;
    if (problems > 0) return problems === 1 ? 'One field needs attention.' : `${problems} fields need attention.`;
    if (this.#isSubmitting) return 'Sending…';
    return undefined;
  }

  get canGenerate(): boolean {
    return this.blockedReason === undefined;
  }

  /** A parameter's value now: what the person set, else the workflow's. */
  valueOf(parameter: Parameter): unknown {
    return parameter.id in this.#edits ? this.#edits[parameter.id] : parameter.value;
  }

  isEdited(parameterId: string): boolean {
    return parameterId in this.#edits;
  }

  setValue(parameterId: string, value: unknown): void {
    this.#edits = { ...this.#edits, [parameterId]: value };
    this.#clearServerIssue(parameterId);
  }

  /** Puts a field back to the workflow's own value. */
  reset(parameterId: string): void {
    const { [parameterId]: _dropped, ...rest } = this.#edits;
    this.#edits = rest;
    this.#clearServerIssue(parameterId);
    this.#dropStaged(parameterId);
  }

  setSeedMode(mode: SeedMode): void {
    this.#seedMode = mode;
  }

  /** A fresh random seed within the seed's limits. */
  newSeed(): void {
    const seed = this.seedParameter;
    if (!seed) return;
    const min = Math.max(seed.constraints.min ?? 0, 0);
    const max = Math.min(seed.constraints.max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.setValue(seed.id, min + Math.floor(this.#random() * (max - min + 1)));
  }

  setCount(count: number): void {
    this.#count = Number.isFinite(count) ? Math.max(1, Math.min(100, Math.round(count))) : 1;
  }

  /**
   * Follows what the page shows: loads the form again when the workflow, the connection, its state
   * or the server's inventory (seen through the card's status) changed. Values the person set stay
   * for the same workflow; the prompt and negative prompt follow them to another one.
   */
  use(target: GenerationTarget): void {
    const previous = this.#target;
    this.#target = target;
    if (target.workflowId !== previous.workflowId) {
      this.#edits = Object.fromEntries(Object.entries(this.#edits).filter(([id]) => CARRIED_OVER.includes(id)));
      this.#seedMode = undefined;
      this.#serverIssues = {};
      this.#submitError = undefined;
      this.#dropAllStaged();
      if (this.#form && this.#form.workflowId !== target.workflowId) this.#form = undefined;
      this.#loadError = undefined;
    }
    const key = loadKey(target);
    if (key === undefined) {
      this.#loadedKey = '';
      this.#loadSeq += 1;
      this.#isLoading = false;
      return;
    }
    if (key === this.#loadedKey) return;
    this.#loadedKey = key;
    void this.#load(target.workflowId!, target.serverId!);
  }

  /** Reads the form again (after an error, or on request). */
  async reload(): Promise<void> {
    const { workflowId, serverId } = this.#target;
    if (workflowId && serverId) await this.#load(workflowId, serverId);
  }

  /** Keeps a dropped or picked file for a media field; refuses wrong types and files over 64 MB at once. */
  async stage(parameter: Parameter, file: File): Promise<void> {
    this.#dropStaged(parameter.id);
    const problem = fileProblem(parameter, file);
    const previewUrl = problem ? undefined : this.#createPreviewUrl(file);
    const entry: StagedFile = {
      state: problem ? 'failed' : 'reading',
      name: file.name,
      mime: file.type,
      sizeBytes: file.size,
      previewUrl,
      input: undefined,
      error: problem,
    };
    this.#staged = { ...this.#staged, [parameter.id]: entry };
    if (problem) return;
    try {
      // By path (desktop) or as an upload (serve mode): never as bytes inside a message.
      const input = await this.#api.stageFile(file, { timeoutMs: 120_000 });
      if (this.#staged[parameter.id] !== entry) return; // replaced or cleared meanwhile
      this.#staged = { ...this.#staged, [parameter.id]: { ...entry, state: 'ready', input } };
      this.setValue(parameter.id, { staged: input.id });
    } catch (error) {
      if (this.#staged[parameter.id] !== entry) return;
      const message = error instanceof ApiError ? error.userMessage : `${file.name} could not be read.`;
      this.#staged = { ...this.#staged, [parameter.id]: { ...entry, state: 'failed', error: message } };
    }
  }

  /** The form's first image input (what "use as input" fills), if it has one. */
  get imageParameter(): Parameter | undefined {
    return this.#parameters.find((parameter) => parameter.kind === 'image');
  }

  /**
   * Puts a file (an earlier output) into a workflow's image input, as if dropped there: at once when
   * that workflow's form is open, else as soon as it has loaded.
   */
  async putInput(workflowId: string, file: File): Promise<void> {
    const parameter = this.#form?.workflowId === workflowId ? this.imageParameter : undefined;
    if (parameter) return this.stage(parameter, file);
    this.#pendingInput = { workflowId, file };
  }

  /**
   * "Use as input": reads a saved output and puts it into `workflowId`'s image input. Answers why
   * not in words, or undefined when it is on its way (its field shows the upload).
   */
  async putOutput(
    workflowId: string,
    url: string,
    name: string,
    mime: string | undefined,
  ): Promise<string | undefined> {
    let blob: Blob;
    try {
      blob = await this.#fetchFile(url);
    } catch {
      return `${name} could not be read from the outputs folder (was it moved or deleted?).`;
    }
    await this.putInput(workflowId, new File([blob], name, { type: mime || blob.type }));
    return undefined;
  }

  /** Forgets a dropped file; the field goes back to the workflow's own value. */
  clearStaged(parameterId: string): void {
    this.reset(parameterId);
  }

  /** Queues the workflow with the values set, as one job or a batch; answers the new job ids. */
  async generate(): Promise<string[] | undefined> {
    const form = this.#form;
    if (!this.canGenerate || !form) return undefined;
    const known = new Set(form.parameters.map((parameter) => parameter.id));
    const values = Object.fromEntries(Object.entries(this.#edits).filter(([id]) => known.has(id)));
    this.#isSubmitting = true;
    this.#submitError = undefined;
    try {
      const { jobIds } = await this.#api.call('jobs.enqueue', {
        workflowId: form.workflowId,
        serverId: form.serverId,
        ...(this.#pin ? { servers: [this.#pin] } : {}),
        values,
        count: this.#count,
        ...(this.#seedMode ? { seedMode: this.#seedMode } : {}),
      });
      this.#serverIssues = {};
      return jobIds;
    } catch (error) {
      this.#refused(error);
      return undefined;
    } finally {
      this.#isSubmitting = false;
    }
  }

  /** Releases the previews of dropped files (when the window goes). */
  dispose(): void {
    this.#dropAllStaged();
  }

  async #load(workflowId: string, serverId: string): Promise<void> {
    const seq = ++this.#loadSeq;
    this.#isLoading = true;
    try {
      const form = await this.#api.call('generation.form', { workflowId, serverId }, { timeoutMs: 60_000 });
      if (seq !== this.#loadSeq) return;
      this.#form = form;
      this.#loadError = undefined;
      // Values for fields this version of the workflow no longer has would be refused: drop them.
      const known = new Set([...form.parameters.map((parameter) => parameter.id), ...CARRIED_OVER]);
      this.#edits = Object.fromEntries(Object.entries(this.#edits).filter(([id]) => known.has(id)));
      const pending = this.#pendingInput;
      if (pending?.workflowId === workflowId) {
        this.#pendingInput = undefined;
        const parameter = this.imageParameter;
        if (parameter) void this.stage(parameter, pending.file); // its outcome shows on the field
      }
    } catch (error) {
      if (seq !== this.#loadSeq) return;
      this.#form = undefined;
      this.#loadError = errorMessage(error);
      // Let the next change (or Try again) load it again.
      this.#loadedKey = '';
    } finally {
      if (seq === this.#loadSeq) this.#isLoading = false;
    }
  }

  #refused(error: unknown): void {
    if (!(error instanceof ApiError)) {
      this.#submitError = String(error);
      return;
    }
    const issues = Array.isArray(error.details?.issues)
      ? (error.details.issues as Array<{ parameterId?: unknown; message?: unknown }>)
      : [];
    const byField: Record<string, string> = {};
    for (const issue of issues) {
      if (typeof issue.parameterId === 'string' && typeof issue.message === 'string')
        byField[issue.parameterId] ??= issue.message;
    }
    this.#serverIssues = byField;
    const placed = Object.keys(byField).filter((id) =>
      this.#parameters.some((parameter) => parameter.id === id),
    ).length;
    this.#submitError =
      error.code === 'parameter_invalid' && placed > 0 && placed === Object.keys(byField).length
        ? undefined
        : error.userMessage;
  }

  #clearServerIssue(parameterId: string): void {
    if (parameterId in this.#serverIssues) {
      const { [parameterId]: _dropped, ...rest } = this.#serverIssues;
      this.#serverIssues = rest;
    }
    this.#submitError = undefined;
  }

  #dropStaged(parameterId: string): void {
    const file = this.#staged[parameterId];
    if (!file) return;
    if (file.previewUrl) this.#revokePreviewUrl(file.previewUrl);
    const { [parameterId]: _dropped, ...rest } = this.#staged;
    this.#staged = rest;
  }

  #dropAllStaged(): void {
    for (const file of Object.values(this.#staged)) if (file.previewUrl) this.#revokePreviewUrl(file.previewUrl);
    this.#staged = {};
  }
}

/** What must differ for the form to be read again; undefined when it cannot be read now. */
function loadKey(target: GenerationTarget): string | undefined {
  const { workflowId, card, serverId, isOnline, isLinkOpen } = target;
  if (!workflowId || !card || card.error || !serverId || !isOnline || !isLinkOpen) return undefined;
  const { compat } = card;
  return [
    workflowId,
    card.modifiedMs,
    serverId,
    compat.serverId,
    compat.status,
    compat.missing.length,
    compat.unknownNodeTypes.join(','),
  ].join('|');
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The batch seed mode a seed's own control mode stands for. */
function seedModeOf(parameter: Parameter | undefined): SeedMode {
  switch (parameter?.seedControl) {
    case 'fixed':
      return 'fixed';
    case 'increment':
    case 'increment-wrap':
      return 'increment';
    default:
      return 'randomize';
  }
}

/** Whether a value names a staged file (`{ staged: id }`). */
export function isStagedRef(value: unknown): value is { staged: string } {
  return typeof value === 'object' && value !== null && typeof (value as { staged?: unknown }).staged === 'string';
}

/** Which MIME types a media field takes. */
export function acceptedTypes(parameter: Parameter): string {
  const media = parameter.constraints.media ?? (parameter.kind === 'mask' ? 'image' : undefined);
  return media ? `${media}/*` : '*/*';
}

/** Why a file does not fit a media field, in words; undefined when it does. */
export function fileProblem(
  parameter: Parameter,
  file: { name: string; type: string; size: number },
): string | undefined {
  const media = parameter.constraints.media ?? 'image';
  if (file.type && !file.type.startsWith(`${media}/`)) {
    return `${file.name} is ${describeMime(file.type)}; “${parameter.label}” takes ${media === 'audio' ? 'an audio file' : `a${media === 'image' ? 'n' : ''} ${media}`}.`;
  }
  if (file.size > MAX_INPUT_BYTES) {
    return `${file.name} is ${Math.round(file.size / 1048576)} MB; ComfyDesk takes files up to 64 MB. Scale it down, or put it in ComfyUI's input folder and pick it by name.`;
  }
  return undefined;
}

function describeMime(mime: string): string {
  const [kind, sub = ''] = mime.split('/');
  if (kind === 'image' || kind === 'video' || kind === 'audio')
    return `a${kind === 'image' || kind === 'audio' ? 'n' : ''} ${kind} file`;
  return `a ${sub.replace(/^x-/, '').toUpperCase() || 'other'} file`;
}

/**
 * What is wrong with a field's value, in a few words for beside the field; undefined when it fits.
 * The core checks again on Generate and its answer is shown the same way.
 */
export function fieldProblem(parameter: Parameter, value: unknown, staged?: StagedFile): string | undefined {
  const { constraints } = parameter;
  if (staged?.state === 'failed') return staged.error;
  if (constraints.type === 'COMBO' && (constraints.media || parameter.kind === 'mask')) {
    // A dropped file stands in for a server-side name until it is uploaded.
    if (isStagedRef(value)) return undefined;
    if (typeof value !== 'string' || value === '')
      return `Add ${constraints.media === 'audio' ? 'an audio file' : constraints.media === 'video' ? 'a video' : 'an image'}.`;
    const options = constraints.options ?? [];
    const isKnown =
      constraints.acceptsAnyFile || constraints.isRemote || options.length === 0 || options.includes(value);
    return isKnown ? undefined : `${value} is not on the server; drop a file here or pick one.`;
  }
  return checkParameterValue(parameter, value)?.message;
}
