import { z } from 'zod';

/**
 * RunPod's REST API (v1), as documented at https://docs.runpod.io/api-reference (servers:
 * `https://rest.runpod.io/v1`). v1 is what ComfyDesk speaks; RunPod announced its retirement for
 * 2026-11-15 in favour of v2, whose lists are wrapped and whose lifecycle calls are one `/action`.
 */
export const RUNPOD_API_URL = 'https://rest.runpod.io/v1';

/** Cloudflare in front of RunPod's HTTP proxy closes a request with no answer after this long (HTTP 524). */
export const RUNPOD_PROXY_TIMEOUT_SECONDS = 100;

/** The domain of RunPod's HTTP proxy: `https://{POD_ID}-{PORT}.proxy.runpod.net`. */
export const RUNPOD_PROXY_DOMAIN = 'proxy.runpod.net';

/** RunPod's public HTTPS address for an HTTP port the pod exposes. */
export function runPodProxyUrl(podId: string, port: number): string {
  return `https://${podId}-${port}.${RUNPOD_PROXY_DOMAIN}`;
}

/** Whether an address goes through RunPod's HTTP proxy (and so through its 100 s cut-off). */
export function isRunPodProxyUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === RUNPOD_PROXY_DOMAIN || host.endsWith(`.${RUNPOD_PROXY_DOMAIN}`);
  } catch {
    return false;
  }
}

/** RunPod's `desiredStatus`: what the pod should be doing (it may still be getting there). */
export const PodDesiredStatus = z.enum(['RUNNING', 'EXITED', 'TERMINATED']);
export type PodDesiredStatus = z.infer<typeof PodDesiredStatus>;

/** A pod as ComfyDesk shows it: from RunPod's `GET /v1/pods` and `GET /v1/pods/{podId}`. */
export const Pod = z.object({
  id: z.string(),
  name: z.string(),
  desiredStatus: PodDesiredStatus,
  /** $ per hour while it runs (RunPod credits are dollars). */
  costPerHr: z.number().nullable(),
  /** e.g. "RTX 4090"; null for CPU pods. */
  gpuName: z.string().nullable(),
  gpuCount: z.number().int().nullable(),
  /** Empty while the pod is starting. */
  publicIp: z.string().nullable(),
  /** Internal port → public port on `publicIp` (TCP ports only). */
  portMappings: z.record(z.string(), z.number().int()),
  /** Exposed ports as RunPod lists them: `8188/http`, `22/tcp`. */
  ports: z.array(z.string()),
  image: z.string().nullable(),
  /** What RunPod says happened last ("Rented by User: …", "Exited by user: …"). */
  lastStatusChange: z.string().nullable(),
});
export type Pod = z.infer<typeof Pod>;

/** How ComfyDesk reaches a pod's ComfyUI. */
export const PodRoute = z.discriminatedUnion('kind', [
  z.object({
    /** Full SSH to the pod's public IP and mapped port 22 (port forwarding works). */
    kind: z.literal('ssh'),
    host: z.string(),
    port: z.number().int(),
    username: z.string(),
  }),
  z.object({
    /** RunPod's HTTPS proxy for an exposed HTTP port. */
    kind: z.literal('proxy'),
    url: z.string(),
  }),
]);
export type PodRoute = z.infer<typeof PodRoute>;

/** Why a pod cannot be reached (yet), or how it can. */
export const PodReach = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), route: PodRoute, note: z.string().optional() }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);
export type PodReach = z.infer<typeof PodReach>;

/** The plain words for why RunPod's basic SSH is not enough. */
export const BASIC_SSH_NOTE =
  "RunPod's basic SSH (…@ssh.runpod.io) is proxied and cannot forward ports, so ComfyDesk needs full SSH: expose TCP port 22 on the pod (RunPod's ComfyUI and PyTorch templates do) and add your public key to RunPod.";

/**
 * How to reach ComfyUI on a pod: full SSH (`root@IP -p MAPPED`) when TCP port 22 is exposed with
 * a public IP and `preferSsh`, else RunPod's HTTPS proxy when ComfyUI's port is exposed as HTTP.
 */
export function podReach(
  pod: Pod,
  options: { comfyPort: number; access: 'auto' | 'ssh' | 'proxy'; proxyUrl?: (podId: string, port: number) => string },
): PodReach {
  if (pod.desiredStatus !== 'RUNNING')
    return {
      ok: false,
      reason:
        pod.desiredStatus === 'EXITED'
          ? `The pod ${pod.name} is stopped. Start it to connect.`
          : `The pod ${pod.name} was terminated; it cannot be started again.`,
    };
  const sshPort = pod.portMappings['22'];
  const hasSsh = Boolean(pod.publicIp) && sshPort !== undefined;
  const hasProxy = pod.ports.some((port) => port.toLowerCase() === `${options.comfyPort}/http`);
  const proxy = (): PodReach => ({
    ok: true,
    route: { kind: 'proxy', url: (options.proxyUrl ?? runPodProxyUrl)(pod.id, options.comfyPort) },
    ...(options.access === 'auto' && !hasSsh ? { note: `SSH is not exposed on this pod. ${BASIC_SSH_NOTE}` } : {}),
  });
  if (options.access !== 'proxy' && hasSsh)
    return { ok: true, route: { kind: 'ssh', host: pod.publicIp!, port: sshPort, username: 'root' } };
  if (options.access === 'ssh') {
    if (!pod.publicIp && sshPort !== undefined)
      return { ok: false, reason: `The pod ${pod.name} has no public IP yet; it is probably still starting.` };
    return { ok: false, reason: `The pod ${pod.name} does not expose TCP port 22. ${BASIC_SSH_NOTE}` };
  }
  if (hasProxy) return proxy();
  return {
    ok: false,
    reason: `The pod ${pod.name} exposes neither TCP port 22 nor HTTP port ${options.comfyPort}. Edit the pod in RunPod and expose ${options.comfyPort} as an HTTP port (or 22 as a TCP port).`,
  };
}

/** Where a pod is in its life, as ComfyDesk tracks it (RunPod's desiredStatus plus what ComfyDesk asked for). */
export const PodPhase = z.enum(['running', 'starting', 'stopping', 'stopped', 'terminated', 'unknown']);
export type PodPhase = z.infer<typeof PodPhase>;

/** One RunPod connection's pod: status, cost, idle time and auto-stop, pushed whenever it changes. */
export const PodStatus = z.object({
  /** The RunPod connection's profile id. */
  serverId: z.string(),
  /** The connection's name. */
  name: z.string(),
  podId: z.string(),
  /** The pod's own name in RunPod, once read. */
  podName: z.string().nullable(),
  phase: PodPhase,
  /** What is happening, in words ("Waiting for ComfyUI to answer…"). */
  step: z.string().optional(),
  /** $ per hour while it runs. */
  costPerHr: z.number().nullable(),
  gpuName: z.string().nullable(),
  gpuCount: z.number().nullable(),
  /** What it cost while ComfyDesk saw it running, this session ($). */
  sessionCostUsd: z.number(),
  /** How long ComfyDesk saw it running, this session (ms). */
  sessionRunningMs: z.number(),
  /** A job is held, queued or running on it (ComfyDesk's or another client's). */
  isBusy: z.boolean(),
  /** When its queue became empty while it ran (ms since epoch); null while busy or not running. */
  idleSince: z.number().nullable(),
  /** From the connection: minutes before the idle notification (0 = off) and before auto-stop (0 = off). */
  idleAlertMinutes: z.number(),
  autoStopMinutes: z.number(),
  /** When the auto-stop countdown ends (ms since epoch); null when none runs. */
  autoStopAt: z.number().nullable(),
  /** The user kept the pod running for this idle period. */
  isAutoStopCancelled: z.boolean(),
  /** How ComfyDesk reaches its ComfyUI now ("root@203.0.113.7 -p 10341" or the proxy URL). */
  route: z.string().nullable(),
  /** A caveat about the route (e.g. why it is not SSH). */
  routeNote: z.string().optional(),
  /** The last problem talking to RunPod, in words. */
  error: z.string().optional(),
  /** When RunPod was last asked (ms since epoch). */
  checkedAt: z.number().nullable(),
});
export type PodStatus = z.infer<typeof PodStatus>;

/** Every RunPod connection's pod. */
export const PodsSnapshot = z.object({ pods: z.array(PodStatus) });
export type PodsSnapshot = z.infer<typeof PodsSnapshot>;

/** Something about a pod's cost the user should hear about, also as a desktop notification. */
export const PodAlert = z.object({
  serverId: z.string(),
  /** `idle`: the queue has been empty for a while and the pod still bills; `auto-stop`: the countdown started; `stopped`: auto-stop stopped it. */
  kind: z.enum(['idle', 'auto-stop', 'stopped']),
  title: z.string(),
  message: z.string(),
});
export type PodAlert = z.infer<typeof PodAlert>;

/** Dollars as a person reads them: $0.79, $12.40, $0.004 for tiny amounts. */
export function formatUsd(amount: number): string {
  if (amount > 0 && amount < 0.01) return `$${amount.toFixed(3)}`;
  return `$${amount.toFixed(2)}`;
}
