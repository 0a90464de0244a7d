import { z } from 'zod';
import {
  ConnectionDraft,
  ConnectionHealth,
  ConnectionSecrets,
  ConnectionsSnapshot,
  HostKeyFingerprint,
  ModelsListing,
  OpenResult,
} from '../domain/connection';
import { Empty } from './common';

const ById = z.object({ id: z.string().min(1) }).strict();
/** A deadline for one step of a check, ms (100 ms to 5 min). */
const TimeoutMs = z.number().int().min(100).max(300_000).optional();

/** Connections and models: profiles, health, tests, host keys, Open ComfyUI, installed models. */
export const connectionsCommands = {
  /** Profiles, which are online, the health of each, and where secrets are kept. */
  'connections.list': { input: Empty, output: ConnectionsSnapshot },
  /** Adds (no id) or replaces a profile; secrets given here go to the secret store only. Empty strings remove a secret. */
  'connections.save': {
    input: z.object({ profile: ConnectionDraft, secrets: ConnectionSecrets.optional() }).strict(),
    output: ConnectionsSnapshot,
  },
  'connections.delete': { input: ById, output: ConnectionsSnapshot },
  /** Makes a profile the default one (and brings it online). */
  'connections.setActive': { input: ById, output: ConnectionsSnapshot },
  /** Brings a profile online (several may be) or takes it offline. */
  'connections.setOnline': {
    input: z.object({ id: z.string().min(1), online: z.boolean() }).strict(),
    output: ConnectionsSnapshot,
  },
  /** "Use for generation": the profile joins (or leaves) the servers jobs are spread over, and is kept online. */
  'connections.setGeneration': {
    input: z.object({ id: z.string().min(1), use: z.boolean() }).strict(),
    output: ConnectionsSnapshot,
  },
  /** One check of a saved profile (`id`) or of an unsaved draft, without keeping anything; `timeoutMs` bounds each step. */
  'connections.test': {
    input: z.union([
      ById.extend({ timeoutMs: TimeoutMs }).strict(),
      z.object({ profile: ConnectionDraft, secrets: ConnectionSecrets.optional(), timeoutMs: TimeoutMs }).strict(),
    ]),
    output: ConnectionHealth,
  },
  /**
   * Brings a server online for this session only (the CLI's `--server`/`--ssh`): not saved in
   * settings, gone when ComfyDesk stops. A saved or session profile for the same server is reused.
   * Answers with the profile id to run jobs on; its health follows as `connections.health`.
   */
  'connections.openSession': {
    input: z.object({ profile: ConnectionDraft, secrets: ConnectionSecrets.optional() }).strict(),
    output: z.object({ id: z.string() }),
  },
  /** Trusts an SSH host key the user confirmed (its fingerprint must match what the server presents). */
  'connections.trustHostKey': {
    input: z.object({ id: z.string().min(1), fingerprint: HostKeyFingerprint }).strict(),
    output: ConnectionsSnapshot,
  },
  /** Opens the connection's own ComfyUI page: a window in the desktop app, a URL for the browser otherwise. */
  'connections.open': { input: ById, output: OpenResult },
  /** Asks the desktop app for a private key file with the system's file dialog; `null` when cancelled. Not available in serve mode (a browser cannot name a path on this machine). */
  'connections.pickKeyFile': { input: Empty, output: z.object({ path: z.string().nullable() }) },
  /** Installed models by folder on a server (the active one when no id is given). */
  'models.list': {
    input: z.object({ serverId: z.string().min(1).optional(), refresh: z.boolean().default(false) }).strict(),
    output: ModelsListing,
  },
} as const;

/** Pushed whenever the profiles or a connection's health change. */
export const connectionsEvents = {
  /** The whole snapshot after any change to profiles, the active one, or which are online. */
  'connections.changed': ConnectionsSnapshot,
  /** One connection's health, whenever it changes (state, step, latency, facts). */
  'connections.health': ConnectionHealth,
} as const;
