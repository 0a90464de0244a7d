import { z } from 'zod';
import {
  MissingReport,
  NodePack,
  SourcesStatus,
  TokenProvider,
  TokenStatus,
  TransferItem,
  TransferRequest,
  TransfersDelta,
  TransfersSnapshot,
  UrlProbe,
} from '../domain/transfer';
import { Empty } from './common';

const TransferId = z.object({ id: z.string().min(1).max(128) }).strict();
const ServerRef = z.string().min(1).max(64).optional();

/**
 * Missing to Ready: what a workflow lacks on a server, and transfers that put model files and
 * custom-node packs there. Long work returns at once; progress arrives as `transfers.updated`.
 */
export const transfersCommands = {
  /** What the workflow needs that the server (the default one unless named) lacks, with sources and destinations. */
  'transfers.missing': {
    input: z.object({ workflowId: z.string().min(1).max(128), serverId: ServerRef }).strict(),
    output: MissingReport,
  },
  /** Custom-node packs for node types (the cards' "needs ComfyUI-KJNodes"), from the node-to-pack map. */
  'transfers.packs': {
    input: z.object({ nodeTypes: z.array(z.string().min(1).max(256)).max(2000) }).strict(),
    output: z.object({ packs: z.array(NodePack), unresolved: z.array(z.string()) }),
  },
  /** Puts model files on a server; answers with one transfer id per file (an existing one is joined). */
  'transfers.start': {
    input: z
      .object({
        serverId: ServerRef,
        /** The workflow these files are for: it is announced Ready once they have landed. */
        workflowId: z.string().min(1).max(128).optional(),
        models: z.array(TransferRequest).min(1).max(200),
      })
      .strict(),
    output: z.object({ ids: z.array(z.string()) }),
  },
  /** Installs a custom-node pack through ComfyUI-Manager on the server. */
  'transfers.installPack': {
    input: z
      .object({ serverId: ServerRef, packId: z.string().min(1).max(1000), workflowId: z.string().max(128).optional() })
      .strict(),
    output: TransferItem,
  },
  /** Asks ComfyUI-Manager to restart ComfyUI (after installing packs). */
  'transfers.restartServer': { input: z.object({ serverId: ServerRef }).strict(), output: z.object({}) },
  'transfers.list': { input: Empty, output: TransfersSnapshot },
  /** Stops a transfer, keeping what arrived so it resumes from there. */
  'transfers.pause': { input: TransferId, output: TransferItem },
  'transfers.resume': { input: TransferId, output: TransferItem },
  /** Stops a transfer and deletes its partial file. */
  'transfers.cancel': { input: TransferId, output: TransferItem },
  /** Forgets finished, failed and cancelled transfers. */
  'transfers.clear': { input: Empty, output: TransfersSnapshot },
  /** Checks a download address the user pasted: its real address, size, and whether it needs a token. */
  'transfers.probeUrl': { input: z.object({ url: z.string().min(1).max(4096) }).strict(), output: UrlProbe },
  /** Which access tokens are kept (never their values). */
  'transfers.tokens': { input: Empty, output: TokenStatus },
  /** Keeps (or, with an empty string, forgets) an access token in the secret store. */
  'transfers.setToken': {
    input: z.object({ provider: TokenProvider, token: z.string().max(4096) }).strict(),
    output: TokenStatus,
  },
  /** The public lists' cached copies: where from, how old, how many entries. `refresh` fetches them again. */
  'transfers.sources': {
    input: z.object({ refresh: z.boolean().default(false) }).strict(),
    output: SourcesStatus,
  },
} as const;

/** Changed transfers (whole items) and removed ids. */
export const transfersEvents = {
  'transfers.updated': TransfersDelta,
} as const;
