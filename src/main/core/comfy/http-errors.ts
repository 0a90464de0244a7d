import type { z } from 'zod';
import { AppError, systemErrorCode } from '../lib/errors';
import type { PromptRejected } from './messages';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'EPROTO',
]);

/** host:port of a URL as a person would name it ("127.0.0.1:8188"). */
export function describeAddress(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/** The deepest `cause` chain code (undici wraps socket errors: TypeError("fetch failed") → cause → cause). */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined; depth += 1) {
    const code = systemErrorCode(current);
    if (code && code !== 'UND_ERR_SOCKET') return code;
    current =
      typeof current === 'object' && current !== null && 'cause' in current
        ? (current as { cause?: unknown }).cause
        : undefined;
  }
  return undefined;
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException
    ? error.name === 'TimeoutError'
    : typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'TimeoutError';
}

function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/**
 * Translates a failed request to ComfyUI into an AppError a person can act on: refused, unknown
 * host, TLS problem, timeout, or cancelled. `timeoutMs` is what the deadline was.
 */
export function requestFailure(error: unknown, url: URL, timeoutMs: number): AppError {
  const where = describeAddress(url);
  const details = { url: url.origin + url.pathname, address: where };
  if (error instanceof AppError) return error;
  if (isTimeout(error)) {
    return new AppError(
      'comfy_timeout',
      `ComfyUI at ${where} did not answer within ${Math.round(timeoutMs / 100) / 10} s. Nothing was changed; check that the server is not overloaded and try again.`,
      { cause: error, details },
    );
  }
  if (isAbort(error))
    return new AppError('cancelled', 'The request to ComfyUI was cancelled.', { cause: error, details });
  const code = causeCode(error);
  if (code === 'ECONNREFUSED') {
    return new AppError('comfy_unreachable', `Connection refused on ${where} — is ComfyUI running?`, {
      cause: error,
      details: { ...details, systemCode: code },
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new AppError(
      'comfy_unreachable',
      `The host ${url.hostname} could not be found. Check the address in Settings › Connections.`,
      { cause: error, details: { ...details, systemCode: code } },
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED' || code === 'ECONNABORTED') {
    return new AppError(
      'comfy_unreachable',
      `The connection to ${where} was closed before ComfyUI answered. Check that the address points to ComfyUI.`,
      { cause: error, details: { ...details, systemCode: code } },
    );
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') {
    return new AppError(
      'comfy_unreachable',
      `${where} cannot be reached from this machine (${code}). Check the address and your network.`,
      { cause: error, details: { ...details, systemCode: code } },
    );
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))) {
    return new AppError(
      'comfy_tls_error',
      `The secure (https) connection to ${where} failed: ${tlsExplanation(code)}`,
      { cause: error, details: { ...details, systemCode: code } },
    );
  }
  return new AppError('comfy_unreachable', `ComfyUI at ${where} could not be reached${code ? ` (${code})` : ''}.`, {
    cause: error,
    details: { ...details, ...(code ? { systemCode: code } : {}) },
  });
}

function tlsExplanation(code: string): string {
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')
    return 'the server uses a self-signed certificate, which is not trusted.';
  if (code === 'CERT_HAS_EXPIRED') return 'the server’s certificate has expired.';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'the certificate is for another host name.';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return 'the server does not speak https on that port — try http:// instead.';
  return `the certificate could not be verified (${code}).`;
}

/** The server answered, but not like ComfyUI (HTML page, unexpected JSON). */
export function notComfyUi(url: URL, what: string): AppError {
  return new AppError(
    'comfy_not_comfyui',
    `${describeAddress(url)} answered, but not like ComfyUI (${what}). Check that the address points to ComfyUI itself.`,
    {
      details: { url: url.origin + url.pathname },
    },
  );
}

/** A 400 from POST /prompt as an AppError whose message names the failing nodes and ComfyUI's own words. */
export function promptRejection(rejected: z.infer<typeof PromptRejected>): AppError {
  const error =
    typeof rejected.error === 'string'
      ? { type: 'error', message: rejected.error, details: '', extra_info: {} }
      : rejected.error;
  const lines = Object.entries(rejected.node_errors).flatMap(([nodeId, node]) =>
    node.errors.map(
      (item) => `node ${nodeId} (${node.class_type}): ${item.message}${item.details ? ` — ${item.details}` : ''}`,
    ),
  );
  const head = `ComfyUI rejected the prompt: ${error.message}${error.details && lines.length === 0 ? ` (${error.details})` : ''}`;
  const userMessage =
    lines.length > 0
      ? `${head}. ${lines.slice(0, 5).join('; ')}${lines.length > 5 ? `; and ${lines.length - 5} more` : ''}.`
      : `${head}.`;
  return new AppError('comfy_invalid_prompt', userMessage, { details: { error, nodeErrors: rejected.node_errors } });
}
