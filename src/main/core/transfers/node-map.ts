import type { NodePack, PackSource } from '@shared/domain/transfer';

/** One pack of the node map: its repository and the node types it provides. */
interface PackEntry {
  id: string;
  title: string;
  url: string | null;
  registryId?: string;
  nodeTypes: ReadonlySet<string>;
  pattern?: RegExp;
}

/** What a workflow's own nodes say about their pack (`properties.cnr_id`, `properties.aux_id`). */
export interface PackHint {
  registryId?: string;
  /** GitHub `owner/repo`. */
  repo?: string;
}

/** The repository of ComfyUI itself: a node type only it provides means the server's ComfyUI is too old. */
const CORE_REPOS = new Set(['https://github.com/comfyanonymous/ComfyUI', 'https://github.com/Comfy-Org/ComfyUI']);

/** A pack's short name from its address: the repository's name ("ComfyUI-KJNodes"). */
export function packTitle(url: string, fallback?: string): string {
  if (CORE_REPOS.has(url.replace(/\.git$/, ''))) return 'ComfyUI (a newer version)';
  try {
    const parsed = new URL(url);
    const segments = parsed.pathname.split('/').filter(Boolean);
    if (parsed.hostname === 'github.com' && segments.length >= 2) return segments[1]!.replace(/\.git$/, '');
    if (fallback) return fallback;
    return segments.at(-1)?.replace(/\.(git|py)$/, '') ?? parsed.host;
  } catch {
    return fallback ?? url;
  }
}

/** A link for a registry id. */
export function registryUrl(id: string): string {
  return `https://registry.comfy.org/nodes/${encodeURIComponent(id)}`;
}

/**
 * The public node type → custom-node pack map (ComfyUI-Manager's `extension-node-map.json`, or the
 * same map from ComfyUI-Manager on a server): `{ repoUrl: [[nodeType…], { title_aux, nodename_pattern?, cnr_id? }] }`.
 */
export class NodeMap {
  readonly #packs: PackEntry[] = [];
  readonly #byType = new Map<string, PackEntry[]>();

  constructor(map: Record<string, unknown>) {
    for (const [url, value] of Object.entries(map)) {
      if (!Array.isArray(value) || !Array.isArray(value[0])) continue;
      const types = (value[0] as unknown[]).filter((item): item is string => typeof item === 'string');
      const meta = (typeof value[1] === 'object' && value[1] !== null ? value[1] : {}) as Record<string, unknown>;
      let pattern: RegExp | undefined;
      if (typeof meta.nodename_pattern === 'string') {
        try {
          pattern = new RegExp(meta.nodename_pattern);
        } catch {
          pattern = undefined; // a Python-only pattern: the listed types still count
        }
      }
      const entry: PackEntry = {
        id: url,
        title: packTitle(url, typeof meta.title_aux === 'string' ? meta.title_aux : undefined),
        url: /^https?:\/\//.test(url) ? url.replace(/\.git$/, '') : null,
        ...(typeof meta.cnr_id === 'string' ? { registryId: meta.cnr_id } : {}),
        nodeTypes: new Set(types),
        ...(pattern ? { pattern } : {}),
      };
      this.#packs.push(entry);
      for (const type of types) this.#byType.set(type, [...(this.#byType.get(type) ?? []), entry]);
    }
  }

  /** Parses the downloaded JSON; throws when it is not a node map. */
  static parse(raw: unknown): NodeMap {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a node map');
    return new NodeMap(raw as Record<string, unknown>);
  }

  get size(): number {
    return this.#packs.length;
  }

  /** The packs that provide a node type (several forks may list it), listed types before patterns. */
  packsOf(type: string): readonly PackEntry[] {
    const listed = this.#byType.get(type);
    if (listed) return listed;
    return this.#packs.filter((pack) => pack.pattern?.test(type));
  }
}

/**
 * Groups node types by the pack that provides them: the workflow's own hints first (its nodes'
 * `cnr_id`/`aux_id`), then the node maps in order (ComfyUI-Manager on the server, the public map).
 * Where several packs provide a type, the one the workflow names wins, else the first listed.
 */
export function groupByPack(
  nodeTypes: readonly string[],
  maps: ReadonlyArray<{ map: NodeMap; source: PackSource }>,
  hints: ReadonlyMap<string, PackHint> = new Map(),
): { packs: NodePack[]; unresolved: string[] } {
  const packs = new Map<string, NodePack>();
  const unresolved: string[] = [];
  const add = (key: string, make: () => Omit<NodePack, 'nodeTypes'>, type: string, registryId?: string) => {
    const existing = packs.get(key);
    if (!existing) packs.set(key, { ...make(), nodeTypes: [type] });
    else {
      existing.nodeTypes.push(type);
      if (!existing.registryId && registryId) existing.registryId = registryId;
    }
  };
  for (const type of [...new Set(nodeTypes)].sort()) {
    const hint = hints.get(type);
    const hintedUrl = hint?.repo ? `https://github.com/${hint.repo}` : undefined;
    let placed = false;
    for (const { map, source } of maps) {
      const candidates = map.packsOf(type);
      if (candidates.length === 0) continue;
      const chosen =
        candidates.find((pack) => hintedUrl && pack.url?.toLowerCase() === hintedUrl.toLowerCase()) ??
        candidates.find((pack) => hint?.registryId && pack.registryId === hint.registryId) ??
        candidates[0]!;
      add(
        chosen.id,
        () => ({
          id: chosen.id,
          title: chosen.title,
          url: chosen.url,
          ...((chosen.registryId ?? hint?.registryId) ? { registryId: chosen.registryId ?? hint!.registryId! } : {}),
          source,
        }),
        type,
        hint?.registryId,
      );
      placed = true;
      break;
    }
    if (placed) continue;
    if (hintedUrl) {
      add(
        hintedUrl,
        () => ({
          id: hintedUrl,
          title: packTitle(hintedUrl),
          url: hintedUrl,
          ...(hint?.registryId ? { registryId: hint.registryId } : {}),
          source: 'workflow',
        }),
        type,
      );
    } else if (hint?.registryId) {
      const id = hint.registryId;
      add(id, () => ({ id, title: id, url: registryUrl(id), registryId: id, source: 'workflow' }), type);
    } else {
      unresolved.push(type);
    }
  }
  return { packs: [...packs.values()], unresolved };
}
