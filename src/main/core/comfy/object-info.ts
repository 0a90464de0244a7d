import { z } from 'zod';

/**
 * ComfyUI's `GET /object_info` (protocol doc §5): one node definition per class_type. Parsed
 * leniently — custom nodes add keys and newer servers add fields — but the parts conversion and
 * compatibility rely on are checked.
 */

/** `[type]` or `[type, options]`; type is a string ("INT", "MODEL", "FLOAT,INT", "COMBO") or a legacy combo's option list. */
export const InputSpec = z.union([
  z.tuple([z.union([z.string(), z.array(z.unknown())])]),
  z
    .tuple([z.union([z.string(), z.array(z.unknown())]), z.record(z.string(), z.unknown()).nullable()])
    .rest(z.unknown()),
]);
export type InputSpec = z.infer<typeof InputSpec>;

const InputGroup = z.record(z.string(), z.unknown());

export const NodeDef = z
  .object({
    input: z
      .object({
        required: InputGroup.optional(),
        optional: InputGroup.optional(),
        hidden: InputGroup.optional(),
      })
      .loose()
      .default({}),
    input_order: z
      .object({
        required: z.array(z.string()).optional(),
        optional: z.array(z.string()).optional(),
        hidden: z.array(z.string()).optional(),
      })
      .loose()
      .optional(),
    output: z.array(z.unknown()).default([]),
    output_is_list: z.array(z.boolean()).optional(),
    output_name: z.array(z.string().nullable()).optional(),
    name: z.string(),
    display_name: z.string().nullable().optional(),
    description: z.string().nullable().optional(),
    category: z.string().nullable().optional(),
    python_module: z.string().optional(),
    output_node: z.boolean().optional(),
    deprecated: z.boolean().optional(),
    experimental: z.boolean().optional(),
    api_node: z.boolean().optional(),
  })
  .loose();
export type NodeDef = z.infer<typeof NodeDef>;

export type ObjectInfo = Record<string, NodeDef>;

export interface ObjectInfoProblem {
  classType: string;
  message: string;
}

/**
 * Parses a whole object_info document. A node definition that does not parse is left out and
 * reported, rather than failing the whole server (one broken custom node must not hide the rest).
 */
export function parseObjectInfo(raw: unknown): { objectInfo: ObjectInfo; problems: ObjectInfoProblem[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError('object_info is not a JSON object');
  }
  const objectInfo: ObjectInfo = {};
  const problems: ObjectInfoProblem[] = [];
  for (const [classType, value] of Object.entries(raw)) {
    const parsed = NodeDef.safeParse(value);
    if (parsed.success) objectInfo[classType] = parsed.data;
    else
      problems.push({
        classType,
        message: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      });
  }
  return { objectInfo, problems };
}

/** A node's inputs in the server's authoritative order (input_order, else JSON key order). */
export function orderedInputs(def: NodeDef, group: 'required' | 'optional'): Array<[name: string, spec: unknown]> {
  const specs = def.input[group] ?? {};
  const order = def.input_order?.[group] ?? Object.keys(specs);
  return order.filter((name) => Object.hasOwn(specs, name)).map((name) => [name, specs[name]]);
}

/** The option list of a combo input, in either the legacy (`[[...], opts]`) or V3 (`["COMBO", {options}]`) form. */
export function comboOptions(spec: unknown): Array<string | number> | undefined {
  if (!Array.isArray(spec) || spec.length === 0) return undefined;
  const [type, options] = spec as [unknown, unknown];
  if (Array.isArray(type))
    return type.filter((value): value is string | number => typeof value === 'string' || typeof value === 'number');
  if (
    type === 'COMBO' &&
    typeof options === 'object' &&
    options !== null &&
    Array.isArray((options as { options?: unknown }).options)
  ) {
    return (options as { options: unknown[] }).options.filter(
      (value): value is string | number => typeof value === 'string' || typeof value === 'number',
    );
  }
  return undefined;
}

/** The type name of an input spec: "INT", "MODEL", …, or "COMBO" for either combo form. */
export function inputType(spec: unknown): string | undefined {
  if (!Array.isArray(spec) || spec.length === 0) return undefined;
  const type = spec[0] as unknown;
  if (Array.isArray(type)) return 'COMBO';
  return typeof type === 'string' ? type : undefined;
}

/** The options object of an input spec (`{}` when absent). */
export function inputOptions(spec: unknown): Record<string, unknown> {
  if (!Array.isArray(spec) || spec.length < 2) return {};
  const options = spec[1] as unknown;
  return typeof options === 'object' && options !== null && !Array.isArray(options)
    ? (options as Record<string, unknown>)
    : {};
}

/** Computed once per node-definition object (a client keeps one until it refreshes). */
const outputTypesByInfo = new WeakMap<ObjectInfo, ReadonlySet<string>>();

/** Node classes that can be run targets (`output_node: true`): where a prompt's execution starts. */
export function outputNodeTypes(objectInfo: ObjectInfo): ReadonlySet<string> {
  let types = outputTypesByInfo.get(objectInfo);
  if (!types) {
    types = new Set(
      Object.entries(objectInfo)
        .filter(([, def]) => def.output_node === true)
        .map(([name]) => name),
    );
    outputTypesByInfo.set(objectInfo, types);
  }
  return types;
}
