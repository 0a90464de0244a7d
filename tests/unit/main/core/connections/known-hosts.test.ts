import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  checkHostKey,
  fingerprintOf,
  keyTypeOf,
  patternsMatch,
} from '../../../../../src/main/core/connections/known-hosts';
import { authHeaders, factsFrom } from '../../../../../src/main/core/connections/server-connection';
import { ConnectionDraft, ConnectionProfile, ConnectionsSettings } from '../../../../../src/shared/domain/connection';

/** An ssh-ed25519 public key blob, as a server presents it. */
function hostKeyBlob(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const u32 = (value: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    return buffer;
  };
  return Buffer.concat([u32(11), Buffer.from('ssh-ed25519'), u32(32), raw]);
}

const line = (name: string, blob: Buffer) => `${name} ssh-ed25519 ${blob.toString('base64')}`;

describe('host keys', () => {
  test('fingerprints look like OpenSSH prints them', () => {
    const blob = hostKeyBlob();
    expect(fingerprintOf(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });

  test('known on port 22 by plain name, on other ports as [host]:port, and by hashed name', () => {
    const blob = hostKeyBlob();
    expect(
      checkHostKey({
        host: 'pod.example',
        port: 22,
        keyBlob: blob,
        knownHosts: `# comment\n${line('pod.example,10.0.0.5', blob)}\n`,
      }).status,
    ).toBe('known');
    expect(
      checkHostKey({ host: 'pod.example', port: 2222, keyBlob: blob, knownHosts: line('pod.example', blob) }).status,
    ).toBe('unknown');
    expect(
      checkHostKey({ host: 'pod.example', port: 2222, keyBlob: blob, knownHosts: line('[pod.example]:2222', blob) })
        .status,
    ).toBe('known');
    const salt = Buffer.from('0123456789abcdefghij');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[pod.example]:2222').digest('base64')}`;
    expect(
      checkHostKey({ host: 'pod.example', port: 2222, keyBlob: blob, knownHosts: line(hashed, blob) }).status,
    ).toBe('known');
  });

  test('a different key of the same type for a known host is changed; a pin decides only for unlisted hosts', () => {
    const presented = hostKeyBlob();
    const old = hostKeyBlob();
    expect(checkHostKey({ host: 'h', port: 22, keyBlob: presented, knownHosts: line('h', old) })).toMatchObject({
      status: 'changed',
      source: 'known_hosts',
      expectedFingerprint: fingerprintOf(old),
    });
    expect(
      checkHostKey({
        host: 'h',
        port: 22,
        keyBlob: presented,
        knownHosts: '',
        pinnedFingerprint: fingerprintOf(presented),
      }).status,
    ).toBe('known');
    expect(
      checkHostKey({ host: 'h', port: 22, keyBlob: presented, knownHosts: '', pinnedFingerprint: fingerprintOf(old) }),
    ).toMatchObject({ status: 'changed', source: 'pinned' });
    expect(
      checkHostKey({ host: 'h', port: 22, keyBlob: presented, knownHosts: `@revoked ${line('h', presented)}` }).status,
    ).toBe('revoked');
  });

  test('wildcards and negations in host patterns', () => {
    expect(patternsMatch('*.example.com,!bad.example.com', 'pod.example.com')).toBe(true);
    expect(patternsMatch('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    expect(patternsMatch('pod-?', 'pod-1')).toBe(true);
  });
});

describe('profiles', () => {
  test('a fresh install has the local profile; URLs must be http(s); SSH defaults fill in', () => {
    expect(ConnectionsSettings.parse({})).toEqual({
      profiles: [{ id: 'local', name: 'This computer', kind: 'local', url: 'http://127.0.0.1:8188' }],
      activeId: 'local',
      alsoOnline: [],
      generation: [],
    });
    expect(ConnectionProfile.safeParse({ id: 'x', name: 'x', kind: 'url', url: 'ftp://a' }).success).toBe(false);
    expect(
      ConnectionProfile.safeParse({ id: 'x', name: 'x', kind: 'url', url: 'https://POD-8188.proxy.runpod.net' })
        .success,
    ).toBe(true);
    expect(ConnectionDraft.parse({ kind: 'ssh', name: 'Pod', host: 'pod', username: 'root' })).toMatchObject({
      port: 22,
      auth: 'key',
      remoteHost: '127.0.0.1',
      remotePort: 8188,
      localPort: 0,
    });
    expect(ConnectionDraft.safeParse({ kind: 'ssh', name: 'Pod', host: 'root@pod', username: 'root' }).success).toBe(
      false,
    );
  });

  test('the proxy header is built from its scheme and the secret', () => {
    const profile = ConnectionProfile.parse({
      id: 'p',
      name: 'p',
      kind: 'url',
      url: 'https://x',
      authHeader: { scheme: 'basic' },
    });
    expect(authHeaders(profile, 'user:pw')).toEqual({
      Authorization: `Basic ${Buffer.from('user:pw').toString('base64')}`,
    });
    expect(
      authHeaders({ ...profile, authHeader: { scheme: 'custom', name: 'X-Api-Key' } } as ConnectionProfile, 'k'),
    ).toEqual({ 'X-Api-Key': 'k' });
    expect(authHeaders(profile, undefined)).toEqual({});
  });

  test('server facts come from the first device of /system_stats', () => {
    expect(
      factsFrom({
        system: { comfyui_version: '0.3.64', os: 'posix' },
        devices: [
          { name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync', type: 'cuda', vram_total: 25e9, vram_free: 20e9 },
        ],
      }),
    ).toEqual({
      comfyuiVersion: '0.3.64',
      gpuName: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
      deviceType: 'cuda',
      vramFreeBytes: 20e9,
      vramTotalBytes: 25e9,
      os: 'posix',
    });
    expect(factsFrom({ system: {}, devices: [] })).toEqual({
      comfyuiVersion: null,
      gpuName: null,
      deviceType: null,
      vramFreeBytes: null,
      vramTotalBytes: null,
      os: null,
    });
  });
});
