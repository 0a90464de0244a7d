/** Field names whose values are secrets wherever they appear in a log record. */
const SECRET_KEY = /pass(word|phrase)?$|secret|token|authorization|api[-_]?key|private[-_]?key|cookie|credential/i;

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[redacted private key]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]'],
  [/([?&](?:token|api[-_]?key|key|secret|password)=)[^&\s"']+/gi, '$1[redacted]'],
  [/(\b(?:token|api[-_]?key|secret|password|passphrase)[=:]\s*)[^&\s"',;]+/gi, '$1[redacted]'],
  [/(\w+:\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1[redacted]@'],
];

/** Replaces secrets inside a string: keys, bearer/basic credentials, token query parameters, URL passwords. */
export function redactText(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) result = result.replace(pattern, replacement);
  return result;
}

/**
 * A copy of `value` safe to log: secret-named fields are replaced, strings are scrubbed, errors
 * keep their name, message, stack and cause (scrubbed too). Cycles and depth are bounded.
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth > 6) return '[deep]';
  seen.add(value);
  if (value instanceof Error) {
    const copy: Record<string, unknown> = { name: value.name, message: redactText(value.message) };
    if (value.stack) copy.stack = redactText(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) copy.code = code;
    if (value.cause !== undefined) copy.cause = redact(value.cause, depth + 1, seen);
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] =
      SECRET_KEY.test(key) && inner !== undefined && inner !== null && inner !== ''
        ? '[redacted]'
        : redact(inner, depth + 1, seen);
  }
  return copy;
}
