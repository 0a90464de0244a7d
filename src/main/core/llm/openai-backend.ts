import type { OpenAiEndpoint } from '@shared/domain/llm';
import { AppError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { GenerateRequest, GenerateResult } from './backend';

/** The backend's collaborators. */
export interface OpenAiBackendDeps {
  log: Logger;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Sampling temperature sent with every request. @default 0.6 */
  temperature?: number;
}

/** Told to the user when a generation fails: their prompt stays as it was. */
const KEPT = 'Your prompt is unchanged. ';

/**
 * Enhancement through a server the user already runs — Ollama, llama.cpp's `llama-server`, LM
 * Studio — over the OpenAI chat-completions API with streaming (server-sent events).
 */
export class OpenAiBackend {
  readonly #deps: OpenAiBackendDeps;
  readonly #fetch: typeof fetch;

  constructor(deps: OpenAiBackendDeps) {
    this.#deps = deps;
    this.#fetch = deps.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Streams one chat completion. */
  async generate(endpoint: OpenAiEndpoint, request: GenerateRequest): Promise<GenerateResult> {
    if (!endpoint.model.trim()) {
      throw new AppError(
        'invalid_input',
        `Choose which model ${endpoint.baseUrl} should use in Settings › AI prompt enhancement (for Ollama, e.g. "qwen2.5:1.5b-instruct").`,
      );
    }
    const response = await this.#request(endpoint, 'chat/completions', request.signal, KEPT, {
      model: endpoint.model,
      messages: [
        { role: 'system', content: request.system },
        { role: 'user', content: request.user },
      ],
      max_tokens: request.maxTokens,
      temperature: this.#deps.temperature ?? 0.6,
      stream: true,
    });
    // A server that ignores `stream` answers with one JSON document.
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      const body = await readJson(response, endpoint);
      const text = messageContent(body);
      if (text) request.onText(text);
      return { text, tokens: usageTokens(body) ?? 0 };
    }
    return this.#readStream(response, endpoint, request);
  }

  /** The model names the server offers (`GET /models`). */
  async listModels(endpoint: Pick<OpenAiEndpoint, 'baseUrl' | 'apiKey'>, signal: AbortSignal): Promise<string[]> {
    const response = await this.#request(endpoint, 'models', signal, '');
    const body = await readJson(response, endpoint);
    const data = typeof body === 'object' && body !== null ? (body as { data?: unknown }).data : undefined;
    if (!Array.isArray(data))
      throw new AppError(
        'llm_endpoint_error',
        `${endpoint.baseUrl} answered, but not with a list of models. Check the address (it usually ends in /v1).`,
      );
    return data.flatMap((entry: unknown) =>
      typeof entry === 'object' && entry !== null && typeof (entry as { id?: unknown }).id === 'string'
        ? [(entry as { id: string }).id]
        : [],
    );
  }

  /** `kept` is what the user reads about their prompt when generating (see KEPT); empty otherwise. */
  async #request(
    endpoint: Pick<OpenAiEndpoint, 'baseUrl' | 'apiKey'>,
    path: string,
    signal: AbortSignal,
    kept: string,
    body?: unknown,
  ): Promise<Response> {
    const url = `${endpoint.baseUrl.replace(/\/+$/, '')}/${path}`;
    const headers: Record<string, string> = {
      accept: body ? 'text/event-stream, application/json' : 'application/json',
    };
    if (body) headers['content-type'] = 'application/json';
    if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: body ? 'POST' : 'GET',
        headers,
        body: body ? JSON.stringify(body) : undefined,
        signal,
      });
    } catch (error) {
      signal.throwIfAborted();
      const code = systemErrorCode(error instanceof Error ? error.cause : undefined);
      throw new AppError(
        'llm_endpoint_unreachable',
        `${endpoint.baseUrl} is not answering${code ? ` (${code})` : ''}. ${kept}Start the server (e.g. \`ollama serve\`) or check its address in Settings › AI prompt enhancement.`,
        {
          cause: error,
          details: { url },
        },
      );
    }
    if (!response.ok) {
      const serverMessage = await errorMessageOf(response);
      this.#deps.log.warn('openai-compatible server refused', { url, status: response.status, serverMessage });
      const why =
        response.status === 401 || response.status === 403
          ? 'refused the API key'
          : response.status === 404
            ? `does not know that model or path${serverMessage ? ` (${serverMessage})` : ''}`
            : `answered ${response.status}${serverMessage ? `: ${serverMessage}` : ''}`;
      throw new AppError(
        'llm_endpoint_error',
        `${endpoint.baseUrl} ${why}. ${kept}Check Settings › AI prompt enhancement.`,
        {
          details: { url, status: response.status, serverMessage },
        },
      );
    }
    return response;
  }

  async #readStream(response: Response, endpoint: OpenAiEndpoint, request: GenerateRequest): Promise<GenerateResult> {
    let text = '';
    let chunks = 0;
    let usage: number | undefined;
    let buffer = '';
    let data: string[] = [];
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();

    const dispatch = (): boolean => {
      if (data.length === 0) return false;
      const payload = data.join('\n');
      data = [];
      if (payload.trim() === '[DONE]') return true;
      let event: unknown;
      try {
        event = JSON.parse(payload);
      } catch {
        throw new AppError(
          'llm_endpoint_error',
          `${endpoint.baseUrl} sent a stream ComfyDesk could not read. Your prompt is unchanged.`,
          { details: { payload: payload.slice(0, 200) } },
        );
      }
      const error = (event as { error?: { message?: unknown } } | null)?.error;
      if (error) {
        throw new AppError(
          'llm_endpoint_error',
          `${endpoint.baseUrl} stopped with an error: ${typeof error.message === 'string' ? error.message : 'unknown'}. Your prompt is unchanged.`,
        );
      }
      const piece = deltaContent(event);
      if (piece) {
        text += piece;
        chunks += 1;
        request.onText(piece);
      }
      usage = usageTokens(event) ?? usage;
      return false;
    };

    try {
      for (;;) {
        const { done, value } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.search(/\r?\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(buffer[newline] === '\r' ? newline + 2 : newline + 1);
          if (line === '') {
            if (dispatch()) return { text, tokens: usage ?? chunks };
          } else if (line.startsWith('data:')) {
            data.push(line.slice(5).replace(/^ /, ''));
          }
          // Other fields (event:, id:, retry:) and comments (": keep-alive") carry nothing for us.
        }
        if (done) {
          if (buffer.startsWith('data:')) data.push(buffer.slice(5).replace(/^ /, ''));
          dispatch();
          return { text, tokens: usage ?? chunks };
        }
      }
    } catch (error) {
      request.signal.throwIfAborted();
      if (error instanceof AppError) throw error;
      throw new AppError(
        'llm_endpoint_unreachable',
        `${endpoint.baseUrl} stopped answering in the middle of the reply. Your prompt is unchanged; try again.`,
        { cause: error },
      );
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
}

async function readJson(response: Response, endpoint: Pick<OpenAiEndpoint, 'baseUrl'>): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    throw new AppError(
      'llm_endpoint_error',
      `${endpoint.baseUrl} answered with something that is not JSON. Check the address (it usually ends in /v1).`,
      { cause: error },
    );
  }
}

async function errorMessageOf(response: Response): Promise<string | undefined> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim().slice(0, 300) || undefined;
}

function deltaContent(event: unknown): string {
  const choice = (event as { choices?: Array<{ delta?: { content?: unknown } }> } | null)?.choices?.[0];
  return typeof choice?.delta?.content === 'string' ? choice.delta.content : '';
}

function messageContent(body: unknown): string {
  const choice = (body as { choices?: Array<{ message?: { content?: unknown } }> } | null)?.choices?.[0];
  return typeof choice?.message?.content === 'string' ? choice.message.content : '';
}

function usageTokens(event: unknown): number | undefined {
  const tokens = (event as { usage?: { completion_tokens?: unknown } } | null)?.usage?.completion_tokens;
  return typeof tokens === 'number' ? tokens : undefined;
}
