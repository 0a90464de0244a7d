import type {
  ConnectionDraft,
  ConnectionHealth,
  ConnectionProfile,
  ConnectionSecrets,
  ConnectionsSettings,
  HostKeyProblem,
  OpenResult,
  RunPodProfile,
  SshProfile,
  UrlProfile,
} from '@shared/domain/connection';
import { AppError } from '../lib/errors';

/** Finds where a RunPod profile's ComfyUI is now, with the profile's API key (the pods area provides it). */
export interface PodRouteResolver {
  resolve(profile: RunPodProfile, apiKey: string | undefined): Promise<SshProfile | UrlProfile>;
}

/** A server used for one session (a CLI run, one serve mode run): kept online, never saved in settings. */
export interface SessionTarget {
  profile: ConnectionDraft;
  secrets?: ConnectionSecrets;
}

/** What makes two profiles the same server: the address, the SSH host, user and remote end, or the pod. */
export function targetKey(profile: ConnectionDraft | ConnectionProfile): string {
  if (profile.kind === 'runpod') return `runpod:${profile.podId}`;
  if (profile.kind !== 'ssh') {
    const url = new URL(profile.url);
    return `url:${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }
  return `ssh:${profile.username}@${profile.host}:${profile.port}>${profile.remoteHost}:${profile.remotePort}`;
}

/** ComfyUI's own page for a browser: its address, and what the person should know before opening it there. */
export function pageForBrowser(profile: ConnectionProfile, url: string): OpenResult {
  if (profile.kind === 'ssh') {
    return {
      url,
      openedBy: 'client',
      note: `This is the SSH tunnel's local end on the machine running ComfyDesk. It opens only in a browser on that machine; from elsewhere, forward the port yourself (ssh -L ${url.split(':').at(-1)}:${profile.remoteHost}:${profile.remotePort} ${profile.username}@${profile.host}${profile.port === 22 ? '' : ` -p ${profile.port}`}).`,
    };
  }
  if (profile.kind === 'url' && profile.authHeader)
    return {
      url,
      openedBy: 'client',
      note: "The browser does not send ComfyDesk's saved token: the proxy may ask you to sign in.",
    };
  return { url, openedBy: 'client' };
}

/** The health of a profile that is not online and has nothing newer to say. */
export function offlineHealth(serverId: string, now: number): ConnectionHealth {
  return { serverId, state: 'offline', reason: 'Not connected.', isSocketOpen: false, checkedAt: now };
}

/**
 * Settings with an SSH host key the user confirmed pinned to its profile. It must be the unknown key
 * the server presented (`seen`), so a fingerprint typed from elsewhere is never trusted.
 */
export function withPinnedHostKey(
  settings: ConnectionsSettings,
  profile: ConnectionProfile,
  fingerprint: string,
  seen: HostKeyProblem | undefined,
): ConnectionsSettings {
  if (profile.kind !== 'ssh' && profile.kind !== 'runpod')
    throw new AppError('invalid_input', `${profile.name} is not an SSH connection.`);
  if (!seen || seen.kind !== 'unknown' || seen.fingerprint !== fingerprint) {
    throw new AppError(
      'ssh_host_key_unknown',
      `That fingerprint is not the one ${seen?.host ?? (profile.kind === 'ssh' ? profile.host : 'the pod')} presented. Test the connection again and compare the fingerprint it shows.`,
      { details: { fingerprint } },
    );
  }
  return {
    ...settings,
    profiles: settings.profiles.map((item) =>
      item.id === profile.id && (item.kind === 'ssh' || item.kind === 'runpod')
        ? { ...item, pinnedHostKey: fingerprint }
        : item,
    ),
  };
}
