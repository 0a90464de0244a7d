import { join, posix } from 'node:path';
import type { MissingModelEntry, MissingReport, SourcesStatus } from '@shared/domain/transfer';
import type { Compatibility, MissingModel } from '@shared/domain/workflow';
import type { ModelCatalog } from '../workflows/catalog';
import type { DownloadAccess } from './download-access';
import { normalizeDownloadUrl } from './http-answers';
import { modelCommands, packCommands, type ManualModel } from './manual-commands';
import type { ModelList } from './model-list';
import { groupByPack, type NodeMap } from './node-map';
import type { TransferTarget } from './ports';
import { foldersFor } from './server-folders';
import type { ServerPlan } from './server-plan';
import { mapLimit, sourceKey, type Entry } from './transfer-queue';
import type { WorkflowHints } from './workflow-hints';

/** What describing a missing model looks at. */
export interface DescribeContext {
  target: TransferTarget;
  plan: ServerPlan;
  hints: WorkflowHints;
  modelList: ModelList | undefined;
  catalog: ModelCatalog;
  access: DownloadAccess;
  /** Download addresses the user gave, by `sourceKey(folder, name)`. */
  userSources: ReadonlyMap<string, string>;
  /** The transfers there are (one already on its way is linked). */
  entries: Iterable<Entry>;
}

/**
 * One missing model as Get missing shows it: where it can come from (the workflow, a note, a
 * catalog, the user), its size, where it goes on the server, how, and what stands in the way.
 */
export async function describeMissingModel(model: MissingModel, context: DescribeContext): Promise<MissingModelEntry> {
  const { target, plan, hints, modelList, access } = context;
  const fileName = model.name.split(/[\\/]/).at(-1)!;
  const own = context.catalog.find(model.name, model.folder);
  const listed = modelList?.find(model.name, model.folder);
  const candidates: Array<{ url: string; source: MissingModelEntry['source'] }> = [];
  if (model.url) candidates.push({ url: model.url, source: 'workflow' });
  const noted = hints.noteUrls.get(model.name) ?? hints.noteUrls.get(fileName);
  if (noted) candidates.push({ url: noted, source: 'note' });
  if (own?.url) candidates.push({ url: own.url, source: 'catalog' });
  if (listed) candidates.push({ url: listed.url, source: 'catalog' });
  const remembered = model.folder ? context.userSources.get(sourceKey(model.folder, model.name)) : undefined;
  if (remembered) candidates.push({ url: remembered, source: 'user' });
  const chosen = candidates[0];
  const url = chosen ? normalizeDownloadUrl(chosen.url).url : undefined;
  const dirs = model.folder ? foldersFor(plan.folders, model.folder) : [];
  const destinationDir = dirs[0] ?? null;
  const method = plan.method === 'manager' ? (listed && url === listed.url ? 'manager' : 'manual') : plan.method;
  const sha256 = hints.sha256.get(model.name) ?? hints.sha256.get(fileName);
  const entry: MissingModelEntry = {
    name: model.name,
    folder: model.folder,
    ...(url ? { url } : {}),
    source: chosen?.source ?? 'none',
    ...(sha256 ? { sha256 } : {}),
    destinationDir,
    destinationChoices: dirs,
    method,
  };
  const problems: string[] = [];
  if (!url)
    problems.push(
      'No known source: paste a download link (Hugging Face …/resolve/… or Civitai …/api/download/models/…).',
    );
  if (model.folder === null)
    problems.push('ComfyDesk does not know which model folder this loader reads, so it cannot place the file.');
  else if (dirs.length === 0)
    problems.push(
      `${target.profile.name} has no "${model.folder}" folder; the custom node that adds it may be missing.`,
    );
  let sizeBytes = model.sizeBytes ?? own?.sizeBytes ?? listed?.approxBytes;
  if (url) {
    const probe = await access.probe(url);
    const provider = access.providerOf(url);
    if (probe?.sizeBytes && probe.status >= 200 && probe.status < 300) sizeBytes = probe.sizeBytes;
    if (probe && (probe.status === 401 || probe.status === 403)) {
      if (provider && !access.token(provider)) {
        entry.needsToken = provider;
        problems.push(
          `Needs your ${provider === 'huggingface' ? 'Hugging Face' : 'Civitai'} token: set it in Downloads › Access tokens.`,
        );
      } else {
        problems.push(
          `${hostOf(url)} refuses this file (${probe.status})${provider ? '; accept its licence on its page with the account of your token' : ''}.`,
        );
      }
    } else if (probe && (probe.status === 404 || probe.status === 410)) {
      problems.push(`The link answers ${probe.status} (the file is gone): paste another download link.`);
    } else if (probe && /text\/html/i.test(probe.contentType ?? '') && probe.status < 300) {
      problems.push('The link gives a web page, not the file (a login page?). Paste the file’s download link.');
    }
  }
  if (sizeBytes !== undefined) entry.sizeBytes = Math.round(sizeBytes);
  if (problems.length > 0) entry.problem = problems.join(' ');
  if (destinationDir) {
    const destination = plan.isLocal
      ? join(destinationDir, ...model.name.split(/[\\/]/))
      : posix.join(destinationDir, model.name);
    const transfer = [...context.entries].find(
      (candidate) =>
        candidate.item.serverId === target.id &&
        candidate.item.destination === destination &&
        candidate.item.state !== 'cancelled',
    );
    if (transfer) entry.transferId = transfer.item.id;
  }
  return entry;
}

/** What one workflow lacks on one server, with sources, sizes, destinations, packs and commands. */
export async function missingReport(input: {
  workflowId: string;
  workflowName: string;
  compat: Pick<Compatibility, 'missing' | 'unknownNodeTypes'>;
  publicMap: NodeMap | undefined;
  managerMap: NodeMap | undefined;
  sources: SourcesStatus;
  describe: DescribeContext;
}): Promise<MissingReport> {
  const { workflowId, compat, publicMap, managerMap } = input;
  const { target, plan } = input.describe;
  const models = await mapLimit(compat.missing, 4, (model) => describeMissingModel(model, input.describe));
  const { packs, unresolved } = groupByPack(
    input.compat.unknownNodeTypes,
    [
      ...(managerMap ? [{ map: managerMap, source: 'manager' as const }] : []),
      ...(publicMap ? [{ map: publicMap, source: 'node-map' as const }] : []),
    ],
    input.describe.hints.packs,
  );
  const sizes = models.map((model) => model.sizeBytes).filter((size): size is number => size !== undefined);
  const customNodesDir = plan.folders.custom_nodes?.[0] ?? null;
  const manual = models.flatMap((model): ManualModel[] =>
    model.method === 'manual' && model.url && model.destinationDir
      ? [
          {
            name: model.name,
            url: model.url,
            destinationDir: model.destinationDir,
            ...(model.sha256 ? { sha256: model.sha256 } : {}),
            ...(model.needsToken ? { needsToken: model.needsToken } : {}),
          },
        ]
      : [],
  );
  const commands = [modelCommands(manual), plan.manager ? undefined : packCommands(packs, customNodesDir)].filter(
    (command) => command !== undefined,
  );
  return {
    workflowId,
    workflowName: input.workflowName,
    serverId: target.id,
    serverName: target.profile.name,
    connectionKind: target.profile.kind,
    method: plan.method,
    methodNote: plan.note,
    manager: plan.manager?.info ?? null,
    models,
    totalBytes: sizes.length > 0 ? sizes.reduce((sum, size) => sum + size, 0) : null,
    isTotalComplete: sizes.length === models.length,
    packs,
    unresolvedNodeTypes: unresolved,
    customNodesDir,
    commands,
    sources: input.sources,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
