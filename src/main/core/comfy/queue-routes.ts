import type { z } from 'zod';
import type { QueueItem, QueueRoutes, QueueSnapshot, RequestOptions } from './api-types';
import type { ComfyHttp } from './comfy-http';
import { JobsApiDetail, JobsApiList, isFinishedJobStatus, type JobsApiDetail as JobDetail } from './jobs-api';
import { QueueResponse } from './messages';

/**
 * ComfyClient's queue routes: the jobs API of newer servers (`/api/jobs`, `/api/jobs/{id}`) and
 * `/queue` of every server, read through the client's HTTP plumbing.
 */
export class QueueRoutesReader {
  readonly #http: ComfyHttp;
  /** The prompt and extra data of queued jobs, read once per job from `/api/jobs/{id}` (they never change while queued). */
  readonly #queuedDetails = new Map<string, JobDetail>();

  constructor(http: ComfyHttp) {
    this.#http = http;
  }

  /** Whether the server answers `/api/jobs` with the jobs API's shape. */
  async probeRoutes(options: RequestOptions): Promise<QueueRoutes> {
    const path = '/jobs?limit=1';
    const response = await this.#http.request(path, { method: 'GET' }, options);
    if (response.status === 404 || response.status === 405) {
      await response.arrayBuffer().catch(() => undefined);
      return 'legacy';
    }
    await this.#http.ensureOk(response, path);
    // Something else may answer /api/jobs (a custom node's route, a web page): keep to the routes every server has.
    const raw = await this.#http.json(response, path).catch(() => undefined);
    return JobsApiList.safeParse(raw).success ? 'jobs-api' : 'legacy';
  }

  /** The queue from `/queue` (every server). */
  async queueFromLegacy(options: RequestOptions): Promise<QueueSnapshot> {
    const raw = this.#http.parse(QueueResponse, await this.#http.getJson('/queue', options), '/queue');
    const toItem = (tuple: z.infer<typeof QueueResponse>['queue_running'][number]): QueueItem => {
      const [number, promptId, prompt, extraData, outputsToExecute] = tuple;
      const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
      return { number, promptId, prompt, extraData, outputsToExecute, ...(clientId ? { clientId } : {}) };
    };
    return { running: raw.queue_running.map(toItem), pending: raw.queue_pending.map(toItem) };
  }

  /** The queue from `/api/jobs` (newer servers): a short list, then each new job's prompt once. */
  async queueFromJobs(options: RequestOptions): Promise<QueueSnapshot> {
    const path = '/jobs?status=in_progress,pending';
    const list = this.#http.parse(JobsApiList, await this.#http.getJson(path, options), '/jobs');
    const live = new Set(list.jobs.map((job) => job.id));
    for (const id of this.#queuedDetails.keys()) if (!live.has(id)) this.#queuedDetails.delete(id);
    // Each job's prompt is read once; a few at a time so a batch of 100 does not open 100 requests.
    const unknown = list.jobs.filter((job) => !this.#queuedDetails.has(job.id));
    for (let start = 0; start < unknown.length; start += 4) {
      const details = await Promise.all(unknown.slice(start, start + 4).map((job) => this.jobDetail(job.id, options)));
      for (const detail of details)
        if (detail && !isFinishedJobStatus(detail.status)) this.#queuedDetails.set(detail.id, detail);
    }
    const running: QueueItem[] = [];
    const pending: QueueItem[] = [];
    for (const job of list.jobs) {
      const detail = this.#queuedDetails.get(job.id);
      if (!detail) continue; // it finished between the list and its detail
      const extraData = detail.workflow.extra_data;
      const clientId = typeof extraData.client_id === 'string' ? extraData.client_id : undefined;
      const item: QueueItem = {
        number: job.priority,
        promptId: job.id,
        prompt: detail.workflow.prompt,
        extraData,
        ...(clientId ? { clientId } : {}),
      };
      (job.status === 'in_progress' ? running : pending).push(item);
    }
    return { running, pending };
  }

  /** One job from `/api/jobs/{id}`, or undefined when the server does not know it. */
  async jobDetail(promptId: string, options: RequestOptions): Promise<JobDetail | undefined> {
    const path = `/jobs/${encodeURIComponent(promptId)}`;
    const response = await this.#http.request(path, { method: 'GET' }, options);
    if (response.status === 404) {
      await response.arrayBuffer().catch(() => undefined);
      return undefined;
    }
    await this.#http.ensureOk(response, path);
    return this.#http.parse(JobsApiDetail, await this.#http.json(response, path), '/jobs/{id}');
  }
}
