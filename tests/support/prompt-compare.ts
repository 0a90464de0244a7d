import { isApiLink, type ApiPrompt } from '@shared/domain/generation';
import type { ObjectInfo } from '../../src/main/core/comfy/object-info';
import { widgetDefault, widgetTypeOf } from '../../src/main/core/generation/convert/widget-layout';

/**
 * Compares a converted prompt with one a real ComfyUI frontend saved for the same graph. Every
 * difference is either explained by version skew of a documented kind (the saved pairs span
 * frontend versions from 2023 to 2025 while object_info is ComfyUI 0.3.64) or reported as a
 * mismatch. Nothing is ignored silently: accepted differences are returned for the report.
 */

export type SkewKind =
  /** An older frontend also sent a UI-only widget (`upload`, `choose file to upload`, `video-preview`): not an input of the node type. */
  | 'ui_value_in_saved_prompt'
  /** The node type gained an input after the file was saved; the conversion sent its server default. */
  | 'input_added_after_save'
  /** A 2023 frontend gave a legacy group node's inner nodes fresh numeric ids; current frontends use `<group id>:<index>`. */
  | 'legacy_group_node_ids'
  /** The saved prompt carries the server's `is_changed` cache key, which clients must not send. */
  | 'server_cache_key'
  /** The server gives no display name (V3 nodes of 0.3.64 have `display_name: null`): the frontend titled the node from its own locale, we from the class name. */
  | 'display_name_from_frontend_locale';

export interface AcceptedDifference {
  kind: SkewKind;
  nodeId: string;
  detail: string;
}

export interface PromptComparison {
  /** Same nodes, classes, literals and links, with nothing accepted. */
  isExact: boolean;
  accepted: AcceptedDifference[];
  mismatches: string[];
  /** Nodes whose saved `_meta.title` differs from ours (only when the saved prompt has titles). */
  titleMismatches: string[];
}

function literals(inputs: Record<string, unknown>): string {
  return JSON.stringify(
    Object.entries(inputs)
      .filter(([, value]) => !isApiLink(value))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

function specOf(objectInfo: ObjectInfo, classType: string, input: string): unknown {
  const def = objectInfo[classType];
  return def?.input.required?.[input] ?? def?.input.optional?.[input];
}

export function comparePrompts(actual: ApiPrompt, expected: ApiPrompt, objectInfo: ObjectInfo): PromptComparison {
  const accepted: AcceptedDifference[] = [];
  const mismatches: string[] = [];
  const titleMismatches: string[] = [];

  // expected id → actual id
  const idMap = new Map<string, string>();
  for (const id of Object.keys(expected)) if (Object.hasOwn(actual, id)) idMap.set(id, id);
  const unmatchedActual = Object.keys(actual).filter((id) => !Object.hasOwn(expected, id));
  for (const id of Object.keys(expected)) {
    if (idMap.has(id)) continue;
    const node = expected[id]!;
    const candidate = unmatchedActual.find(
      (other) =>
        other.includes(':') &&
        actual[other]!.class_type === node.class_type &&
        literals(actual[other]!.inputs) === literals(node.inputs) &&
        ![...idMap.values()].includes(other),
    );
    if (candidate) {
      idMap.set(id, candidate);
      accepted.push({
        kind: 'legacy_group_node_ids',
        nodeId: id,
        detail: `saved as ${id}, converted as ${candidate} (${node.class_type})`,
      });
    } else {
      mismatches.push(`node ${id} (${node.class_type}) is missing`);
    }
  }
  const mappedActual = new Set(idMap.values());
  for (const id of Object.keys(actual))
    if (!mappedActual.has(id)) mismatches.push(`node ${id} (${actual[id]!.class_type}) is extra`);
  const actualToExpected = new Map([...idMap].map(([expectedId, actualId]) => [actualId, expectedId]));

  for (const [expectedId, actualId] of idMap) {
    const want = expected[expectedId]!;
    const got = actual[actualId]!;
    if (Object.hasOwn(want, 'is_changed'))
      accepted.push({ kind: 'server_cache_key', nodeId: expectedId, detail: 'is_changed' });
    if (want.class_type !== got.class_type) {
      mismatches.push(`node ${expectedId}: class ${got.class_type}, saved ${want.class_type}`);
      continue;
    }
    const wantTitle = want._meta?.title;
    if (wantTitle !== undefined && wantTitle !== got._meta?.title) {
      if (!objectInfo[got.class_type]?.display_name && got._meta?.title === got.class_type)
        accepted.push({
          kind: 'display_name_from_frontend_locale',
          nodeId: expectedId,
          detail: `${got.class_type} titled "${wantTitle}"`,
        });
      else titleMismatches.push(`node ${expectedId}: title "${got._meta?.title}", saved "${wantTitle}"`);
    }
    for (const [name, wantValue] of Object.entries(want.inputs)) {
      if (!Object.hasOwn(got.inputs, name)) {
        if (specOf(objectInfo, want.class_type, name) === undefined)
          accepted.push({
            kind: 'ui_value_in_saved_prompt',
            nodeId: expectedId,
            detail: `${want.class_type}.${name} = ${JSON.stringify(wantValue)}`,
          });
        else
          mismatches.push(`node ${expectedId} ${want.class_type}.${name}: missing, saved ${JSON.stringify(wantValue)}`);
        continue;
      }
      let gotValue = got.inputs[name];
      if (isApiLink(gotValue)) gotValue = [actualToExpected.get(gotValue[0]) ?? `unmapped:${gotValue[0]}`, gotValue[1]];
      if (JSON.stringify(gotValue) !== JSON.stringify(wantValue)) {
        mismatches.push(
          `node ${expectedId} ${want.class_type}.${name}: ${JSON.stringify(gotValue)}, saved ${JSON.stringify(wantValue)}`,
        );
      }
    }
    for (const [name, gotValue] of Object.entries(got.inputs)) {
      if (Object.hasOwn(want.inputs, name)) continue;
      const spec = specOf(objectInfo, got.class_type, name);
      const valueType = widgetTypeOf(spec);
      const fallback =
        valueType === undefined ? undefined : widgetDefault({ role: 'value', inputName: name, valueType, spec });
      if (!isApiLink(gotValue) && fallback !== undefined && JSON.stringify(fallback) === JSON.stringify(gotValue)) {
        accepted.push({
          kind: 'input_added_after_save',
          nodeId: expectedId,
          detail: `${got.class_type}.${name} = ${JSON.stringify(gotValue)}`,
        });
      } else {
        mismatches.push(`node ${expectedId} ${got.class_type}.${name}: ${JSON.stringify(gotValue)} is extra`);
      }
    }
  }
  return { isExact: accepted.length === 0 && mismatches.length === 0, accepted, mismatches, titleMismatches };
}
