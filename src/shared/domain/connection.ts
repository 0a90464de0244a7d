import { z } from 'zod';

/** The default address of a ComfyUI on this machine (ComfyUI's own default listen address and port). */
export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8188';
/** Where ComfyUI listens on a pod, as seen from the SSH server. */
export const DEFAULT_REMOTE_HOST = '127.0.0.1';
/** ComfyUI's default port. */
export const DEFAULT_REMOTE_PORT = 8188;
/** The id of the profile every fresh install starts with. */
export const LOCAL_PROFILE_ID = 'local';

/** How ComfyDesk reaches a ComfyUI server. */
export const ConnectionKind = z.enum(['local', 'url', 'ssh', 'runpod']);
export type ConnectionKind = z.infer<typeof ConnectionKind>;

/** An http(s) base URL, without query or fragment (a path prefix is kept: proxies may mount ComfyUI under one). */
export const BaseUrl = z
  .string()
  .trim()
  .min(1, 'Enter the server address.')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'Enter an address that starts with http:// or https://, e.g. http://127.0.0.1:8188.');

/**
 * An extra request header for protected proxies. The header's value is a secret: it never lives
 * here, only in the secret store (`hasSecret` says whether one is kept).
 */
export const AuthHeader = z.object({
  /** `bearer` sends `Authorization: Bearer <value>`; `basic` sends `Authorization: Basic base64(<user:password>)`; `custom` sends `<name>: <value>`. */
  scheme: z.enum(['bearer', 'basic', 'custom']),
  /** Header name for `custom`. @default 'Authorization' */
  name: z.string().trim().min(1).max(100).default('Authorization'),
});
export type AuthHeader = z.infer<typeof AuthHeader>;

const ProfileBase = z.object({
  id: z.string().min(1).max(64),
  /** What the user calls it ("My PC", "RunPod A100"). */
  name: z.string().trim().min(1, 'Give the connection a name.').max(80),
});

/** ComfyUI on this machine. */
export const LocalProfile = ProfileBase.extend({
  kind: z.literal('local'),
  url: BaseUrl.default(DEFAULT_LOCAL_URL),
});

/** ComfyUI at any http(s) address, e.g. a RunPod proxy URL. */
export const UrlProfile = ProfileBase.extend({
  kind: z.literal('url'),
  url: BaseUrl,
  /** Extra header for protected proxies; its value is a secret. */
  authHeader: AuthHeader.optional(),
});

/** How the SSH user signs in. */
export const SshAuthMethod = z.enum(['key', 'agent']);
export type SshAuthMethod = z.infer<typeof SshAuthMethod>;

/** A host key fingerprint as OpenSSH prints it: `SHA256:` + unpadded base64. */
export const HostKeyFingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'A fingerprint looks like SHA256: followed by 43 characters.');

/** ComfyUI on a remote machine, reached through an SSH local port forward. */
export const SshProfile = ProfileBase.extend({
  kind: z.literal('ssh'),
  host: z
    .string()
    .trim()
    .min(1, 'Enter the SSH host.')
    .max(255)
    .regex(/^[^\s@/]+$/, 'Enter a host name or address only (no user@ or path).'),
  /** @default 22 */
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().trim().min(1, 'Enter the SSH user.').max(64),
  /** `key`: a private key file (its passphrase is a secret); `agent`: the running ssh-agent (SSH_AUTH_SOCK). @default 'key' */
  auth: SshAuthMethod.default('key'),
  /** Private key file for `key` auth. */
  keyPath: z.string().trim().max(4096).optional(),
  /** Where ComfyUI listens as seen from the SSH server. @default '127.0.0.1' */
  remoteHost: z.string().trim().min(1).max(255).default(DEFAULT_REMOTE_HOST),
  /** @default 8188 */
  remotePort: z.number().int().min(1).max(65535).default(DEFAULT_REMOTE_PORT),
  /** Local end of the forward on 127.0.0.1; 0 picks a free port. @default 0 */
  localPort: z.number().int().min(0).max(65535).default(0),
  /** Host key trusted on first use (when it is not in ~/.ssh/known_hosts). */
  pinnedHostKey: HostKeyFingerprint.optional(),
});

/** How a RunPod connection reaches ComfyUI on its pod. */
export const PodAccess = z.enum(['auto', 'ssh', 'proxy']);
export type PodAccess = z.infer<typeof PodAccess>;

/**
 * ComfyUI on a RunPod pod, found through RunPod's API with the account's API key (a secret). The
 * address is filled in from the pod each time it connects, because a pod's public IP and mapped
 * ports change when it restarts: full SSH (`root@IP -p MAPPED`) when TCP port 22 is exposed, else
 * RunPod's HTTPS proxy `https://{POD_ID}-8188.proxy.runpod.net`.
 */
export const RunPodProfile = ProfileBase.extend({
  kind: z.literal('runpod'),
  podId: z
    .string()
    .trim()
    .min(1, 'Pick a pod.')
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'A pod id has letters and digits only, e.g. xedezhzb9la3ye.'),
  /** `auto`: full SSH when the pod exposes TCP port 22, else the HTTPS proxy. @default 'auto' */
  access: PodAccess.default('auto'),
  /** For SSH: a private key file (its passphrase is a secret) or the ssh-agent. @default 'key' */
  auth: SshAuthMethod.default('key'),
  keyPath: z.string().trim().max(4096).optional(),
  /** ComfyUI's port inside the pod (RunPod's ComfyUI templates use 8188). @default 8188 */
  comfyPort: z.number().int().min(1).max(65535).default(DEFAULT_REMOTE_PORT),
  /** Local end of the SSH forward on 127.0.0.1; 0 picks a free port. @default 0 */
  localPort: z.number().int().min(0).max(65535).default(0),
  /** The pod's SSH host key, trusted on first use. */
  pinnedHostKey: HostKeyFingerprint.optional(),
  /** Minutes the queue may stay empty before ComfyDesk says the pod still bills; 0 = never. @default 10 */
  idleAlertMinutes: z.number().int().min(0).max(1440).default(10),
  /** Stop the pod after this many idle minutes, after a countdown you can cancel; 0 = never. @default 0 */
  autoStopMinutes: z.number().int().min(0).max(1440).default(0),
});

/** A saved connection. Secrets (passphrase, header value, API key) are never part of it. */
export const ConnectionProfile = z.discriminatedUnion('kind', [LocalProfile, UrlProfile, SshProfile, RunPodProfile]);
export type ConnectionProfile = z.infer<typeof ConnectionProfile>;
export type LocalProfile = z.infer<typeof LocalProfile>;
export type UrlProfile = z.infer<typeof UrlProfile>;
export type SshProfile = z.infer<typeof SshProfile>;
export type RunPodProfile = z.infer<typeof RunPodProfile>;

/** The connections section of settings: the profiles and the one jobs go to by default. */
export const ConnectionsSettings = z.object({
  profiles: z
    .array(ConnectionProfile)
    .default([{ id: LOCAL_PROFILE_ID, name: 'This computer', kind: 'local', url: DEFAULT_LOCAL_URL }]),
  /** The profile used when nothing else is chosen. */
  activeId: z.string().nullable().default(LOCAL_PROFILE_ID),
  /** Profiles kept online besides the active one (several may be online at once). */
  alsoOnline: z.array(z.string()).default([]),
  /**
   * Profiles that take jobs besides the default one ("Use for generation"): all of them are kept
   * online and the held queue spreads jobs over them (the farm). The default profile always does.
   */
  generation: z.array(z.string()).default([]),
});
export type ConnectionsSettings = z.infer<typeof ConnectionsSettings>;

/** Secrets entered with a profile. Each is kept in the secret store, never in settings and never logged. */
export const ConnectionSecrets = z
  .object({
    /** Passphrase of the SSH private key. */
    passphrase: z.string().max(1024).optional(),
    /** Value of the extra header (token, or `user:password` for basic auth). */
    headerValue: z.string().max(8192).optional(),
    /** A RunPod API key. */
    apiKey: z.string().max(512).optional(),
  })
  .strict();
export type ConnectionSecrets = z.infer<typeof ConnectionSecrets>;

/** A profile as the user edits it: without an id when new. */
export const ConnectionDraft = z.discriminatedUnion('kind', [
  LocalProfile.extend({ id: LocalProfile.shape.id.optional() }),
  UrlProfile.extend({ id: UrlProfile.shape.id.optional() }),
  SshProfile.extend({ id: SshProfile.shape.id.optional() }),
  RunPodProfile.extend({ id: RunPodProfile.shape.id.optional() }),
]);
export type ConnectionDraft = z.infer<typeof ConnectionDraft>;

/** connecting → online; offline (retrying by itself) or error (needs the user). */
export const HealthState = z.enum(['connecting', 'online', 'offline', 'error']);
export type HealthState = z.infer<typeof HealthState>;

/** Facts about a server read from `/system_stats`. */
export const ServerFacts = z.object({
  comfyuiVersion: z.string().nullable(),
  /** Name of the first (primary) device, e.g. "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync" or "cpu". */
  gpuName: z.string().nullable(),
  /**
   * Its type as torch names it ("cuda", "mps", "xpu", "cpu"…). On "cpu" the memory figures are the
   * machine's RAM, not video memory. Absent from facts saved by older versions.
   */
  deviceType: z.string().nullable().optional(),
  vramFreeBytes: z.number().nullable(),
  vramTotalBytes: z.number().nullable(),
  /** Python `os.name` or `sys.platform`, as the server reports it. */
  os: z.string().nullable(),
});
export type ServerFacts = z.infer<typeof ServerFacts>;

/** A host key ComfyDesk is waiting for the user to confirm (unknown) or refuses (changed). */
export const HostKeyProblem = z.object({
  kind: z.enum(['unknown', 'changed']),
  host: z.string(),
  port: z.number(),
  /** The key the server presented now. */
  fingerprint: HostKeyFingerprint,
  /** The key trusted before (changed keys only). */
  expectedFingerprint: z.string().optional(),
  keyType: z.string(),
});
export type HostKeyProblem = z.infer<typeof HostKeyProblem>;

/** The health of one connection, pushed whenever it changes. */
export const ConnectionHealth = z.object({
  serverId: z.string(),
  state: HealthState,
  /** The step in progress or the last one reached, in words ("Opening the SSH tunnel…", "Checking ComfyUI…"). */
  step: z.string().optional(),
  /** Why it is offline or failed, in words a person understands. */
  reason: z.string().optional(),
  /** Error code when `state` is error/offline (e.g. comfy_unreachable, ssh_auth_failed). */
  code: z.string().optional(),
  /** Round trip of the last `/system_stats`, ms. */
  latencyMs: z.number().optional(),
  facts: ServerFacts.optional(),
  /** ComfyUI's own address as reachable from the machine running ComfyDesk (the local end of a tunnel for SSH). */
  localUrl: z.string().optional(),
  hostKey: HostKeyProblem.optional(),
  /** Whether the live event socket is connected. */
  isSocketOpen: z.boolean().default(false),
  /** ms since epoch. */
  checkedAt: z.number(),
});
export type ConnectionHealth = z.infer<typeof ConnectionHealth>;

/** Where secrets are kept in this run: the OS keychain (desktop) or memory for this session only (serve mode, CLI). */
export const SecretStorageKind = z.enum(['os-keychain', 'session-memory']);
export type SecretStorageKind = z.infer<typeof SecretStorageKind>;

/** What the Connections screen shows. */
export const ConnectionsSnapshot = z.object({
  profiles: z.array(ConnectionProfile),
  activeId: z.string().nullable(),
  /** Profile ids kept online. */
  online: z.array(z.string()),
  health: z.array(ConnectionHealth),
  /** Profile ids that have a secret kept (passphrase, header value or API key). */
  withSecrets: z.array(z.string()),
  secretStorage: SecretStorageKind,
  /** Profile ids opened for this session only (`--server`/`--ssh` of serve mode or a CLI command): not saved in settings. */
  sessionOnly: z.array(z.string()).optional(),
  /** Profile ids jobs are spread over (the farm): the default one and those marked "Use for generation". */
  generation: z.array(z.string()).optional(),
});
export type ConnectionsSnapshot = z.infer<typeof ConnectionsSnapshot>;

/** The models installed on a server, by folder. */
export const ModelsListing = z.object({
  serverId: z.string(),
  folders: z.array(z.object({ name: z.string(), files: z.array(z.string()) })),
  fetchedAt: z.number(),
});
export type ModelsListing = z.infer<typeof ModelsListing>;

/** How "Open ComfyUI" was handled. */
export const OpenResult = z.object({
  url: z.string(),
  /** `window`: the desktop app opened it itself; `client`: the caller should open `url` (a new browser tab). */
  openedBy: z.enum(['window', 'client']),
  /** A caveat to show, e.g. that a tunnel's local port is only reachable on the machine running ComfyDesk. */
  note: z.string().optional(),
});
export type OpenResult = z.infer<typeof OpenResult>;
