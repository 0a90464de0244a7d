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
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
      continue;
    }
    if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (code === 0x5d || code === 0x7d) depth -= 1;
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
