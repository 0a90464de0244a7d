import { isApiLink, type ApiLink, type ApiNode, type ApiPrompt, type NodeMapEntry } from '@shared/domain/generation';
import { inputOptions, inputType, type NodeDef, type ObjectInfo } from '../../comfy/object-info';

/** One input of one node: what parameters point at. */
export interface InputRef {
  nodeId: string;
  inputName: string;
}

/** Core value nodes whose `value` input is the value they output (protocol doc §7.2). */
export const PRIMITIVE_VALUE_NODES: ReadonlySet<string> = new Set([
  'PrimitiveInt',
  'PrimitiveFloat',
  'PrimitiveString',
  'PrimitiveStringMultiline',
  'PrimitiveBoolean',
]);

/**
 * Read access to a converted prompt with the server's node definitions and the UI's titles: the
 * vocabulary parameter detection is written in (inputs, their specs, links, upstream nodes).
 */
export class PromptGraph {
  readonly prompt: ApiPrompt;
  readonly objectInfo: ObjectInfo;
  readonly #nodeMap: Record<string, NodeMapEntry>;
  /** Node ids, sources before the nodes they feed; ties in the prompt's own order. */
  readonly order: string[];
  readonly #depth = new Map<string, number>();

  constructor(prompt: ApiPrompt, objectInfo: ObjectInfo, nodeMap: Record<string, NodeMapEntry> = {}) {
    this.prompt = prompt;
    this.objectInfo = objectInfo;
    this.#nodeMap = nodeMap;
    const ids = Object.keys(prompt);
    for (const id of ids) this.depth(id);
    this.order = ids
      .map((id, index) => ({ id, index, depth: this.#depth.get(id)! }))
      .sort((a, b) => a.depth - b.depth || a.index - b.index)
      .map((entry) => entry.id);
  }

  /** Longest chain of links above a node (0 for a node fed by nothing). */
  depth(id: string, seen = new Set<string>()): number {
    const known = this.#depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    let depth = 0;
    for (const value of Object.values(this.prompt[id]?.inputs ?? {})) {
      if (isApiLink(value) && Object.hasOwn(this.prompt, value[0]))
        depth = Math.max(depth, this.depth(value[0], seen) + 1);
    }
    this.#depth.set(id, depth);
    return depth;
  }

  node(id: string): ApiNode | undefined {
    return this.prompt[id];
  }

  def(id: string): NodeDef | undefined {
    const node = this.prompt[id];
    return node ? this.objectInfo[node.class_type] : undefined;
  }

  classType(id: string): string {
    return this.prompt[id]?.class_type ?? '';
  }

  /** An input's object_info spec (`[type, options]`). */
  spec(id: string, inputName: string): unknown {
    const def = this.def(id);
    return def?.input.required?.[inputName] ?? def?.input.optional?.[inputName];
  }

  /** The value type of an input: INT, FLOAT, STRING, BOOLEAN, COMBO, or a socket type. */
  typeOf(id: string, inputName: string): string | undefined {
    return inputType(this.spec(id, inputName));
  }

  optionsOf(id: string, inputName: string): Record<string, unknown> {
    return inputOptions(this.spec(id, inputName));
  }

  link(id: string, inputName: string): ApiLink | undefined {
    const value = this.prompt[id]?.inputs[inputName];
    return isApiLink(value) && Object.hasOwn(this.prompt, value[0]) ? value : undefined;
  }

  /** Whether the input holds a literal (not a link). */
  isLiteral(id: string, inputName: string): boolean {
    const inputs = this.prompt[id]?.inputs;
    return inputs !== undefined && Object.hasOwn(inputs, inputName) && !isApiLink(inputs[inputName]);
  }

  literal(id: string, inputName: string): unknown {
    return this.isLiteral(id, inputName) ? this.prompt[id]!.inputs[inputName] : undefined;
  }

  /** Names of a node's linked inputs whose declared type is `type`. */
  linkedInputsOfType(id: string, type: string): string[] {
    return Object.keys(this.prompt[id]?.inputs ?? {}).filter(
      (name) => this.link(id, name) && this.typeOf(id, name) === type,
    );
  }

  /** The declared name of output `slot` (lower-case), falling back to its type. */
  outputName(id: string, slot: number): string | undefined {
    const def = this.def(id);
    const name = def?.output_name?.[slot] ?? def?.output[slot];
    return typeof name === 'string' ? name.toLowerCase() : undefined;
  }

  outputTypes(id: string): string[] {
    return (this.def(id)?.output ?? []).map((type) => (typeof type === 'string' ? type : 'COMBO'));
  }

  title(id: string): string {
    const mapped = this.#nodeMap[id];
    if (mapped) return mapped.title;
    const node = this.prompt[id];
    const def = this.def(id);
    return node?._meta?.title ?? (def ? def.display_name || def.name : (node?.class_type ?? id));
  }

  /** The title only when a person gave it (templates rename nodes to say what they are for). */
  customTitle(id: string): string | undefined {
    const mapped = this.#nodeMap[id];
    if (mapped) return mapped.hasCustomTitle ? mapped.title : undefined;
    const title = this.prompt[id]?._meta?.title;
    const def = this.def(id);
    return title !== undefined && title !== (def ? def.display_name || def.name : undefined) ? title : undefined;
  }

  /** Where the value of an input can be set: the input itself when literal, or the value input of a primitive node feeding it. */
  valueTarget(id: string, inputName: string): InputRef | undefined {
    if (this.isLiteral(id, inputName)) return { nodeId: id, inputName };
    const link = this.link(id, inputName);
    if (!link) return undefined;
    const [source] = link;
    if (PRIMITIVE_VALUE_NODES.has(this.classType(source)) && this.isLiteral(source, 'value'))
      return { nodeId: source, inputName: 'value' };
    return undefined;
  }

  /** Every node a node depends on (not including itself). */
  ancestors(id: string): Set<string> {
    const result = new Set<string>();
    const visit = (current: string) => {
      for (const value of Object.values(this.prompt[current]?.inputs ?? {})) {
        if (isApiLink(value) && Object.hasOwn(this.prompt, value[0]) && !result.has(value[0])) {
          result.add(value[0]);
          visit(value[0]);
        }
      }
    };
    visit(id);
    return result;
  }
}
