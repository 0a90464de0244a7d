import { z } from 'zod';
import {
  FarmFit,
  IntentMatch,
  LibraryDelta,
  LibraryQuery,
  LibrarySnapshot,
  RootStatus,
  SearchResult,
  WorkflowDetails,
} from '../domain/workflow';
import { Empty } from './common';

const WorkflowId = z.object({ id: z.string().min(1).max(128) }).strict();
const RootPath = z.object({ path: z.string().min(1).max(4096) }).strict();

/** The workflow library's commands: browse, search, details, folders, and the intent bar. */
export const workflowsCommands = {
  /** The whole library with each workflow's status against the connected server. */
  'workflows.list': { input: Empty, output: LibrarySnapshot },
  'workflows.get': { input: WorkflowId, output: WorkflowDetails },
  'workflows.search': { input: LibraryQuery.strict(), output: SearchResult },
  'workflows.roots': { input: Empty, output: z.array(RootStatus) },
  /** Adds a folder to watch and remembers it in settings. */
  'workflows.addRoot': { input: RootPath, output: z.array(RootStatus) },
  'workflows.removeRoot': { input: RootPath, output: z.array(RootStatus) },
  /** The image beside a workflow file as a data URL (null when there is none or it is too big). */
  'workflows.thumbnail': { input: WorkflowId, output: z.object({ dataUrl: z.string().nullable() }) },
  /** Shows the file in the system's file manager where there is one; always answers with the path. */
  'workflows.reveal': { input: WorkflowId, output: z.object({ isRevealed: z.boolean(), path: z.string() }) },
  /** On how many of the servers used for generation each workflow can run (cards: "runs on 2 of 3 servers"). */
  'workflows.servers': { input: Empty, output: FarmFit },
  /** Matches free text or a chip's text to a workflow type, then to the library's workflows of that type. */
  'intent.match': { input: z.object({ text: z.string().max(500) }).strict(), output: IntentMatch },
} as const;

/** `library.changed` carries versioned deltas of cards; `library.roots` the watched folders' status. */
export const workflowsEvents = {
  'library.changed': LibraryDelta,
  'library.roots': z.array(RootStatus),
  /** On how many servers each workflow can run, after a server's inventory was read or the library or farm changed. */
  'workflows.servers': FarmFit,
} as const;
