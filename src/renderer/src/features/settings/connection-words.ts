import type { ConnectionHealth, ConnectionProfile, HealthState, ServerFacts } from '@shared/domain/connection';

/** The status dot's tone for a health state. */
export function healthTone(state: HealthState | undefined): 'ok' | 'busy' | 'off' | 'error' {
  if (state === 'online') return 'ok';
  if (state === 'connecting') return 'busy';
  if (state === 'error') return 'error';
  return 'off';
}

const STATE_WORDS: Record<HealthState, string> = {
  online: 'Online',
  connecting: 'Connecting',
  offline: 'Offline',
  error: 'Needs attention',
};

/** A health state in one word or two. */
export function stateWord(state: HealthState | undefined): string {
  return state ? STATE_WORDS[state] : 'Not checked';
}

/**
 * The state of a connection in the list: one kept online says Online/Offline; one that is not
 * says whether a look at it found ComfyUI ("Reachable") or why not, and "Not connected" before any.
 */
export function listStateWord(health: ConnectionHealth | undefined, isKeptOnline: boolean): string {
  if (isKeptOnline || !health) return stateWord(health?.state);
  if (health.state === 'online') return 'Reachable';
  if (health.state === 'offline' && health.code === undefined) return 'Not connected';
  return stateWord(health.state);
}

/** Bytes as GB/MB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${Math.round(bytes / 1e6)} MB`;
  return `${bytes} B`;
}

/** "ComfyUI 0.3.64 · 12 ms" for an online server. */
export function serverLine(health: ConnectionHealth | undefined): string | undefined {
  if (health?.state !== 'online') return undefined;
  const parts = [`ComfyUI ${health.facts?.comfyuiVersion ?? '(unknown version)'}`];
  if (health.latencyMs !== undefined) parts.push(`${health.latencyMs} ms`);
  return parts.join(' · ');
}

/** "NVIDIA GeForce RTX 4090 · 20.1 GB of 24.0 GB free". */
export function deviceLine(facts: ServerFacts | undefined): string | undefined {
  if (!facts?.gpuName) return undefined;
  const name = facts.gpuName.replace(/^cuda:\d+\s+/, '').replace(/\s*:\s*\w+$/, '');
  if (facts.vramFreeBytes == null) return name;
  return `${name} · ${formatBytes(facts.vramFreeBytes)}${facts.vramTotalBytes ? ` of ${formatBytes(facts.vramTotalBytes)}` : ''} free`;
}

/** Where a profile points, in one line. */
export function profileAddress(profile: ConnectionProfile): string {
  if (profile.kind === 'ssh')
    return `${profile.username}@${profile.host}${profile.port === 22 ? '' : `:${profile.port}`} → ${profile.remoteHost}:${profile.remotePort}`;
  if (profile.kind === 'runpod')
    return `RunPod pod ${profile.podId} · ${profile.access === 'proxy' ? 'HTTPS proxy' : profile.access === 'ssh' ? 'full SSH' : 'SSH when exposed, else the HTTPS proxy'}`;
  return profile.url;
}

/** The badge of each kind of connection. */
export const KIND_WORDS: Record<ConnectionProfile['kind'], string> = {
  local: 'Local',
  url: 'URL',
  ssh: 'SSH tunnel',
  runpod: 'RunPod',
};
