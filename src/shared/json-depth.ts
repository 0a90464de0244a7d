/**
 * How deeply JSON may nest before ComfyDesk refuses it. Real workflows nest a few dozen levels
 * (subgraphs inside subgraphs, lists of widget values); ComfyUI's own JSON reader stops near 1000.
 * The limit exists because the code that walks a workflow (conversion, validation, stringifying it
 * for the history) recurses, and a file nested 100 000 levels deep would exhaust the stack with
 * "Maximum call stack size exceeded" instead of a sentence a person can act on.
 * @default 512
 */
export const MAX_JSON_DEPTH = 512;

/**
 * The deepest nesting of `[` and `{` in JSON text, counting only brackets outside strings, or
 * `limit + 1` as soon as it goes past `limit`. One pass, no recursion and no parsing, so it is safe
 * on any input and cheap enough to run before `JSON.parse`.
 */
export function jsonTextDepth(text: string, limit = MAX_JSON_DEPTH): number {
  return jsonBytesDepth(new TextEncoder().encode(text), limit);
}

/**
 * {@link jsonTextDepth} of JSON held as UTF-8 bytes, before they are decoded: the same answer, since
 * every byte of a multi-byte character is 0x80 or more and so never taken for a bracket, a quote or a
 * backslash. A loop over bytes costs well under half of one over the characters of a string.
 */
export function jsonBytesDepth(bytes: Uint8Array, limit = MAX_JSON_DEPTH): number {
  return measureJsonBytes(bytes, limit).depth;
}

/** What one pass over JSON bytes tells: their nesting (see {@link jsonBytesDepth}) and whether they are all ASCII. */
export interface JsonBytesMeasure {
  depth: number;
  /**
   * Every byte is below 0x80, so Latin-1 decoding gives the same text as UTF-8 at a fraction of
   * the cost (a copy, no validation). False when unknown: the pass stops once the nesting is too deep.
   */
  isAscii: boolean;
}

/** {@link jsonBytesDepth} and, in the same pass, whether the bytes are all ASCII. */
export function measureJsonBytes(bytes: Uint8Array, limit = MAX_JSON_DEPTH): JsonBytesMeasure {
  let depth = 0;
  let deepest = 0;
  // Every byte is OR-ed in: bit 7 ends up set if any byte is 0x80 or more.
  let anyBits = 0;
  for (let index = 0; index < bytes.length; index += 1) {
    const code = bytes[index]!;
    anyBits |= code;
    if (code === 0x22) {
      // A string: skip to its closing quote; a backslash escapes the byte after it.
      for (index += 1; index < bytes.length; index += 1) {
        const inside = bytes[index]!;
        anyBits |= inside;
        if (inside === 0x22) break;
        if (inside === 0x5c) {
          index += 1;
          anyBits |= bytes[index] ?? 0;
        }
      }
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return { depth: deepest, isAscii: false };
      }
    } else if (code === 0x5d || code === 0x7d) depth -= 1;
  }
  return { depth: deepest, isAscii: anyBits < 0x80 };
}

/**
 * The deepest nesting of arrays and objects in a value fresh from `JSON.parse` (a tree: nothing
 * shared, no cycles), or `limit + 1` as soon as it goes past `limit`. It recurses at most `limit + 1`
 * levels, so no value can overflow the stack, and it costs a fraction of {@link jsonTextDepth}: it
 * visits values, not characters. V8's `JSON.parse` does not recurse, so parsing first is safe.
 */
export function parsedJsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  return typeof value === 'object' && value !== null ? treeDepth(value, 1, limit) : 0;
}

function treeDepth(value: object, depth: number, limit: number): number {
  if (depth > limit) return depth;
  let deepest = depth;
  // Indexing and for…in rather than Object.values: no array per object, which halves the cost.
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      const child: unknown = value[index];
      if (typeof child !== 'object' || child === null) continue;
      deepest = Math.max(deepest, treeDepth(child, depth + 1, limit));
      if (deepest > limit) return deepest;
    }
    return deepest;
  }
  for (const key in value) {
    const child: unknown = (value as Record<string, unknown>)[key];
    if (typeof child !== 'object' || child === null) continue;
    deepest = Math.max(deepest, treeDepth(child, depth + 1, limit));
    if (deepest > limit) return deepest;
  }
  return deepest;
}

/**
 * The deepest nesting of arrays and objects in a value already parsed, or `limit + 1` as soon as it
 * goes past `limit`. Walks with an explicit stack, so a hostile value cannot overflow the call stack.
 */
export function valueDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  const stack: Array<{ value: object; depth: number }> = [{ value, depth: 1 }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    if (depth > deepest) {
      deepest = depth;
      if (deepest > limit) return deepest;
    }
    for (const child of Object.values(current))
      if (typeof child === 'object' && child !== null) stack.push({ value: child as object, depth: depth + 1 });
  }
  return deepest;
}

/** The sentence ComfyDesk says about JSON nested deeper than `MAX_JSON_DEPTH`, naming what was read. */
export function tooDeeplyNestedMessage(what: string): string {
  return `${what} is too deeply nested: more than ${MAX_JSON_DEPTH} levels of brackets, which no ComfyUI workflow needs.`;
}
