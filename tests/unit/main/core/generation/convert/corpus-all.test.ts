import { describe, expect, test } from 'vitest';
import { ConversionResult, type ApiPrompt } from '@shared/domain/generation';
import type { ObjectInfo } from '../../../../../../src/main/core/comfy/object-info';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { isApiPrompt, isUiWorkflow } from '../../../../../../src/main/core/generation/convert/workflow-format';
import { corpusName, filesUnder, readJson, recordedObjectInfo } from '../../../../../support/corpus';
import { CORPUS_DIR } from '../../../../../support/paths';

/** Every UI workflow of the corpus (members of the one collection file count one by one). */
function uiWorkflows(): Array<{ name: string; workflow: unknown }> {
  return filesUnder(CORPUS_DIR!).flatMap((file) => {
    if (!file.endsWith('.json')) return [];
    const raw = readJson(file);
    if (isUiWorkflow(raw)) return [{ name: corpusName(file), workflow: raw }];
    if (
      typeof raw === 'object' &&
      raw !== null &&
      !Array.isArray(raw) &&
      Object.keys(raw).length > 0 &&
      Object.values(raw).every(isUiWorkflow)
    ) {
      return Object.entries(raw).map(([key, workflow]) => ({ name: `${corpusName(file)}#${key}`, workflow }));
    }
    return [];
  });
}

/** What ComfyUI's validation would trip over in the prompt's shape (§4.5, §6.7). */
function shapeProblems(prompt: ApiPrompt, objectInfo: ObjectInfo): string[] {
  const problems: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    const def = objectInfo[node.class_type];
    if (!def) {
      problems.push(`${id}: unknown class ${node.class_type}`);
      continue;
    }
    const known = new Set([...Object.keys(def.input.required ?? {}), ...Object.keys(def.input.optional ?? {})]);
    for (const [name, value] of Object.entries(node.inputs)) {
      if (!known.has(name) && !name.includes('.')) problems.push(`${id}: ${node.class_type} has no input "${name}"`);
      if (Object.hasOwn(def.input.hidden ?? {}, name)) problems.push(`${id}: hidden input "${name}" was sent`);
      if (Array.isArray(value)) {
        const [source, slot] = value as unknown[];
        const target = typeof source === 'string' ? prompt[source] : undefined;
        if (value.length !== 2 || !target || typeof slot !== 'number')
          problems.push(`${id}.${name}: ${JSON.stringify(value)} is not a link to a sent node`);
        else if (slot >= (objectInfo[target.class_type]?.output.length ?? 0))
          problems.push(`${id}.${name}: output ${slot} of ${target.class_type} does not exist`);
      }
    }
  }
  return problems;
}

describe.skipIf(!CORPUS_DIR)('every UI workflow in the corpus', () => {
  test('converts without error; those whose node types the server knows give a well-formed prompt, the others name what is missing', () => {
    const objectInfo = recordedObjectInfo();
    const workflows = uiWorkflows();
    let complete = 0;
    let missing = 0;
    for (const { name, workflow } of workflows) {
      const result = convertWorkflow(workflow, { objectInfo, random: () => 0.5, now: () => new Date(2025, 0, 1) });
      // The shared schema is what crosses the bridge later: every real result must fit it.
      expect(ConversionResult.safeParse(result).success, name).toBe(true);
      if (result.missingNodeTypes.length > 0) {
        missing += 1;
        for (const entry of result.missingNodeTypes)
          expect(objectInfo[entry.type], `${name}: ${entry.type}`).toBeUndefined();
        continue;
      }
      complete += 1;
      expect(shapeProblems(result.prompt, objectInfo), name).toEqual([]);
      expect(isApiPrompt(result.prompt) || Object.keys(result.prompt).length === 0, name).toBe(true);
      for (const id of Object.keys(result.prompt))
        expect(result.nodeMap[id], `${name}: node map for ${id}`).toBeDefined();
    }
    console.log(
      `Corpus UI workflows: ${workflows.length} converted, ${complete} with every node type known to the recorded server, ${missing} naming missing node types.`,
    );
    expect(workflows.length).toBeGreaterThanOrEqual(427);
    expect(complete).toBeGreaterThan(300);
  });

  test('the API-format files of the corpus pass through and name their unknown node types', () => {
    const objectInfo = recordedObjectInfo();
    const files = filesUnder(CORPUS_DIR!).filter(
      (file) => file.endsWith('.json') && !file.includes('embedded_in_images'),
    );
    let count = 0;
    for (const file of files) {
      const raw = readJson(file) as Record<string, unknown>;
      const wrapped =
        typeof raw.input === 'object' && raw.input !== null
          ? (raw.input as { workflow?: unknown }).workflow
          : undefined;
      if (!isApiPrompt(raw) && !isApiPrompt(wrapped)) continue;
      count += 1;
      const result = convertWorkflow(raw, { objectInfo });
      expect(result.format, corpusName(file)).toBe('api');
      const prompt = (isApiPrompt(raw) ? raw : wrapped) as ApiPrompt;
      expect(Object.keys(result.prompt)).toEqual(Object.keys(prompt));
      const unknown = [
        ...new Set(
          Object.values(prompt)
            .map((node) => node.class_type)
            .filter((type) => !objectInfo[type]),
        ),
      ];
      expect(
        result.missingNodeTypes.map((entry) => entry.type),
        corpusName(file),
      ).toEqual(unknown);
    }
    expect(count).toBe(10);
  });
});
