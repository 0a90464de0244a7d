import type { z } from 'zod';
import { isRunPodProxyUrl, RUNPOD_PROXY_TIMEOUT_SECONDS } from '@shared/domain/pod';
import { AppError } from '../lib/errors';
import type { ComfyClientDeps, FetchLike, RequestOptions } from './api-types';
import { describeAddress, notComfyUi, requestFailure } from './http-errors';

/**
 * The HTTP plumbing of one ComfyClient: URLs under `/api`, deadlines (and the proxy's cut-off),
 * ComfyUI's errors in words, JSON and shape checks. The client's route groups take it.
 */
export class ComfyHttp {
  readonly baseUrl: string;
  readonly #deps: ComfyClientDeps;
  readonly #fetch: FetchLike;

  constructor(deps: ComfyClientDeps, baseUrl: string) {
    this.#deps = deps;
    this.baseUrl = baseUrl;
    this.#fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  }

  url(path: string, raw = false): URL {
    // Every route is served under /api too; the protocol doc recommends it (custom-node routes and the frontend cannot shadow it).
    return new URL(`${this.baseUrl}${raw ? '' : '/api'}${path}`);
  }

  async request(
    path: string,
    init: { method: string; json?: unknown; body?: FormData | string; raw?: boolean },
    options: RequestOptions,
  ): Promise<Response> {
    const url = this.url(path, init.raw);
    const timeoutMs = options.timeoutMs ?? this.#deps.timeoutMs ?? 15_000;
    // Behind a proxy that cuts silent requests, give up first and say why (the body may stream on).
    const answerMs = Math.min(timeoutMs, this.responseDeadlineMs);
    const answer = new AbortController();
    const answerTimer = answerMs < timeoutMs ? setTimeout(() => answer.abort(), answerMs) : undefined;
    const signals = [AbortSignal.timeout(timeoutMs), answer.signal, ...(options.signal ? [options.signal] : [])];
    const headers: Record<string, string> = { ...this.#deps.headers };
    let body: string | FormData | undefined;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      body = init.body;
    }
    try {
      return await this.#fetch(url, {
        method: init.method,
        headers,
        body,
        signal: AbortSignal.any(signals),
        redirect: 'follow',
      });
    } catch (error) {
      if (answer.signal.aborted && !options.signal?.aborted)
        throw new AppError(
          'comfy_timeout',
          `ComfyUI at ${describeAddress(url)} did not start answering ${path.split('?')[0]} within ${Math.round(answerMs / 1000)} s. The proxy in front of it cuts requests after ${RUNPOD_PROXY_TIMEOUT_SECONDS} s, so ComfyDesk stopped waiting; the server may be overloaded — try again.`,
          { cause: error, details: { url: url.origin + url.pathname, deadlineMs: answerMs } },
        );
      throw requestFailure(error, url, timeoutMs);
    } finally {
      clearTimeout(answerTimer);
    }
  }

  /** See `ComfyClientDeps.responseDeadlineMs`. */
  get responseDeadlineMs(): number {
    return this.#deps.responseDeadlineMs ?? (isRunPodProxyUrl(this.baseUrl) ? 90_000 : Number.POSITIVE_INFINITY);
  }

  async getJson(path: string, options: RequestOptions): Promise<unknown> {
    const response = await this.request(path, { method: 'GET' }, options);
    await this.ensureOk(response, path);
    return this.json(response, path, options.timeoutMs);
  }

  async postEmpty(path: string, json: unknown, options: RequestOptions): Promise<void> {
    const response = await this.request(path, { method: 'POST', json }, options);
    await this.ensureOk(response, path);
    await response.arrayBuffer().catch(() => undefined); // ComfyUI answers these with an empty body
  }

  async json(response: Response, path: string, timeoutMs?: number): Promise<unknown> {
    const type = response.headers.get('content-type') ?? '';
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw requestFailure(error, this.url(path), timeoutMs ?? this.#deps.timeoutMs ?? 15_000);
    }
    if (/text\/html/i.test(type) || /^\s*</.test(text)) throw notComfyUi(this.url(path), 'it sent a web page');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw notComfyUi(this.url(path), `${path} is not JSON`);
    }
  }

  async ensureOk(response: Response, path: string): Promise<void> {
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    const where = describeAddress(this.url(path));
    if (response.status === 401 || response.status === 403) {
      throw new AppError(
        'comfy_http_error',
        `${where} refused access (HTTP ${response.status}): the proxy in front of ComfyUI wants a sign-in. Set this connection's “Proxy sign-in” and its token (or user:password).`,
        {
          details: { status: response.status, path },
        },
      );
    }
    if (response.status === 404) throw notComfyUi(this.url(path), `${path} does not exist there`);
    if (response.status === 524)
      throw new AppError(
        'comfy_timeout',
        `The proxy in front of ComfyUI at ${where} gave up waiting for an answer to ${path.split('?')[0]} (HTTP 524: no answer within ${RUNPOD_PROXY_TIMEOUT_SECONDS} s). The server is busy or stuck; try again, or reach it over SSH.`,
        { details: { status: 524, path } },
      );
    throw new AppError(
      'comfy_http_error',
      `ComfyUI at ${where} answered HTTP ${response.status} to ${path}${text && !/^\s*</.test(text) ? `: ${text.trim().slice(0, 300)}` : ''}.`,
      {
        details: { status: response.status, path, body: text.slice(0, 2000) },
      },
    );
  }

  parse<S extends z.ZodType>(schema: S, raw: unknown, path: string): z.output<S> {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw notComfyUi(this.url(path), `${path} has an unexpected shape`);
    return parsed.data;
  }

  stringList(raw: unknown, path: string): string[] {
    if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string'))
      throw notComfyUi(this.url(path), `${path} is not a list of names`);
    return raw as string[];
  }
}
