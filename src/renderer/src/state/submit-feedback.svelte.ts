import type { Parameter } from '@shared/domain/generation';
import type { Job } from '@shared/domain/job';
import { ApiError } from '../api';
import { placeNodeErrors } from './node-errors';

/**
 * What the form says about its last Generate: the problems the core or ComfyUI found, by field;
 * the refusal that belongs to no field; and the "Queued." line for a live region. A workflow
 * switch clears it all.
 */
export class SubmitFeedback {
  #issues = $state.raw<Readonly<Record<string, string>>>({});
  #error = $state<string | undefined>(undefined);
  #announcement = $state('');
  /** The job whose refusal by ComfyUI the form shows beside its fields, and how many refusals it has placed. */
  #placedJobId = $state<string | undefined>(undefined);
  #refusals = $state(0);

  /** Problems by parameter id, in the core's or ComfyUI's words. */
  get issues(): Readonly<Record<string, string>> {
    return this.#issues;
  }

  get error(): string | undefined {
    return this.#error;
  }

  get announcement(): string {
    return this.#announcement;
  }

  get refusals(): number {
    return this.#refusals;
  }

  showsFailure(jobId: string): boolean {
    return this.#placedJobId === jobId;
  }

  /** Another workflow is shown: nothing said about the last one applies. */
  clear(): void {
    this.#issues = {};
    this.#error = undefined;
    this.#announcement = '';
    this.#placedJobId = undefined;
  }

  /** A field changed: what was said about it (and the general refusal) no longer holds. */
  clearIssue(parameterId: string): void {
    if (parameterId in this.#issues) {
      const { [parameterId]: _dropped, ...rest } = this.#issues;
      this.#issues = rest;
    }
    this.#error = undefined;
  }

  sending(): void {
    this.#error = undefined;
    this.#announcement = '';
  }

  /** The core took the runs; the line is said only while the same workflow is shown. */
  queued(runs: number, isStillShown: boolean): void {
    this.#issues = {};
    if (isStillShown)
      this.#announcement = runs === 1 ? 'Queued. Progress shows below.' : `Queued ${runs} runs. Progress shows below.`;
  }

  /** The core refused Generate: its issues go beside their fields, the rest above Generate. */
  refused(error: unknown, parameters: readonly Parameter[]): void {
    if (!(error instanceof ApiError)) {
      this.#error = String(error);
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
    this.#issues = byField;
    const placed = Object.keys(byField).filter((id) => parameters.some((parameter) => parameter.id === id)).length;
    this.#error =
      error.code === 'parameter_invalid' && placed > 0 && placed === Object.keys(byField).length
        ? undefined
        : error.userMessage;
  }

  /** ComfyUI refused a job of the form shown: its node errors go beside the fields they name. */
  placeFailure(job: Job, parameters: readonly Parameter[]): void {
    const { byField, unplaced } = placeNodeErrors(parameters, job.error?.nodeErrors ?? []);
    this.#issues = { ...this.#issues, ...byField };
    this.#placedJobId = job.id;
    this.#refusals += 1;
    this.#announcement = '';
    this.#error =
      unplaced.length > 0
        ? `ComfyUI refused the last run: ${unplaced.join(' ')}`
        : Object.keys(byField).length === 0
          ? (job.error?.message ?? undefined)
          : undefined;
  }
}
