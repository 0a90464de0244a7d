import { createHash } from 'node:crypto';
import { ConnectionProfile, type ConnectionsSettings } from '@shared/domain/connection';
import { targetKey, type SessionTarget } from './profile-targets';
import type { ConnectionSecretsValue } from './server-connection';

/**
 * What a session (a CLI run, one serve mode run) adds to the saved connections, in memory only:
 * its own profiles, their secrets, saved profiles it keeps online, a default for this session, and
 * the servers it uses for generation beside the saved ones (serve mode with several `--server`).
 */
export class SessionProfiles {
  readonly profiles = new Map<string, ConnectionProfile>();
  readonly secrets = new Map<string, ConnectionSecretsValue>();
  readonly online = new Set<string>();
  activeId: string | null = null;
  /** Profiles (of this session, or saved) that take jobs for this session only. */
  generation = new Set<string>();

  /** The saved connections with the session's merged in (its profiles last, its default first). */
  merge(stored: ConnectionsSettings): ConnectionsSettings {
    if (this.profiles.size === 0 && this.activeId === null && this.generation.size === 0) return stored;
    return {
      ...stored,
      profiles: [...stored.profiles, ...this.profiles.values()],
      activeId: this.activeId ?? stored.activeId,
      generation: [...new Set([...stored.generation, ...this.generation])],
    };
  }

  /**
   * Takes a change to the merged view (`merged` → `next`): the session's part stays here, and the
   * saved part is returned, to be written to settings.
   */
  absorb(next: ConnectionsSettings, merged: ConnectionsSettings, stored: ConnectionsSettings): ConnectionsSettings {
    const sessionBefore = this.activeId;
    for (const id of [...this.profiles.keys()]) {
      const profile = next.profiles.find((item) => item.id === id);
      if (profile) this.profiles.set(id, profile);
      else {
        this.profiles.delete(id);
        this.secrets.delete(id);
      }
    }
    const profiles = next.profiles.filter((profile) => !this.profiles.has(profile.id));
    let activeId = stored.activeId;
    if (sessionBefore !== null && !next.profiles.some((profile) => profile.id === sessionBefore)) {
      this.activeId = null; // the session default was deleted: the saved default applies again
    } else if (next.activeId !== merged.activeId) {
      if (next.activeId !== null && this.profiles.has(next.activeId)) this.activeId = next.activeId;
      else {
        this.activeId = null;
        activeId = next.activeId;
      }
    }
    if (activeId !== null && !profiles.some((profile) => profile.id === activeId)) activeId = profiles[0]?.id ?? null;
    const isSaved = (id: string) => profiles.some((profile) => profile.id === id);
    // "Use for generation" of a session profile, or of a saved one only this session added, stays
    // here (turned off, it leaves); the saved profiles' own goes to settings.
    const isSessionOnly = (id: string) =>
      this.profiles.has(id) || (this.generation.has(id) && !stored.generation.includes(id));
    const exists = (id: string) => next.profiles.some((profile) => profile.id === id);
    this.generation = new Set(next.generation.filter((id) => exists(id) && isSessionOnly(id)));
    return {
      profiles,
      activeId,
      alsoOnline: next.alsoOnline.filter(isSaved),
      generation: next.generation.filter((id) => isSaved(id) && !this.generation.has(id)),
    };
  }

  /** The profile (saved or of this session) that points at the same server as `target`. */
  find(target: SessionTarget, merged: ConnectionsSettings): ConnectionProfile | undefined {
    const key = targetKey(target.profile);
    return merged.profiles.find((profile) => targetKey(profile) === key);
  }

  /**
   * Brings `target` into the session: a saved profile for the same server (`existing`) is kept as it
   * is in settings and only kept online; a new one gets an id derived from its address, so the
   * history of runs on it lines up across sessions. With `isForGeneration` it takes jobs too. Answers
   * the id, and whether secrets were given.
   */
  add(
    target: SessionTarget,
    existing: ConnectionProfile | undefined,
    isForGeneration = false,
  ): { id: string; hasNewSecrets: boolean } {
    const id =
      existing?.id ?? `session-${createHash('sha256').update(targetKey(target.profile)).digest('hex').slice(0, 12)}`;
    const secrets = {
      ...(target.secrets?.passphrase ? { passphrase: target.secrets.passphrase } : {}),
      ...(target.secrets?.headerValue ? { headerValue: target.secrets.headerValue } : {}),
    };
    const hasNewSecrets = Object.keys(secrets).length > 0;
    if (hasNewSecrets) this.secrets.set(id, secrets);
    if (!existing) {
      this.profiles.set(id, ConnectionProfile.parse({ ...target.profile, id }));
    } else if (this.profiles.has(id) && target.profile.kind === 'ssh' && target.profile.pinnedHostKey) {
      this.profiles.set(id, { ...existing, pinnedHostKey: target.profile.pinnedHostKey } as ConnectionProfile);
    } else if (!this.profiles.has(id)) {
      this.online.add(id);
    }
    if (isForGeneration) this.generation.add(id);
    return { id, hasNewSecrets };
  }
}
