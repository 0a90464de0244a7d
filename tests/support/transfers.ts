import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferItem } from '../../src/shared/domain/transfer';
import type { Core } from '../../src/main/core/create-core';
import { uiNode, uiWorkflow } from './workflows';

/** A loader node that selects `name`, with an embedded download record when `url` is given. */
export function loaderNode(
  id: number,
  type: string,
  name: string,
  record?: { url: string; directory: string; hash?: string },
): Record<string, unknown> {
  const node = uiNode({ id, type, widgets: [name] });
  if (record)
    node.properties = {
      ...(node.properties as object),
      models: [
        {
          name,
          url: record.url,
          directory: record.directory,
          ...(record.hash ? { hash: record.hash, hash_type: 'SHA256' } : {}),
        },
      ],
    };
  return node;
}

/** A custom node as ComfyUI's editor saves it, with its pack ids. */
export function customNode(id: number, type: string, pack: { cnr_id?: string; aux_id?: string } = {}) {
  const node = uiNode({ id, type });
  node.properties = { ...(node.properties as object), ...pack };
  return node;
}

/** A note node with markdown text. */
export function noteNode(id: number, text: string): Record<string, unknown> {
  return uiNode({ id, type: 'MarkdownNote', widgets: [text] });
}

/** A UI workflow of these nodes plus a sampler and a save node, named by `extra.info.name`. */
export function workflowOf(name: string, nodes: Array<Record<string, unknown>>): Record<string, unknown> {
  return uiWorkflow(
    [
      ...nodes,
      uiNode({ id: 90, type: 'KSampler', widgets: [1, 'fixed', 20, 7, 'euler', 'normal', 1] }),
      uiNode({ id: 91, type: 'SaveImage', widgets: ['ComfyUI'] }),
    ],
    { extra: { info: { name } } },
  );
}

/**
 * A folder of links to the usual POSIX tools, without curl and wget unless asked: put on the SSH
 * server's PATH, it makes the server look like a pod that lacks them.
 */
export function toolsDir(extra: readonly string[] = []): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'comfydesk-tools-'));
  const tools = [
    'sh',
    'mkdir',
    'wc',
    'head',
    'mv',
    'rm',
    'cat',
    'ps',
    'sleep',
    'df',
    'tail',
    'awk',
    'od',
    'tr',
    'cut',
    'sha256sum',
    ...extra,
  ];
  for (const tool of tools) {
    for (const folder of ['/usr/bin', '/bin', '/usr/sbin']) {
      try {
        symlinkSync(join(folder, tool), join(dir, tool));
        break;
      } catch {
        // try the next folder
      }
    }
  }
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits until a transfer reaches one of `states` and answers it; fails at once if it ends otherwise. */
export async function transferIn(
  core: Core,
  id: string,
  states: ReadonlyArray<TransferItem['state']>,
  timeoutMs = 20_000,
): Promise<TransferItem> {
  const deadline = Date.now() + timeoutMs;
  let last: TransferItem | undefined;
  while (Date.now() < deadline) {
    last = core.transfers.list().items.find((candidate) => candidate.id === id);
    if (last && states.includes(last.state)) return last;
    if (last && ['done', 'failed', 'cancelled'].includes(last.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`transfer did not reach ${states.join('/')}; it is ${JSON.stringify(last)}`);
}
