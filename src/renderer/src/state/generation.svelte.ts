import { untrack } from 'svelte';
import type { GenerationForm } from '@shared/contract/jobs';
import type { Parameter, Preset } from '@shared/domain/generation';
import type { Job, SeedMode } from '@shared/domain/job';
import { ApiError, type ApiClient } from '../api';
import {
  acceptedTypes,
  fieldProblem,
  fileProblem,
  isStagedRef,
  MAX_INPUT_BYTES,
  seedModeOf,
  type StagedFile,
} from './field-checks';
import { FormLoader } from './form-loader.svelte';
import { asText, FormMemory, formValues, offeredPrompt, type OfferedPrompt } from './form-memory';
import { EMPTY_TARGET, type GenerationTarget, targetBlockedReason } from './form-target';
import { OpenInComfy, type OpenInComfyStatus } from './open-in-comfy.svelte';
import { PresetsState, presetEdits, presetValues } from './presets.svelte';
import { SubmitFeedback } from './submit-feedback.svelte';
import { fetchBlob, readOutput } from './use-as-input';

// These live beside this state; components and tests have always imported them from here.
export { acceptedTypes, fieldProblem, fileProblem, isStagedRef, MAX_INPUT_BYTES, type StagedFile };
export type { GenerationTarget, OpenInComfyStatus };

export interface GenerationStateOptions {
  /** Creates a preview address for a local file. @default URL.createObjectURL where it exists */
  createPreviewUrl?: (file: Blob) => string | undefined;
  revokePreviewUrl?: (url: string) => void;
  /** @default Math.random */
  random?: () => number;
  /** Opens ComfyUI's page in a new browser tab (serve mode). @default window.open */
  openTab?: (url: string) => void;
  /** Reads a saved output by its address (for "use as input"). @default fetch */
  fetchFile?: (url: string) => Promise<Blob>;
}

/** Values that follow a person from one workflow to the next (what they wrote, not how a graph is set up). */
const CARRIED_OVER = ['prompt', 'negative_prompt'];

/**
 * The Generate panel's form: the selected workflow converted for the default server
 * (`generation.form`), reloaded when the workflow, the connection, its state or what the server has
 * changes; the values a person changed (by parameter id), what is wrong with them (checked here
 * as they type, and by the core on Generate), the seed mode, the batch count, the dropped files,
 * and `generate()`.
 */
export class GenerationState {
  #target = $state.raw<GenerationTarget>(EMPTY_TARGET);
  #edits = $state.raw<Readonly<Record<string, unknown>>>({});
  #seedMode = $state<SeedMode | undefined>(undefined);
  #count = $state(1);
  /** The server the next runs are pinned to; null lets each go to the least busy server that can run it. */
  pin = $state<string | null>(null);
  #staged = $state.raw<Readonly<Record<string, StagedFile>>>({});
  #isSubmitting = $state(false);
  /** The prompt the intent bar put in, and what the Prompt box held before it did. */
  #offered: OfferedPrompt | undefined;
  readonly #memory = new FormMemory(CARRIED_OVER);
  /** A file to put into the image input of a workflow whose form is still loading ("use as input"). */
  #pendingInput: { workflowId: string; file: File } | undefined;
  readonly #api: ApiClient;
  readonly #createPreviewUrl: (file: Blob) => string | undefined;
  readonly #revokePreviewUrl: (url: string) => void;
  readonly #random: () => number;
  readonly #presets: PresetsState;
  readonly #opener: OpenInComfy;
  readonly #feedback = new SubmitFeedback();
  readonly #loader: FormLoader;
  readonly #fetchFile: (url: string) => Promise<Blob>;

  readonly #parameters = $derived.by(() => this.#loader.form?.parameters ?? []);
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
    this.#presets = new PresetsState(api);
    this.#loader = new FormLoader(api, (form) => {
      // Values for fields this version of the workflow no longer has would be refused: drop them.
      const known = new Set([...form.parameters.map((parameter) => parameter.id), ...CARRIED_OVER]);
      this.#edits = Object.fromEntries(Object.entries(this.#edits).filter(([id]) => known.has(id)));
      const pending = this.#pendingInput;
      if (pending && pending.workflowId === form.workflowId) {
        this.#pendingInput = undefined;
        const parameter = this.imageParameter;
        if (parameter) void this.stage(parameter, pending.file); // its outcome shows on the field
      }
    });
    this.#fetchFile = options.fetchFile ?? fetchBlob;
    this.#opener = new OpenInComfy(
      api,
      options.openTab ?? ((url) => window.open(url, '_blank', 'noopener,noreferrer')),
    );
  }

  get target(): GenerationTarget {
    return this.#target;
  }

  get form(): GenerationForm | undefined {
    return this.#loader.form;
  }

  get parameters(): Parameter[] {
    return this.#parameters;
  }

  get isLoading(): boolean {
    return this.#loader.isLoading;
  }

  /** Why the form could not be read (the core's words), if it could not. */
  get loadError(): string | undefined {
    return this.#loader.error;
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
    return !this.#loader.form || this.promptParameter !== undefined;
  }

  get hasNegativePrompt(): boolean {
    return !this.#loader.form || this.negativeParameter !== undefined;
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

  /** What the person changed, by parameter id. */
  get edits(): Readonly<Record<string, unknown>> {
    return this.#edits;
  }

  /** Problems with the values, by parameter id: checked here first, then the core's answer to Generate. */
  get issues(): Readonly<Record<string, string>> {
    return { ...this.#issues, ...this.#feedback.issues };
  }

  get issueCount(): number {
    return Object.keys(this.issues).length;
  }

  get staged(): Readonly<Record<string, StagedFile>> {
    return this.#staged;
  }

  /** Why the last Generate was refused, when it was not about one field. */
  get submitError(): string | undefined {
    return this.#feedback.error;
  }

  get isSubmitting(): boolean {
    return this.#isSubmitting;
  }

  /** What the last Generate did ("Queued. Progress shows below."), for a live region; empty after a switch. */
  get announcement(): string {
    return this.#feedback.announcement;
  }

  /** The presets saved for the selected workflow, by name. */
  get presets(): Preset[] {
    return this.#presets.items;
  }

  /** Why presets could not be read or saved, if they could not. */
  get presetError(): string | undefined {
    return this.#presets.error;
  }

  get openStatus(): OpenInComfyStatus | undefined {
    return this.#opener.status;
  }

  /** How many of ComfyUI's refusals the form has placed (a change means: bring the first flagged field into view). */
  get refusals(): number {
    return this.#feedback.refusals;
  }

  /** Whether the form shows this failed job's refusal beside its fields (so other views need not repeat it). */
  showsFailure(jobId: string): boolean {
    return this.#feedback.showsFailure(jobId);
  }

  /** Why Generate is off, in words; undefined when it is on. */
  get blockedReason(): string | undefined {
    const fromTarget = targetBlockedReason(this.#target);
    if (fromTarget) return fromTarget;
    if (this.#loader.isLoading && !this.#loader.form) return 'Reading the workflow…';
    if (this.#loader.error) return this.#loader.error;
    if (!this.#loader.form) return 'Reading the workflow…';
    if (this.#loader.form.missingNodeTypes.length > 0) return 'Install the missing custom nodes on the server first.';
    if (this.#target.card?.compat.status === 'missing') return 'Install the missing models on the server first.';
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
    this.#feedback.clearIssue(parameterId);
    // A person typing in the Prompt box makes it theirs: the intent bar no longer changes it.
    if (parameterId === 'prompt') this.#offered = undefined;
  }

  /**
   * The intent bar's prompt: put in the Prompt box while the person has not written one of their
   * own, and taken back (`null`) when the bar's text stops describing something.
   */
  offerPrompt(text: string | null): void {
    const next = offeredPrompt(this.#edits, this.#offered, text);
    this.#offered = next.offered;
    if (!next.isChanged) return;
    this.#edits = next.edits;
    if (text !== null) this.#feedback.clearIssue('prompt');
  }

  /** Puts a field back to the workflow's own value. */
  reset(parameterId: string): void {
    const { [parameterId]: _dropped, ...rest } = this.#edits;
    this.#edits = rest;
    this.#feedback.clearIssue(parameterId);
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
    // Called from an effect: what it reads here must not become that effect's dependencies, or
    // writing `#target` below would re-run the effect without end (effect_update_depth_exceeded).
    untrack(() => this.#use(target));
  }

  #use(target: GenerationTarget): void {
    const previous = this.#target;
    this.#target = target;
    if (target.workflowId !== previous.workflowId) {
      const held = { edits: this.#edits, seedMode: this.#seedMode, staged: this.#staged };
      const next = this.#memory.switch(previous.workflowId, target.workflowId, held);
      this.#edits = next.edits;
      this.#seedMode = next.seedMode;
      this.#staged = next.staged;
      this.#feedback.clear();
      this.#opener.clear();
      this.#loader.forget(target.workflowId);
    }
    this.#presets.follow(target.workflowId, target.isLinkOpen);
    this.#loader.follow(target);
  }

  /** Reads the form again (after an error, or on request). */
  async reload(): Promise<void> {
    const { workflowId, serverId } = this.#target;
    if (workflowId && serverId) await this.#loader.load(workflowId, serverId);
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
   * "Use as input": puts a saved output into `workflowId`'s image input, as if dropped there — at
   * once when that workflow's form is open, else once it has loaded. Answers why not in words.
   */
  async putOutput(
    workflowId: string,
    url: string,
    name: string,
    mime: string | undefined,
  ): Promise<string | undefined> {
    const file = await readOutput(this.#fetchFile, url, name, mime);
    if (typeof file === 'string') return file;
    const parameter = this.#loader.form?.workflowId === workflowId ? this.imageParameter : undefined;
    if (parameter) await this.stage(parameter, file);
    else this.#pendingInput = { workflowId, file };
    return undefined;
  }

  /** Forgets a dropped file; the field goes back to the workflow's own value. */
  clearStaged(parameterId: string): void {
    this.reset(parameterId);
  }

  /** Queues the workflow with the values set, as one job or a batch; answers the new job ids. */
  async generate(): Promise<string[] | undefined> {
    const form = this.#loader.form;
    if (!this.canGenerate || !form) return undefined;
    this.#isSubmitting = true;
    this.#feedback.sending();
    try {
      const { jobIds } = await this.#api.call('jobs.enqueue', {
        workflowId: form.workflowId,
        serverId: form.serverId,
        ...(this.pin ? { servers: [this.pin] } : {}),
        values: formValues(form, this.#edits),
        count: this.#count,
        ...(this.#seedMode ? { seedMode: this.#seedMode } : {}),
      });
      this.#feedback.queued(jobIds.length, this.#loader.form?.workflowId === form.workflowId);
      return jobIds;
    } catch (error) {
      this.#feedback.refused(error, this.#parameters);
      return undefined;
    } finally {
      this.#isSubmitting = false;
    }
  }

  /**
   * ComfyUI refused a job of this form (its validation, after the core's own checks passed): the
   * messages go beside the fields they name, the rest above Generate. Answers whether the form
   * shows the refusal now (so it need not be told again elsewhere).
   */
  placeFailure(job: Job): boolean {
    const form = this.#loader.form;
    if (!form || !job.error?.nodeErrors || job.workflowId !== form.workflowId || job.serverId !== form.serverId)
      return false;
    this.#feedback.placeFailure(job, form.parameters);
    return true;
  }

  /** Saves the form's settings (not the prompts or dropped files) as a named preset of this workflow. */
  async savePreset(name: string): Promise<boolean> {
    const form = this.#loader.form;
    const trimmed = name.trim();
    if (!form?.workflowId || trimmed === '') return false;
    const values = presetValues(
      form.parameters,
      (parameter) => this.valueOf(parameter),
      (id) => this.isEdited(id),
      CARRIED_OVER,
    );
    return this.#presets.save(form.workflowId, trimmed, values, this.#seedMode);
  }

  /**
   * Puts a preset's values in the form: every setting it holds replaces the field's value; fields
   * it does not know (the workflow changed since) keep theirs. Prompts and dropped files stay.
   */
  applyPreset(name: string): void {
    const preset = this.#presets.items.find((item) => item.name === name);
    const form = this.#loader.form;
    if (!preset || !form) return;
    const applied = presetEdits(preset, form.parameters);
    this.#edits = { ...this.#edits, ...applied };
    for (const id of Object.keys(applied)) this.#feedback.clearIssue(id);
    if (preset.seedMode) this.#seedMode = preset.seedMode;
  }

  async deletePreset(name: string): Promise<boolean> {
    const workflowId = this.#target.workflowId;
    if (!workflowId) return false;
    return this.#presets.delete(workflowId, name);
  }

  /**
   * Open in ComfyUI: the workflow with the values set is saved into the server's own workflows and
   * its page opens (a window in the desktop app, a tab here).
   */
  async openInComfy(): Promise<void> {
    const form = this.#loader.form;
    if (form?.workflowId) await this.#opener.open(form.workflowId, form.serverId, formValues(form, this.#edits));
  }

  /** Releases the previews of dropped files (when the window goes). */
  dispose(): void {
    this.#dropAllStaged();
    for (const file of this.#memory.clear()) if (file.previewUrl) this.#revokePreviewUrl(file.previewUrl);
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
