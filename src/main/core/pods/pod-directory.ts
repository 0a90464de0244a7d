import type { RunPodProfile, SshProfile, UrlProfile } from '@shared/domain/connection';
import { podReach, runPodProxyUrl, type Pod, type PodReach } from '@shared/domain/pod';
import type { FetchLike } from '../comfy/comfy-client';
import type { PodRouteResolver } from '../connections/profile-targets';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { RunPodApi, type RunPodApiDeps } from './runpod-api';

/** What the directory needs: where RunPod's API is, and (for tests) where a pod's proxy address points. */
export interface PodDirectoryDeps {
  log: Logger;
  /** @default https://rest.runpod.io/v1 */
  apiUrl?: string;
  fetch?: FetchLike;
  /** RunPod's HTTPS proxy address for a pod port. @default https://{podId}-{port}.proxy.runpod.net */
  proxyUrl?: (podId: string, port: number) => string;
  /** Retry waits of the API client (tests: no real sleeping). */
  wait?: RunPodApiDeps['wait'];
  now?: () => number;
}

/**
 * RunPod's API for ComfyDesk: one client per API key, pods read at most once per few seconds
 * (connections and the pod monitor share what was read), and a RunPod profile resolved to where its
 * ComfyUI is reachable now.
 */
export class PodDirectory implements PodRouteResolver {
  readonly #deps: PodDirectoryDeps;
  readonly #apis = new Map<string, RunPodApi>();
  readonly #cache = new Map<string, { pod: Promise<Pod>; at: number }>();

  constructor(deps: PodDirectoryDeps) {
    this.#deps = deps;
  }

  /** The API client for a key (kept, so its rate-limit waits are shared). */
  api(apiKey: string | undefined): RunPodApi {
    if (!apiKey)
      throw new AppError(
        'runpod_unauthorized',
        'This connection has no RunPod API key. Create one in RunPod › Settings › API Keys and enter it in Settings › Connections.',
      );
    let api = this.#apis.get(apiKey);
    if (!api) {
      api = new RunPodApi({
        apiKey,
        baseUrl: this.#deps.apiUrl,
        fetch: this.#deps.fetch,
        log: this.#deps.log.child('runpod'),
        wait: this.#deps.wait,
      });
      this.#apis.set(apiKey, api);
    }
    return api;
  }

  /** Every pod of the account. */
  async list(apiKey: string | undefined): Promise<Pod[]> {
    return this.api(apiKey).listPods();
  }

  /** One pod, from a read at most `maxAgeMs` old. @default maxAgeMs 2000 */
  async pod(apiKey: string | undefined, podId: string, options: { maxAgeMs?: number } = {}): Promise<Pod> {
    const api = this.api(apiKey);
    const key = `${apiKey}\u0000${podId}`;
    const now = this.#now();
    const cached = this.#cache.get(key);
    if (cached && now - cached.at <= (options.maxAgeMs ?? 2000)) return cached.pod;
    const pod = api.getPod(podId);
    this.#cache.set(key, { pod, at: now });
    pod.catch(() => {
      if (this.#cache.get(key)?.pod === pod) this.#cache.delete(key);
    });
    return pod;
  }

  /** Forgets what was read of a pod (after asking RunPod to stop or start it). */
  forget(podId: string): void {
    for (const key of this.#cache.keys()) if (key.endsWith(`\u0000${podId}`)) this.#cache.delete(key);
  }

  /** How a profile reaches its pod, given what RunPod says about the pod. */
  reach(profile: RunPodProfile, pod: Pod): PodReach {
    const proxyUrl = this.#deps.proxyUrl ?? runPodProxyUrl;
    const canSsh = profile.auth === 'agent' || Boolean(profile.keyPath);
    const offersSsh = Boolean(pod.publicIp) && pod.portMappings['22'] !== undefined;
    if (profile.access === 'auto' && offersSsh && !canSsh) {
      // No key chosen: the proxy needs none. SSH stays the way when the pod offers nothing else.
      const viaProxy = podReach(pod, { comfyPort: profile.comfyPort, access: 'proxy', proxyUrl });
      if (viaProxy.ok)
        return {
          ...viaProxy,
          note: 'The pod offers full SSH, but this connection has no SSH key set, so it uses the HTTPS proxy.',
        };
    }
    return podReach(pod, { comfyPort: profile.comfyPort, access: profile.access, proxyUrl });
  }

  /** Where a RunPod profile's ComfyUI is now: an SSH target (full SSH to the pod) or its proxy URL. */
  async resolve(profile: RunPodProfile, apiKey: string | undefined): Promise<SshProfile | UrlProfile> {
    const pod = await this.pod(apiKey, profile.podId);
    const reach = this.reach(profile, pod);
    if (!reach.ok) {
      const code =
        pod.desiredStatus === 'EXITED'
          ? 'pod_stopped'
          : pod.desiredStatus === 'TERMINATED'
            ? 'pod_not_found'
            : 'pod_unreachable';
      throw new AppError(code, reach.reason, { details: { podId: pod.id, desiredStatus: pod.desiredStatus } });
    }
    const { route } = reach;
    if (route.kind === 'proxy') return { id: profile.id, name: profile.name, kind: 'url', url: route.url };
    return {
      id: profile.id,
      name: profile.name,
      kind: 'ssh',
      host: route.host,
      port: route.port,
      username: route.username,
      auth: profile.auth,
      ...(profile.keyPath ? { keyPath: profile.keyPath } : {}),
      remoteHost: '127.0.0.1',
      remotePort: profile.comfyPort,
      localPort: profile.localPort,
      ...(profile.pinnedHostKey ? { pinnedHostKey: profile.pinnedHostKey } : {}),
    };
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}

/** A route in one line: "root@203.0.113.7 -p 10341 (full SSH)" or the proxy URL. */
export function describeRoute(reach: PodReach): string | null {
  if (!reach.ok) return null;
  return reach.route.kind === 'ssh'
    ? `${reach.route.username}@${reach.route.host} -p ${reach.route.port} (full SSH)`
    : `${reach.route.url} (HTTPS proxy)`;
}

/**
 * A pod proxy address from a template with `{podId}` and `{port}` (COMFYDESK_RUNPOD_PROXY_URL: a
 * self-hosted proxy, or a test's stand-in); undefined without one, so RunPod's own proxy is used.
 */
export function proxyUrlTemplate(template: string | undefined): ((podId: string, port: number) => string) | undefined {
  if (!template) return undefined;
  return (podId, port) => template.replaceAll('{podId}', podId).replaceAll('{port}', String(port));
}
