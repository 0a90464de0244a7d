import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A stand-in for RunPod's REST API v1 — RunPod itself cannot be reached from the test machines, and
// no real API key was available. It answers exactly the documented request and response shapes of
// the endpoints ComfyDesk uses:
//   https://docs.runpod.io/api-reference/pods/GET/pods             GET  /v1/pods          → Pod[]
//   https://docs.runpod.io/api-reference/pods/GET/pods/podId       GET  /v1/pods/{podId}  → Pod | 404
//   https://docs.runpod.io/api-reference/pods/POST/pods/podId/stop  POST /v1/pods/{podId}/stop  → 200 | 400
//   https://docs.runpod.io/api-reference/pods/POST/pods/podId/start POST /v1/pods/{podId}/start → 200 | 400
//   https://docs.runpod.io/api-reference/overview (Bearer API key; errors as {"message": …} per the
//   OpenAPI's UnauthorizedError), and the Pod schema of https://rest.runpod.io/v1/openapi.json
//   (costPerHr, desiredStatus RUNNING|EXITED|TERMINATED, publicIp and portMappings empty while a pod
//   initialises, ports as "8188/http" / "22/tcp").
// Rate limiting answers 429 with Retry-After, as RunPod's docs describe for its APIs
// (https://docs.runpod.io/serverless/endpoints/send-requests, "Rate limits"). A pod can be made to
// take a while to stop or start; time comes from `now`, so a test can let "a minute" pass at once.

/** A pod as the stand-in keeps it. */
export interface StandInPod {
  id: string;
  name: string;
  desiredStatus: 'RUNNING' | 'EXITED' | 'TERMINATED';
  costPerHr: number;
  gpu: { id: string; count: number; displayName: string } | null;
  publicIp: string | null;
  portMappings: Record<string, number>;
  ports: string[];
  image: string;
  /** ms the pod keeps running after a stop request. @default 0 */
  stopDelayMs?: number;
  /** ms after a start before it has its public IP and port mappings. @default 0 */
  startDelayMs?: number;
  /** The public IP and port mappings it gets when it has started (what it had before, by default). */
  whenStarted?: { publicIp: string | null; portMappings: Record<string, number> };
}

export interface RunPodStandIn {
  /** The API base URL to give ComfyDesk (`…/v1`). */
  readonly url: string;
  readonly requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** The next `count` requests get 429 with this Retry-After (seconds). */
  rateLimit(count: number, retryAfterSeconds?: number): void;
  pod(id: string): StandInPod & { stopRequestedAt?: number; startRequestedAt?: number };
  /** Changes a pod as RunPod would (e.g. its IP after a reset). */
  update(id: string, patch: Partial<StandInPod>): void;
  stop(): Promise<void>;
}

interface PodState extends StandInPod {
  stopRequestedAt?: number;
  startRequestedAt?: number;
  lastStartedAt: number;
  lastStatusChange: string;
}

export async function startRunPodStandIn(options: {
  apiKey: string;
  pods: StandInPod[];
  /** @default Date.now */
  now?: () => number;
  /** Called when a pod has stopped / has started (e.g. to stop or start the ComfyUI behind it). */
  onStopped?: (podId: string) => void | Promise<void>;
  onStarted?: (podId: string) => void | Promise<void>;
}): Promise<RunPodStandIn> {
  const now = options.now ?? Date.now;
  const pods = new Map<string, PodState>(
    options.pods.map((pod) => [
      pod.id,
      {
        ...pod,
        whenStarted: pod.whenStarted ?? { publicIp: pod.publicIp, portMappings: pod.portMappings },
        lastStartedAt: now(),
        lastStatusChange: `Rented by User: ${new Date(now()).toString()}`,
      },
    ]),
  );
  const requests: RunPodStandIn['requests'] = [];
  let limited = 0;
  let retryAfterSeconds = 1;

  /** Moves a pod along a stop or start that has had its time. */
  const settle = async (pod: PodState): Promise<void> => {
    if (pod.stopRequestedAt !== undefined && now() >= pod.stopRequestedAt + (pod.stopDelayMs ?? 0)) {
      pod.stopRequestedAt = undefined;
      pod.desiredStatus = 'EXITED';
      pod.publicIp = null;
      pod.portMappings = {};
      pod.lastStatusChange = `Exited by user: ${new Date(now()).toString()}`;
      await options.onStopped?.(pod.id);
    }
    if (pod.startRequestedAt !== undefined && now() >= pod.startRequestedAt + (pod.startDelayMs ?? 0)) {
      pod.startRequestedAt = undefined;
      pod.publicIp = pod.whenStarted?.publicIp ?? null;
      pod.portMappings = { ...(pod.whenStarted?.portMappings ?? {}) };
      pod.lastStartedAt = now();
      await options.onStarted?.(pod.id);
    }
  };

  const body = (pod: PodState): Record<string, unknown> => ({
    adjustedCostPerHr: pod.costPerHr,
    aiApiId: null,
    consumerUserId: 'user_standin',
    containerDiskInGb: 50,
    costPerHr: pod.costPerHr,
    desiredStatus: pod.desiredStatus,
    dockerEntrypoint: [],
    dockerStartCmd: [],
    endpointId: null,
    env: {},
    gpu: pod.gpu
      ? {
          ...pod.gpu,
          securePrice: pod.costPerHr,
          communityPrice: pod.costPerHr,
        }
      : undefined,
    id: pod.id,
    image: pod.image,
    interruptible: false,
    lastStartedAt: new Date(pod.lastStartedAt).toISOString(),
    lastStatusChange: pod.lastStatusChange,
    locked: false,
    machineId: `machine-${pod.id}`,
    memoryInGb: 62,
    name: pod.name,
    portMappings: pod.portMappings,
    ports: pod.ports,
    publicIp: pod.publicIp ?? '',
    vcpuCount: 16,
    volumeInGb: 20,
    volumeMountPath: '/workspace',
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const authorized = request.headers.authorization === `Bearer ${options.apiKey}`;
    requests.push({ method: request.method ?? 'GET', path: url.pathname + url.search, authorized });
    if (limited > 0) {
      limited -= 1;
      response.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': String(retryAfterSeconds) });
      response.end(JSON.stringify({ message: 'Too Many Requests' }));
      return;
    }
    if (!authorized) return send(response, 401, { message: 'Unauthorized' });
    for (const pod of pods.values()) await settle(pod);
    const path = url.pathname.replace(/\/+$/, '');
    if (request.method === 'GET' && path === '/v1/pods') {
      const status = url.searchParams.get('desiredStatus');
      return send(
        response,
        200,
        [...pods.values()]
          .filter((pod) => pod.desiredStatus !== 'TERMINATED' && (!status || pod.desiredStatus === status))
          .map(body),
      );
    }
    const match = /^\/v1\/pods\/([^/]+)(?:\/(stop|start))?$/.exec(path);
    if (!match) return send(response, 404, { message: 'Not found' });
    const pod = pods.get(decodeURIComponent(match[1]!));
    const action = match[2];
    if (request.method === 'GET' && !action) {
      if (!pod || pod.desiredStatus === 'TERMINATED') return send(response, 404, { message: 'Pod not found.' });
      return send(response, 200, body(pod));
    }
    if (request.method === 'POST' && action) {
      if (!pod || pod.desiredStatus === 'TERMINATED') return send(response, 400, { message: 'Invalid Pod ID.' });
      if (action === 'stop' && pod.desiredStatus === 'RUNNING' && pod.stopRequestedAt === undefined) {
        pod.stopRequestedAt = now();
        pod.startRequestedAt = undefined;
      }
      if (action === 'start' && pod.desiredStatus === 'EXITED') {
        pod.desiredStatus = 'RUNNING';
        pod.startRequestedAt = now();
        pod.lastStatusChange = `Resumed by user: ${new Date(now()).toString()}`;
      }
      await settle(pod);
      response.writeHead(200, { 'Content-Length': 0 });
      response.end();
      return;
    }
    return send(response, 405, { message: 'Method not allowed' });
  };

  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => void handle(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const find = (id: string): PodState => {
    const pod = pods.get(id);
    if (!pod) throw new Error(`no pod ${id}`);
    return pod;
  };
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    rateLimit(count, seconds = 1) {
      limited = count;
      retryAfterSeconds = seconds;
    },
    pod: find,
    update(id, patch) {
      Object.assign(find(id), patch);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
