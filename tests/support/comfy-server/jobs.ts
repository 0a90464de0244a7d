import type { QueueTuple } from './executor';

// The jobs API of newer ComfyUI servers, as the test server's "newer" mode answers it. Behaviour
// follows Comfy-Org/ComfyUI server.py (`/api/jobs`, `/api/jobs/{id}`, `/api/jobs/{id}/cancel`,
// `/api/jobs/cancel`, stored version 002c3fb9) and comfy_execution/jobs.py (stored version 172be438):
// status names, pruned nulls, history status mapping, sorting, paging and the error texts.

export const JOB_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

type HistoryItem = Record<string, unknown> & { prompt: QueueTuple; outputs?: unknown; status?: unknown };

const PREVIEWABLE = new Set(['images', 'video', 'audio', '3d', 'text']);
const THREE_D = ['.obj', '.fbx', '.gltf', '.glb', '.usdz'];
const TEXT_FILES = ['.txt', '.md', '.json'];

/** Python's `str(uuid.UUID(x)) == x`: only canonical lowercase hyphenated UUIDs. */
export function isCanonicalUuid(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}

/** prune_dict: keys whose value is None are left out. */
function prune(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined && value !== null));
}

function metadata(extra: Record<string, unknown>): { createTime: unknown; workflowId: unknown } {
  const pnginfo = (extra.extra_pnginfo ?? {}) as Record<string, unknown>;
  const workflow = (pnginfo.workflow ?? {}) as Record<string, unknown>;
  return { createTime: extra.create_time, workflowId: workflow.id };
}

export function queueJob(item: QueueTuple, status: JobStatus, withWorkflow = false): Record<string, unknown> {
  const { createTime, workflowId } = metadata(item[3]);
  const job = prune({
    id: item[1],
    status,
    priority: item[0],
    create_time: createTime,
    outputs_count: 0,
    previewable_outputs_count: 0,
    workflow_id: workflowId,
  });
  if (withWorkflow) job.workflow = { prompt: item[2], extra_data: item[3] };
  return job;
}

function endsWithAny(name: string, endings: string[]): boolean {
  const lower = name.toLowerCase();
  return endings.some((ending) => lower.endsWith(ending));
}

function isPreviewable(mediaType: string, item: Record<string, unknown>): boolean {
  if (PREVIEWABLE.has(mediaType)) return true;
  const format = typeof item.format === 'string' ? item.format : '';
  if (format.startsWith('video/') || format.startsWith('audio/')) return true;
  const filename = typeof item.filename === 'string' ? item.filename : '';
  return endsWithAny(filename, THREE_D) || endsWithAny(filename, TEXT_FILES);
}

/** 3D file names given as plain strings become file items; other items stay as they are. */
function normalizeItem(item: unknown): unknown {
  if (typeof item === 'string' && endsWithAny(item, THREE_D))
    return { filename: item, type: 'output', subfolder: '', mediaType: '3d' };
  return item;
}

function outputsSummary(outputs: Record<string, unknown>): {
  count: number;
  previewable: number;
  preview: Record<string, unknown> | undefined;
} {
  let count = 0;
  let previewable = 0;
  let saved: Record<string, unknown> | undefined;
  let other: Record<string, unknown> | undefined;
  let textFile: Record<string, unknown> | undefined;
  let text: Record<string, unknown> | undefined;
  for (const [nodeId, nodeOutputs] of Object.entries(outputs)) {
    if (typeof nodeOutputs !== 'object' || nodeOutputs === null) continue;
    for (const [mediaType, items] of Object.entries(nodeOutputs as Record<string, unknown>)) {
      if (mediaType === 'animated' || !Array.isArray(items)) continue;
      for (const raw of items) {
        const item = normalizeItem(raw);
        if (typeof item !== 'object' || item === null) {
          if (mediaType === 'text' && text === undefined)
            text = { content: String(item).slice(0, 1024), nodeId, mediaType };
          continue;
        }
        const file = item as Record<string, unknown>;
        count += 1;
        if (!isPreviewable(mediaType, file)) continue;
        previewable += 1;
        const enriched = { ...file, nodeId, ...('mediaType' in file ? {} : { mediaType }) };
        const filename = typeof file.filename === 'string' ? file.filename : '';
        if (mediaType === 'text' || endsWithAny(filename, TEXT_FILES)) textFile ??= enriched;
        else if (file.type === 'output') saved ??= enriched;
        else other ??= enriched;
      }
    }
  }
  return { count, previewable, preview: saved ?? other ?? textFile ?? text };
}

export function historyJob(promptId: string, entry: HistoryItem, withOutputs = false): Record<string, unknown> {
  const [priority, , prompt, extra] = entry.prompt;
  const { createTime, workflowId } = metadata(extra);
  const statusInfo = (entry.status ?? null) as { status_str?: string; messages?: unknown[] } | null;
  let start: unknown;
  let end: unknown;
  let error: unknown;
  let interrupted = false;
  for (const message of statusInfo?.messages ?? []) {
    if (!Array.isArray(message) || message.length < 2) continue;
    const [name, data] = message as [string, Record<string, unknown>];
    if (typeof data !== 'object' || data === null) continue;
    if (name === 'execution_start') start = data.timestamp;
    else if (name === 'execution_success' || name === 'execution_error' || name === 'execution_interrupted') {
      end = data.timestamp;
      if (name === 'execution_error') error = data;
      if (name === 'execution_interrupted') interrupted = true;
    }
  }
  const status: JobStatus = statusInfo?.status_str === 'error' ? (interrupted ? 'cancelled' : 'failed') : 'completed';
  const outputs = (entry.outputs ?? {}) as Record<string, unknown>;
  const summary = outputsSummary(outputs);
  const job = prune({
    id: promptId,
    status,
    priority,
    create_time: createTime,
    execution_start_time: start,
    execution_end_time: end,
    execution_error: error,
    outputs_count: summary.count,
    previewable_outputs_count: summary.previewable,
    preview_output: summary.preview,
    workflow_id: workflowId,
  });
  if (withOutputs) {
    job.outputs = Object.fromEntries(
      Object.entries(outputs).map(([nodeId, nodeOutputs]) => [
        nodeId,
        typeof nodeOutputs === 'object' && nodeOutputs !== null
          ? Object.fromEntries(
              Object.entries(nodeOutputs as Record<string, unknown>).map(([mediaType, items]) => [
                mediaType,
                mediaType === 'animated' || !Array.isArray(items)
                  ? items
                  : items.filter((item) => item !== null && item !== undefined).map(normalizeItem),
              ]),
            )
          : nodeOutputs,
      ]),
    );
    job.execution_status = statusInfo;
    job.workflow = { prompt, extra_data: extra };
  }
  return job;
}

/** GET /api/jobs: the query checked as the server checks it, then filter, sort and page. */
export function listJobs(
  query: URLSearchParams,
  running: QueueTuple[],
  pending: QueueTuple[],
  history: Map<string, HistoryItem>,
): { status: number; body: Record<string, unknown> } {
  const statusParam = query.get('status');
  const workflowId = query.get('workflow_id');
  const sortBy = (query.get('sort_by') ?? 'created_at').toLowerCase();
  const sortOrder = (query.get('sort_order') ?? 'desc').toLowerCase();
  let statuses: string[] = [...JOB_STATUSES];
  if (statusParam) {
    statuses = statusParam
      .split(',')
      .map((value) => value.trim().toLowerCase())
      .filter(Boolean);
    const invalid = statuses.filter((value) => !(JOB_STATUSES as readonly string[]).includes(value));
    if (invalid.length > 0)
      return {
        status: 400,
        body: { error: `Invalid status value(s): ${invalid.join(', ')}. Valid values: ${JOB_STATUSES.join(', ')}` },
      };
  }
  if (sortBy !== 'created_at' && sortBy !== 'execution_duration')
    return { status: 400, body: { error: "sort_by must be 'created_at' or 'execution_duration'" } };
  if (sortOrder !== 'asc' && sortOrder !== 'desc')
    return { status: 400, body: { error: "sort_order must be 'asc' or 'desc'" } };
  let limit: number | null = null;
  if (query.has('limit')) {
    const raw = query.get('limit')!;
    if (!/^\s*[+-]?\d+\s*$/.test(raw)) return { status: 400, body: { error: 'limit must be an integer' } };
    limit = Number.parseInt(raw, 10);
    if (limit <= 0) return { status: 400, body: { error: 'limit must be a positive integer' } };
  }
  let offset = 0;
  if (query.has('offset')) {
    const raw = query.get('offset')!;
    if (!/^\s*[+-]?\d+\s*$/.test(raw)) return { status: 400, body: { error: 'offset must be an integer' } };
    offset = Math.max(0, Number.parseInt(raw, 10));
  }
  let jobs: Array<Record<string, unknown>> = [];
  if (statuses.includes('in_progress')) jobs.push(...running.map((item) => queueJob(item, 'in_progress')));
  if (statuses.includes('pending')) jobs.push(...pending.map((item) => queueJob(item, 'pending')));
  for (const [id, entry] of history) {
    const job = historyJob(id, entry);
    if (statuses.includes(job.status as string)) jobs.push(job);
  }
  if (workflowId) jobs = jobs.filter((job) => job.workflow_id === workflowId);
  const key = (job: Record<string, unknown>): number => {
    if (sortBy === 'execution_duration') {
      const start = Number(job.execution_start_time ?? 0);
      const end = Number(job.execution_end_time ?? 0);
      return end && start ? end - start : 0;
    }
    return Number(job.create_time ?? 0);
  };
  // Python's sorted(reverse=…) is stable in both directions.
  jobs = jobs
    .map((job, index) => ({ job, index }))
    .sort((a, b) => (sortOrder === 'desc' ? key(b.job) - key(a.job) : key(a.job) - key(b.job)) || a.index - b.index)
    .map(({ job }) => job);
  const total = jobs.length;
  if (offset > 0) jobs = jobs.slice(offset);
  if (limit !== null) jobs = jobs.slice(0, limit);
  return {
    status: 200,
    body: { jobs, pagination: { offset, limit, total, has_more: offset + jobs.length < total } },
  };
}
