import type { InputRef, PromptGraph } from './prompt-graph';

/**
 * Finding the prompt texts a sampler actually uses: follow its positive and negative inputs back
 * through conditioning nodes (ControlNet, area, combine, guidance, image-to-video conditioning…) to
 * the text encoders, rather than trusting node order or titles.
 */

/** Core samplers; other nodes count as samplers when they take positive/negative conditioning or a guider and give a LATENT. */
const SAMPLER_TYPES = new Set(['KSampler', 'KSamplerAdvanced', 'SamplerCustom', 'SamplerCustomAdvanced']);

/** Conditioning that no longer carries its text (Flux-style negatives). Tracing stops there. */
const TEXT_DISCARDING_TYPES = new Set(['ConditioningZeroOut']);

/** Whether a node samples: a core sampler, or a node taking positive/negative conditioning or a guider and giving a LATENT. */
export function isSampler(graph: PromptGraph, id: string): boolean {
  if (SAMPLER_TYPES.has(graph.classType(id))) return true;
  const def = graph.def(id);
  if (!def || !graph.outputTypes(id).includes('LATENT')) return false;
  const inputs = { ...def.input.required, ...def.input.optional };
  const typeOf = (name: string) => graph.typeOf(id, name);
  return (
    (Object.hasOwn(inputs, 'positive') && typeOf('positive') === 'CONDITIONING' && Object.hasOwn(inputs, 'negative')) ||
    Object.keys(inputs).some((name) => typeOf(name) === 'GUIDER')
  );
}

/** Samplers in the prompt, upstream ones first (a hires-fix pass comes after the first pass). */
export function samplersOf(graph: PromptGraph): string[] {
  return graph.order.filter((id) => isSampler(graph, id));
}

type Role = 'positive' | 'negative' | 'either';

/**
 * The conditioning inputs a sampler reads, by role: its own positive/negative, or its guider's.
 * A guider's second conditioning (DualCFGGuider `cond2`) is the negative text in some workflows and
 * an image condition in others, so it counts as negative only when the negative path reaches it too.
 */
function conditioningEntries(graph: PromptGraph, samplerId: string): Array<{ role: Role; link: [string, number] }> {
  const entries: Array<{ role: Role; link: [string, number] }> = [];
  const add = (nodeId: string) => {
    let hasPositive = false;
    for (const name of graph.linkedInputsOfType(nodeId, 'CONDITIONING')) {
      const role: Role = /neg/i.test(name) ? 'negative' : hasPositive ? 'either' : 'positive';
      if (role === 'positive') hasPositive = true;
      entries.push({ role, link: graph.link(nodeId, name)! });
    }
  };
  add(samplerId);
  for (const name of graph.linkedInputsOfType(samplerId, 'GUIDER')) add(graph.link(samplerId, name)![0]);
  return entries;
}

/** Text inputs that carry the main prompt when an encoder has several (Flux and SD3 encoders: the T5 text). */
const MAIN_TEXT_INPUTS = ['t5xxl', 'text_g'];

/** The prompt text inputs of a node: multiline or dynamic-prompt STRING inputs, the main one first. */
export function promptTextInputs(graph: PromptGraph, id: string): string[] {
  const def = graph.def(id);
  if (!def) return [];
  const names = Object.keys({ ...def.input.required, ...def.input.optional }).filter((name) => {
    if (graph.typeOf(id, name) !== 'STRING') return false;
    const options = graph.optionsOf(id, name);
    return options.multiline === true || options.dynamicPrompts === true;
  });
  const rank = (name: string) => (MAIN_TEXT_INPUTS.includes(name) ? 0 : 1);
  return names
    .map((name, index) => ({ name, index }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.index - b.index)
    .map(({ name }) => name);
}

/** A text encoder: it takes a CLIP model (other multiline strings on the path, like motion tracks, are not prompts). */
function isTextEncoder(graph: PromptGraph, id: string): boolean {
  const def = graph.def(id);
  return Object.keys({ ...def?.input.required, ...def?.input.optional }).some(
    (name) => graph.typeOf(id, name) === 'CLIP',
  );
}

/**
 * Where a text input's value can be set: the input itself, or — when it is linked — the text a
 * string node upstream holds (a String primitive, or a text node's own literal).
 */
export function textTargets(graph: PromptGraph, id: string, inputName: string, depth = 0): InputRef[] {
  if (graph.isLiteral(id, inputName))
    return typeof graph.literal(id, inputName) === 'string' ? [{ nodeId: id, inputName }] : [];
  const link = graph.link(id, inputName);
  if (!link || depth > 4) return [];
  const [source] = link;
  const direct = graph.valueTarget(id, inputName);
  if (direct) return [direct];
  const def = graph.def(source);
  if (!def) return [];
  const stringInputs = Object.keys({ ...def.input.required, ...def.input.optional }).filter(
    (name) => graph.typeOf(source, name) === 'STRING',
  );
  const literal = stringInputs.find(
    (name) => graph.isLiteral(source, name) && typeof graph.literal(source, name) === 'string',
  );
  if (literal && stringInputs.filter((name) => graph.isLiteral(source, name)).length === 1)
    return [{ nodeId: source, inputName: literal }];
  return stringInputs.flatMap((name) => (graph.link(source, name) ? textTargets(graph, source, name, depth + 1) : []));
}

/**
 * The prompt texts feeding a sampler's positive and negative conditioning. Plain encoders (the
 * start of a conditioning chain) come before texts on nodes that modify conditioning (GLIGEN
 * boxes), each in the order they were reached.
 */
export function tracePrompts(graph: PromptGraph, samplerId: string): { positive: InputRef[]; negative: InputRef[] } {
  const found: Record<Role, Array<{ ref: InputRef; isRoot: boolean }>> = { positive: [], negative: [], either: [] };
  for (const entry of conditioningEntries(graph, samplerId)) {
    const visited = new Set<string>();
    const queue: Array<{ link: [string, number]; role: Role }> = [{ link: entry.link, role: entry.role }];
    while (queue.length > 0) {
      const { link, role: roleSoFar } = queue.shift()!;
      const [nodeId, slot] = link;
      const key = `${nodeId}:${slot}`;
      if (visited.has(key) || TEXT_DISCARDING_TYPES.has(graph.classType(nodeId))) continue;
      visited.add(key);
      const outputName = graph.outputName(nodeId, slot);
      // An undecided path takes the side of the first node output that names one (InstructPixToPix "negative").
      const role: Role =
        roleSoFar === 'either' && (outputName === 'positive' || outputName === 'negative') ? outputName : roleSoFar;
      const inputs = graph.linkedInputsOfType(nodeId, 'CONDITIONING');
      if (isTextEncoder(graph, nodeId)) {
        for (const name of promptTextInputs(graph, nodeId))
          found[role].push(...textTargets(graph, nodeId, name).map((ref) => ({ ref, isRoot: inputs.length === 0 })));
      }
      // A node passing positive and negative along (ControlNet, image-to-video conditioning) is followed on the matching side.
      const matching = inputs.filter((name) => name.toLowerCase() === outputName);
      for (const name of matching.length > 0 ? matching : inputs) queue.push({ link: graph.link(nodeId, name)!, role });
    }
  }
  const ordered = (entries: Array<{ ref: InputRef; isRoot: boolean }>) =>
    [...entries.filter((entry) => entry.isRoot), ...entries.filter((entry) => !entry.isRoot)].map((entry) => entry.ref);
  const negative = ordered(found.negative);
  const negativeKeys = new Set(negative.map((ref) => `${ref.nodeId}\u0000${ref.inputName}`));
  const either = ordered(found.either);
  return {
    positive: [
      ...ordered(found.positive),
      ...either.filter((ref) => !negativeKeys.has(`${ref.nodeId}\u0000${ref.inputName}`)),
    ],
    negative,
  };
}

/** Nodes that configure a sampler without being on its conditioning path: its guider, sigmas, sampler and noise sources. */
export function samplerSettingsNodes(graph: PromptGraph, samplerId: string): string[] {
  const result = [samplerId];
  const queue = [samplerId];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const type of ['GUIDER', 'SIGMAS', 'SAMPLER', 'NOISE']) {
      for (const name of graph.linkedInputsOfType(id, type)) {
        const source = graph.link(id, name)![0];
        if (!result.includes(source)) {
          result.push(source);
          queue.push(source);
        }
      }
    }
  }
  return result;
}
