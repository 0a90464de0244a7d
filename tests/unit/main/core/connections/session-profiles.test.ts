import { describe, expect, test } from 'vitest';
import { ConnectionsSettings } from '@shared/domain/connection';
import { generationIds, withGeneration } from '../../../../../src/main/core/connections/generation-members';
import { SessionProfiles } from '../../../../../src/main/core/connections/session-profiles';

const stored = ConnectionsSettings.parse({
  profiles: [
    { id: 'saved', kind: 'url', name: 'Saved', url: 'http://127.0.0.1:1' },
    { id: 'other', kind: 'url', name: 'Other', url: 'http://127.0.0.1:2' },
  ],
  activeId: 'saved',
});

/** A session like `serve --server :3 --server :4 --server :2`: the first is the default, the rest take jobs too. */
function farmSession(): SessionProfiles {
  const sessions = new SessionProfiles();
  const add = (url: string) =>
    sessions.add(
      { profile: { kind: 'url', name: url, url } },
      sessions.find({ profile: { kind: 'url', name: url, url } }, sessions.merge(stored)),
    ).id;
  sessions.activeId = add('http://127.0.0.1:3');
  sessions.generation.add(add('http://127.0.0.1:4'));
  sessions.generation.add(add('http://127.0.0.1:2')); // the saved profile "other"
  return sessions;
}

describe('servers a session uses for generation', () => {
  test('every server the session names takes jobs, its saved ones included, and settings are not changed', () => {
    const sessions = farmSession();
    const merged = sessions.merge(stored);
    const [first, second] = [...sessions.profiles.keys()];
    expect(generationIds(merged)).toEqual(['other', first, second]);
    expect(merged.activeId).toBe(first);
    // Any other change written back (here: the saved default is renamed) leaves generation as it was saved.
    const renamed = {
      ...merged,
      profiles: merged.profiles.map((profile) => (profile.id === 'saved' ? { ...profile, name: 'Renamed' } : profile)),
    };
    expect(sessions.absorb(renamed, merged, stored).generation).toEqual([]);
    expect(generationIds(sessions.merge(stored))).toEqual(['other', first, second]);
  });

  test('turned off in Settings, a session server stops taking jobs; turned on, a session profile takes them for this session only', () => {
    const sessions = farmSession();
    const [, second] = [...sessions.profiles.keys()];
    let merged = sessions.merge(stored);
    const withoutOther = withGeneration(merged, 'other', false);
    expect(sessions.absorb(withoutOther, merged, stored).generation).toEqual([]);
    merged = sessions.merge(stored);
    expect(generationIds(merged)).not.toContain('other');
    const withoutSecond = withGeneration(merged, second!, false);
    sessions.absorb(withoutSecond, merged, stored);
    merged = sessions.merge(stored);
    expect(generationIds(merged)).not.toContain(second);
    const again = withGeneration(merged, second!, true);
    expect(sessions.absorb(again, merged, stored).generation).toEqual([]);
    expect(generationIds(sessions.merge(stored))).toContain(second);
  });

  test('a saved profile already used for generation stays so in settings when the session names it too', () => {
    const saved = { ...stored, generation: ['other'] };
    const sessions = new SessionProfiles();
    const target = { profile: { kind: 'url' as const, name: 'b', url: 'http://127.0.0.1:2' } };
    sessions.generation.add(sessions.add(target, sessions.find(target, sessions.merge(saved))).id);
    const merged = sessions.merge(saved);
    expect(merged.generation).toEqual(['other']);
    expect(sessions.absorb(merged, merged, saved).generation).toEqual(['other']);
  });
});
