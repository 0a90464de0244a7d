import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';

/** Where ssh keeps the hosts it knows. */
export function defaultKnownHostsPath(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}

/** The known_hosts text, or '' when the file does not exist (a first SSH connection). Other read errors throw. */
export async function readKnownHostsFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return '';
    throw error;
  }
}

/** A reader for `ssh` connections: an unreadable file trusts nothing (every host is then unknown and needs confirming). */
export function knownHostsReader(path: string, log: Logger): () => Promise<string> {
  return async () => {
    try {
      return await readKnownHostsFile(path);
    } catch (error) {
      log.warn('known_hosts unreadable', { path, code: systemErrorCode(error) });
      return '';
    }
  };
}

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (e.g. ssh-ed25519). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('ascii') || 'unknown';
}

interface KnownHostEntry {
  marker: '@revoked' | '@cert-authority' | undefined;
  patterns: string;
  keyType: string;
  keyBlob: Buffer;
}

/** Parses known_hosts text; malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker =
      fields[0] === '@revoked' || fields[0] === '@cert-authority'
        ? (fields.shift() as KnownHostEntry['marker'])
        : undefined;
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) continue;
    const keyBlob = Buffer.from(key, 'base64');
    if (keyBlob.length === 0) continue;
    entries.push({ marker, patterns, keyType, keyBlob });
  }
  return entries;
}

/** How ssh names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(name);
}

/** True when a host-pattern field (comma list, hashed `|1|salt|hash`, wildcards, `!negation`) matches. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), name)) return false;
    } else if (wildcardMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** The outcome of a host-key check. */
export type HostKeyVerdict =
  | { status: 'known'; fingerprint: string }
  | { status: 'unknown'; fingerprint: string }
  | { status: 'changed'; fingerprint: string; expectedFingerprint: string; source: 'known_hosts' | 'pinned' }
  | { status: 'revoked'; fingerprint: string };

/**
 * Checks a server's host key the way ssh does: against `~/.ssh/known_hosts` (plain or hashed
 * names, `[host]:port` for other ports), then against the key pinned on first use. A different key
 * of the same type for a known host is `changed` and must be refused.
 */
export function checkHostKey(input: {
  host: string;
  port: number;
  keyBlob: Buffer;
  knownHosts: string;
  pinnedFingerprint?: string;
}): HostKeyVerdict {
  const fingerprint = fingerprintOf(input.keyBlob);
  const keyType = keyTypeOf(input.keyBlob);
  const name = knownHostName(input.host, input.port);
  const matching = parseKnownHosts(input.knownHosts).filter(
    (entry) => entry.marker !== '@cert-authority' && patternsMatch(entry.patterns, name),
  );
  if (matching.some((entry) => entry.marker === '@revoked' && entry.keyBlob.equals(input.keyBlob)))
    return { status: 'revoked', fingerprint };
  const plain = matching.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.keyBlob.equals(input.keyBlob))) return { status: 'known', fingerprint };
  const sameType = plain.find((entry) => entry.keyType === keyType);
  if (sameType)
    return {
      status: 'changed',
      fingerprint,
      expectedFingerprint: fingerprintOf(sameType.keyBlob),
      source: 'known_hosts',
    };
  if (input.pinnedFingerprint !== undefined) {
    return input.pinnedFingerprint === fingerprint
      ? { status: 'known', fingerprint }
      : { status: 'changed', fingerprint, expectedFingerprint: input.pinnedFingerprint, source: 'pinned' };
  }
  return { status: 'unknown', fingerprint };
}
