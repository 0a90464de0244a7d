import { describe, expect, test } from 'vitest';
import { ConnectionsSettings } from '@shared/domain/connection';
import { generationIds, withGeneration } from '../../../../../src/main/core/connections/generation-members';

const settings = ConnectionsSettings.parse({
  profiles: [
    { id: 'a', kind: 'url', name: 'A', url: 'http://127.0.0.1:1' },
    { id: 'b', kind: 'url', name: 'B', url: 'http://127.0.0.1:2' },
    { id: 'c', kind: 'url', name: 'C', url: 'http://127.0.0.1:3' },
  ],
  activeId: 'b',
});

describe('Use for generation', () => {
  test('the default connection always takes jobs; others join and leave in profile order', () => {
    expect(generationIds(settings)).toEqual(['b']);
    const withC = withGeneration(settings, 'c', true);
    const withBoth = withGeneration(withC, 'a', true);
    expect(generationIds(withBoth)).toEqual(['a', 'b', 'c']);
    expect(generationIds(withGeneration(withBoth, 'c', false))).toEqual(['a', 'b']);
    expect(() => withGeneration(withBoth, 'b', false)).toThrow(/default connection always takes jobs/);
  });

  test('a deleted or unknown profile in the list is not a server', () => {
    expect(generationIds({ ...settings, generation: ['gone', 'c'] })).toEqual(['b', 'c']);
  });
});
