import { z } from 'zod';
import { Pod, PodAlert, PodsSnapshot } from '../domain/pod';
import { Empty } from './common';

const ByServer = z.object({ serverId: z.string().min(1) }).strict();

/** Rented pods (RunPod): the account's pods, their status and cost, start, stop and auto-stop. */
export const podsCommands = {
  /** The RunPod account's pods, for picking one: with an API key being entered, or the key saved with a connection. */
  'pods.list': {
    input: z
      .object({ apiKey: z.string().max(512).optional(), serverId: z.string().min(1).optional() })
      .strict()
      .refine((value) => Boolean(value.apiKey || value.serverId), 'Enter a RunPod API key.'),
    output: z.object({ pods: z.array(Pod) }),
  },
  /** Every RunPod connection's pod: status, $/h, cost this session, idle time and auto-stop countdown. */
  'pods.status': { input: Empty, output: PodsSnapshot },
  /** Starts a stopped pod and brings its connection online; returns at once, progress arrives as `pods.changed`. */
  'pods.start': { input: ByServer, output: PodsSnapshot },
  /** Stops a pod. Refused while a job is held, queued or running on it, unless `force` (the user confirmed). */
  'pods.stop': {
    input: z.object({ serverId: z.string().min(1), force: z.boolean().default(false) }).strict(),
    output: PodsSnapshot,
  },
  /** Keeps the pod running through this idle period (stops the auto-stop countdown). */
  'pods.cancelAutoStop': { input: ByServer, output: PodsSnapshot },
} as const;

export const podsEvents = {
  /** Every RunPod connection's pod, after any change (status, cost, idle time, countdown). */
  'pods.changed': PodsSnapshot,
  /** An idle pod still bills, an auto-stop countdown started, or auto-stop stopped a pod. */
  'pods.alert': PodAlert,
} as const;
