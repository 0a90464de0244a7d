import { posix } from 'node:path';
import type { CopyCommand, NodePack, TokenProvider } from '@shared/domain/transfer';
import { shQuote } from '../lib/shell-quote';

/** A model file to place by hand. */
export interface ManualModel {
  name: string;
  url: string;
  destinationDir: string;
  sha256?: string;
  needsToken?: TokenProvider;
}

const TOKEN_VARIABLES: Record<TokenProvider, string> = { huggingface: 'HF_TOKEN', civitai: 'CIVITAI_TOKEN' };

/**
 * Shell lines that download each file on the server the way ComfyDesk would: into `.part` with
 * resume, checked (SHA-256 when known), renamed only when complete. A gated file reads the token
 * from an environment variable, so it never lands in the shell history.
 */
export function modelCommands(models: readonly ManualModel[]): CopyCommand | undefined {
  if (models.length === 0) return undefined;
  const lines: string[] = [];
  const tokens = [...new Set(models.flatMap((model) => (model.needsToken ? [model.needsToken] : [])))];
  for (const provider of tokens)
    lines.push(`# set your token first: export ${TOKEN_VARIABLES[provider]}=…   (gated files below need it)`);
  for (const model of models) {
    const final = posix.join(model.destinationDir, model.name);
    const dir = posix.dirname(final);
    const part = `${posix.basename(final)}.part`;
    const auth = model.needsToken ? ` -H "Authorization: Bearer $${TOKEN_VARIABLES[model.needsToken]}"` : '';
    const check = model.sha256 ? ` && echo ${shQuote(`${model.sha256}  ${part}`)} | sha256sum -c -` : '';
    lines.push(
      `mkdir -p ${shQuote(dir)} && cd ${shQuote(dir)} && curl -L --fail -C -${auth} -o ${shQuote(part)} ${shQuote(model.url)}${check} && mv ${shQuote(part)} ${shQuote(posix.basename(final))}`,
    );
  }
  return {
    title:
      models.length === 1
        ? 'Run this on the server to download the file'
        : `Run these on the server to download the ${models.length} files`,
    command: lines.join('\n'),
  };
}

/** Shell lines that install custom-node packs by hand: clone into `custom_nodes`, install requirements, restart. */
export function packCommands(packs: readonly NodePack[], customNodesDir: string | null): CopyCommand | undefined {
  if (packs.length === 0) return undefined;
  const dir = customNodesDir ?? 'ComfyUI/custom_nodes';
  const lines = [`cd ${shQuote(dir)}`];
  for (const pack of packs) {
    if (pack.url && /^https:\/\/(github\.com|gitlab\.com|codeberg\.org)\//.test(pack.url)) {
      const folder = posix.basename(pack.url.replace(/\.git$/, ''));
      lines.push(`git clone ${shQuote(pack.url)}`);
      lines.push(
        `if [ -f ${shQuote(`${folder}/requirements.txt`)} ]; then python -m pip install -r ${shQuote(`${folder}/requirements.txt`)}; fi`,
      );
    } else if (pack.registryId) {
      lines.push(`comfy node install ${shQuote(pack.registryId)}   # with comfy-cli (pip install comfy-cli)`);
    } else {
      lines.push(`# ${pack.title}: get it from ${pack.url ?? 'its author'} and put it in this folder`);
    }
  }
  lines.push('# then restart ComfyUI. Use the Python that runs ComfyUI (e.g. its venv) for pip.');
  return {
    title: `Install ${packs.length === 1 ? packs[0]!.title : `${packs.length} custom-node packs`} on the server${customNodesDir ? '' : ' (in its ComfyUI folder)'}`,
    command: lines.join('\n'),
  };
}
