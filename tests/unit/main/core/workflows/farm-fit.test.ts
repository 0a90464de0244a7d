import { describe, expect, test } from 'vitest';
import type { ServerInventory } from '@shared/domain/inventory';
import { farmFit } from '../../../../../src/main/core/workflows/farm-fit';
import { recordFromBytes } from '../../../../../src/main/core/workflows/scan-file';
import { textToImageApi } from '../../../../support/workflows';

const record = (path: string, workflow: unknown) =>
  recordFromBytes(
    { root: '/lib', path, sizeBytes: 100, modifiedMs: 1, thumbnail: null },
    Buffer.from(JSON.stringify(workflow)),
  );

function inventory(serverId: string, nodeTypes: string[], checkpoints: string[]): ServerInventory {
  return { serverId, nodeTypes, models: { checkpoints }, fetchedAt: 0 };
}

describe('on how many servers a workflow runs', () => {
  test('counts the online servers with every node type and model it uses, out of every server used for generation', () => {
    const portrait = record('portrait.json', textToImageApi('sd15.safetensors'));
    const types = portrait.nodeTypes;
    const fit = farmFit(
      [portrait, record('broken.json', { not: 'a workflow' })],
      [
        inventory('a', types, ['sd15.safetensors']),
        inventory('b', types, ['sdxl.safetensors']),
        inventory('c', types.slice(1), ['sd15.safetensors']),
        undefined,
      ],
    );
    expect(fit).toEqual({ total: 4, ready: { [portrait.id]: 1 } });
  });
});
