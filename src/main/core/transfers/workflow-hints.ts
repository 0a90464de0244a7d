import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowRecord } from '@shared/domain/workflow';
import type { Logger } from '../lib/logger';
import { decodeWorkflowBytes } from '../workflows/scan-file';
import type { PackHint } from './node-map';
import { fileNameFromUrl } from './http-answers';

/** What a workflow file says about where its models and custom nodes come from, beyond its record. */
export interface WorkflowHints {
  /** Published SHA-256 by model file name (from `properties.models[].hash` with `hash_type` SHA256). */
  sha256: ReadonlyMap<string, string>;
  /** Download addresses found in notes (Note / MarkdownNote), by file name. */
  noteUrls: ReadonlyMap<string, string>;
  /** The pack each custom node type comes from, as its nodes record it (`cnr_id`, `aux_id`). */
  packs: ReadonlyMap<string, PackHint>;
}

export const NO_HINTS: WorkflowHints = { sha256: new Map(), noteUrls: new Map(), packs: new Map() };

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const NOTE_TYPES = new Set(['Note', 'MarkdownNote', 'Notes', 'PrimitiveStringMultiline']);
const URL_PATTERN = /https?:\/\/[^\s<>"'`)\]]+/g;
const MARKDOWN_LINK = /\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;

/**
 * Reads the hints of a parsed workflow (UI format; API prompts carry none): model hashes from
 * `properties.models` and a top-level `models`, URLs written in notes next to a model's name, and
 * the pack ids ComfyUI's editor stores on each node.
 */
export function readWorkflowHints(workflow: unknown): WorkflowHints {
  if (!isObject(workflow) || !Array.isArray(workflow.nodes)) return NO_HINTS;
  const sha256 = new Map<string, string>();
  const noteUrls = new Map<string, string>();
  const packs = new Map<string, PackHint>();
  const graphs: unknown[][] = [workflow.nodes];
  const definitions = isObject(workflow.definitions) ? workflow.definitions.subgraphs : undefined;
  if (Array.isArray(definitions))
    for (const definition of definitions)
      if (isObject(definition) && Array.isArray(definition.nodes)) graphs.push(definition.nodes);

  const addRecords = (records: unknown) => {
    if (!Array.isArray(records)) return;
    for (const record of records) {
      if (!isObject(record) || typeof record.name !== 'string') continue;
      const hash = typeof record.hash === 'string' ? record.hash.trim().toLowerCase() : '';
      const type = typeof record.hash_type === 'string' ? record.hash_type.toLowerCase() : 'sha256';
      if (/^[0-9a-f]{64}$/.test(hash) && type === 'sha256') sha256.set(record.name, hash);
    }
  };
  addRecords(workflow.models);

  for (const nodes of graphs) {
    for (const node of nodes) {
      if (!isObject(node) || typeof node.type !== 'string') continue;
      const properties = isObject(node.properties) ? node.properties : {};
      addRecords(properties.models);
      if (NOTE_TYPES.has(node.type)) {
        collectNoteUrls(widgetText(node), noteUrls);
        continue;
      }
      const registryId = typeof properties.cnr_id === 'string' ? properties.cnr_id.trim() : '';
      const repo = typeof properties.aux_id === 'string' ? properties.aux_id.trim() : '';
      if (registryId === 'comfy-core' || (!registryId && !repo) || packs.has(node.type)) continue;
      packs.set(node.type, {
        ...(registryId ? { registryId } : {}),
        ...(/^[\w.-]+\/[\w.-]+$/.test(repo) ? { repo } : {}),
      });
    }
  }
  return { sha256, noteUrls, packs };
}

function widgetText(node: Json): string {
  const values = node.widgets_values;
  const list = Array.isArray(values) ? values : isObject(values) ? Object.values(values) : [];
  return list.filter((value): value is string => typeof value === 'string').join('\n');
}

/** Links whose text or whose file name is a model file's name: `[name.safetensors](url)` or a bare `…/name.safetensors` URL. */
function collectNoteUrls(text: string, into: Map<string, string>): void {
  for (const match of text.matchAll(MARKDOWN_LINK)) {
    const label = match[1]!.trim().replace(/^`|`$/g, '');
    const url = trimUrl(match[2]!);
    if (/\.[a-z0-9]{2,12}$/i.test(label) && !into.has(label)) into.set(label, url);
  }
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimUrl(match[0]);
    const name = fileNameFromUrl(url);
    if (name && /\.[a-z0-9]{2,12}$/i.test(name) && !into.has(name)) into.set(name, url);
  }
}

/** Drops punctuation a sentence put after a URL. */
function trimUrl(url: string): string {
  return url.replace(/[.,;:!?]+$/, '');
}

/** The hints in a library workflow's file (none when it is gone or unreadable). */
export async function hintsOfRecord(record: WorkflowRecord | undefined, log: Logger): Promise<WorkflowHints> {
  if (!record) return NO_HINTS;
  try {
    const bytes = await readFile(join(record.root, ...record.path.split('/')));
    return readWorkflowHints(JSON.parse(decodeWorkflowBytes(bytes)));
  } catch (error) {
    log.debug('workflow hints unreadable', { workflowId: record.id, error });
    return NO_HINTS;
  }
}
