import { describe, expect, test } from 'vitest';
import type { ApiPrompt } from '@shared/domain/generation';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { corpusPairs, readJson, recordedObjectInfo, supplementedObjectInfo } from '../../../../../support/corpus';
import { CORPUS_DIR } from '../../../../../support/paths';
import { comparePrompts, type SkewKind } from '../../../../../support/prompt-compare';

// The pairs were saved by real frontends at the moment each image was generated: their prompt is
// what ComfyUI ran. Dynamic prompts and %date% are already resolved in them, so any randomness and
// clock give the same result; fixed ones keep the test deterministic.
const fixed = { random: () => 0, now: () => new Date(2025, 0, 2, 3, 4, 5) };

describe.skipIf(!CORPUS_DIR)('UI workflows convert to the prompt a real frontend saved with them', () => {
  const pairs = corpusPairs();

  test('all 107 pairs match, apart from documented version skew', () => {
    const objectInfo = supplementedObjectInfo();
    expect(pairs).toHaveLength(107);
    const skew = new Map<SkewKind, number>();
    const failures: string[] = [];
    const titleFailures: string[] = [];
    let exact = 0;
    let withSkew = 0;
    for (const pair of pairs) {
      const result = convertWorkflow(readJson(pair.workflow), { objectInfo, ...fixed });
      expect(result.missingNodeTypes, pair.name).toEqual([]);
      const comparison = comparePrompts(result.prompt, readJson(pair.prompt) as ApiPrompt, objectInfo);
      if (comparison.mismatches.length > 0) failures.push(`${pair.name}:\n    ${comparison.mismatches.join('\n    ')}`);
      else if (comparison.isExact) exact += 1;
      else withSkew += 1;
      for (const difference of comparison.accepted) skew.set(difference.kind, (skew.get(difference.kind) ?? 0) + 1);
      titleFailures.push(...comparison.titleMismatches.map((line) => `${pair.name}: ${line}`));
    }
    console.log(
      [
        `UI→API pairs: ${exact + withSkew}/${pairs.length} match (${((100 * (exact + withSkew)) / pairs.length).toFixed(1)}%): ${exact} exactly, ${withSkew} apart from version skew, ${failures.length} differ.`,
        ...[...skew].map(([kind, count]) => `  accepted ${kind}: ${count}`),
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    expect(titleFailures).toEqual([]);
  });

  test('against the recorded server alone, pairs using nodes it lacks name exactly those node types', () => {
    const objectInfo = recordedObjectInfo();
    const missing = new Map<string, string[]>();
    for (const pair of pairs) {
      const result = convertWorkflow(readJson(pair.workflow), { objectInfo, ...fixed });
      if (result.missingNodeTypes.length > 0)
        missing.set(pair.name, result.missingNodeTypes.map((entry) => entry.type).sort());
      const saved = readJson(pair.prompt) as ApiPrompt;
      const needed = [
        ...new Set(
          Object.values(saved)
            .map((node) => node.class_type)
            .filter((type) => !objectInfo[type]),
        ),
      ].sort();
      expect(result.missingNodeTypes.map((entry) => entry.type).sort(), pair.name).toEqual(needed);
    }
    expect([...new Set([...missing.values()].flat())].sort()).toEqual([
      'Canny',
      'EmptyFlux2LatentImage',
      'Flux2Scheduler',
      'ImageUpscaleWithModel',
      'UpscaleModelLoader',
    ]);
  });
});
