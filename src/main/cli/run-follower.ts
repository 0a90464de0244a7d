import type { ConnectionHealth } from '@shared/domain/connection';
import { isFinished, type Job, type JobProgress } from '@shared/domain/job';
import { describeProgress, formatEta } from '@shared/format';
import type { ApiClient } from './contract-client';
import { writeJson, writeLine, writeText, type CliIo } from './io';

/** What the follower needs of the command's flags. */
export interface FollowFlags {
  json?: boolean;
}

/** One followed job and what was said about it. */
interface Followed {
  job: Job | undefined;
  hasQueued: boolean;
  hasStarted: boolean;
}

/** A one-line progress bar on a terminal (stderr), redrawn in place. */
function drawBar(io: CliIo, progress: JobProgress, prefix: string): void {
  const width = 24;
  const filled = Math.round((progress.percent / 100) * width);
  const eta = formatEta(progress.etaSeconds);
  const line = `${prefix}[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(progress.percent)).padStart(3)}%  ${describeProgress(progress)}${eta ? `  ${eta}` : ''}`;
  writeText(
    io.stderr,
    `\r\u001b[2K${line.slice(0, Math.max(20, ((io.stdout as { columns?: number }).columns ?? 100) - 1))}`,
  );
}

/**
 * Follows the jobs of one `run` through `jobs.updated` and `generation.progress` (the contract's
 * events), and says what happens: "Queued…" once ComfyUI accepted a prompt (naming the server it
 * went to), a progress bar on a terminal, and with --json the seed's lines, each with the `server`
 * its job runs on. Events that arrive before the job ids are known are kept and replayed.
 */
export class RunFollower {
  /** Every followed job, once all have finished. */
  readonly done: Promise<Job[]>;
  readonly #io: CliIo;
  readonly #flags: FollowFlags;
  readonly #name: string;
  readonly #label: (serverId: string) => string;
  readonly #isTerminal: boolean;
  #resolve: (jobs: Job[]) => void = () => undefined;
  readonly #jobs = new Map<string, Followed>();
  #isFollowing = false;
  readonly #early: Array<() => void> = [];
  #isBarDrawn = false;
  readonly #away = new Set<string>();

  constructor(io: CliIo, flags: FollowFlags, name: string, label: (serverId: string) => string) {
    this.#io = io;
    this.#flags = flags;
    this.#name = name;
    this.#label = label;
    this.#isTerminal = !flags.json && Boolean(io.stderr.isTTY);
    this.done = new Promise<Job[]>((resolvePromise) => (this.#resolve = resolvePromise));
  }

  follow(jobIds: string[]): void {
    for (const id of jobIds) this.#jobs.set(id, { job: undefined, hasQueued: false, hasStarted: false });
    this.#isFollowing = true;
    for (const replay of this.#early.splice(0)) replay();
  }

  /** Jobs not finished yet (to cancel on Ctrl+C). */
  unfinished(): string[] {
    return [...this.#jobs].filter(([, item]) => !item.job || !isFinished(item.job.status)).map(([id]) => id);
  }

  updated(job: Job): void {
    if (!this.#isFollowing) return void this.#early.push(() => this.updated(job));
    const item = this.#jobs.get(job.id);
    if (!item) return;
    item.job = job;
    const server = this.#label(job.serverId);
    // ComfyUI has accepted the prompt once the job is queued (a job cancelled while held never was).
    const isAccepted = job.status === 'queued' || job.status === 'running' || job.queuedAt !== null;
    if (!item.hasQueued && job.promptId && job.status !== 'held' && isAccepted) {
      item.hasQueued = true;
      if (!this.#flags.json) this.#say(`Queued ${this.#name}${this.#runOf(job)} on ${server}.`);
    }
    if (!item.hasStarted && job.promptId && (job.status === 'running' || job.status === 'succeeded')) {
      item.hasStarted = true;
      if (this.#flags.json) writeJson(this.#io, { event: 'generation_started', prompt_id: job.promptId, server });
    }
    if ([...this.#jobs.values()].every((followed) => followed.job && isFinished(followed.job.status)))
      this.#resolve([...this.#jobs.values()].map((followed) => followed.job!));
  }

  progress(jobId: string, progress: JobProgress): void {
    if (!this.#isFollowing) return void this.#early.push(() => this.progress(jobId, progress));
    const job = this.#jobs.get(jobId)?.job;
    if (!job?.promptId) return;
    if (this.#flags.json)
      writeJson(this.#io, {
        event: 'generation_progress',
        prompt_id: job.promptId,
        server: this.#label(job.serverId),
        progress: Math.floor(progress.percent),
        node_name: progress.nodeTitle,
        step: progress.step,
        steps: progress.steps,
        eta: progress.etaSeconds,
      });
    else if (this.#isTerminal) {
      drawBar(
        this.#io,
        progress,
        this.#jobs.size > 1 ? `${this.#runOf(job).trim()} ${this.#label(job.serverId)} ` : '',
      );
      this.#isBarDrawn = true;
    }
  }

  /**
   * A server's live socket dropping, the server going away, and coming back, each said once: its
   * jobs are followed by asking the server meanwhile, and checked again when it returns.
   */
  health(health: ConnectionHealth): void {
    if (this.#flags.json) return;
    const isWatched = [...this.#jobs.values()].some(
      (item) => item.job?.promptId && !isFinished(item.job.status) && item.job.serverId === health.serverId,
    );
    if (!isWatched) return;
    const label = this.#label(health.serverId);
    const isAway = health.state !== 'online' || !health.isSocketOpen;
    if (isAway && !this.#away.has(health.serverId)) {
      this.#away.add(health.serverId);
      this.#say(
        health.state === 'online'
          ? `Lost the live connection to ${label}; following the job by asking the server until it is back (Ctrl+C stops)…`
          : `${label} is not answering (${health.reason ?? health.state}); waiting for it to come back (Ctrl+C stops)…`,
      );
    } else if (!isAway && this.#away.delete(health.serverId)) {
      this.#say(`${label} is back; checking on the job…`);
    }
  }

  /** Says so when the first job waits in ComfyDesk's own queue (paused, or behind other jobs). */
  async announceWaiting(api: ApiClient): Promise<void> {
    const [firstId, first] = [...this.#jobs][0] ?? [];
    if (this.#flags.json || !firstId || first?.hasQueued) return;
    const snapshot = await api.call('jobs.list', {});
    const mine = snapshot.jobs.find((job) => job.id === firstId);
    if (!mine || mine.status !== 'held' || first?.hasQueued) return;
    const ahead = snapshot.jobs.filter(
      (job) =>
        job.origin === 'comfydesk' &&
        !this.#jobs.has(job.id) &&
        !isFinished(job.status) &&
        (job.status !== 'held' || job.position < mine.position),
    ).length;
    if (snapshot.paused) this.#say("Waiting: ComfyDesk's queue is paused (resume it in the app).");
    else if (ahead > 0) this.#say(`Waiting for ${ahead} job${ahead === 1 ? '' : 's'} ahead in ComfyDesk's queue…`);
    else if (mine.heldReason) this.#say(`Waiting: ${mine.heldReason}`);
  }

  endLine(): void {
    if (this.#isBarDrawn) writeText(this.#io.stderr, '\n');
    this.#isBarDrawn = false;
  }

  /** " (run 2 of 4)" for a job of several, nothing for one. */
  #runOf(job: Job): string {
    return this.#jobs.size > 1 && job.batch ? ` (run ${job.batch.index} of ${job.batch.count})` : '';
  }

  #say(text: string): void {
    this.endLine();
    writeLine(this.#io.stderr, text);
  }
}
