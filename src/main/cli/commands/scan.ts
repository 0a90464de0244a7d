import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { listWorkflowFiles, type PendingFile } from '../../core/workflows/scan-root';
import { CliError, ExitCode, writeLine, writeText, type CliIo } from '../io';
import type { CommandContext } from '../command';
import { scanInParallel } from '../scan-pool';

interface ScanFlags {
  json?: boolean;
}

export function registerScan(program: Command, context: CommandContext): void {
  program
    .command('scan')
    .description('read every ComfyUI workflow (.json) in the given folders and show what each one needs')
    .argument('<dir...>', 'folders to scan (sub folders included)')
    .option('--json', 'print one JSON array with a record per file (failed files carry "error")')
    .action((dirs: string[], flags: ScanFlags) =>
      context.run(flags.json, () => scan(context.io, dirs, flags, context.scanWorkerPath)),
    );
}

async function scan(io: CliIo, dirs: string[], flags: ScanFlags, workerPath: string | undefined): Promise<number> {
  const roots = dirs.map((dir) => resolve(io.cwd, dir));
  for (const root of roots) {
    const stats = await stat(root).catch(() => undefined);
    if (!stats)
      throw new CliError(`${root} does not exist. Check the folder name.`, {
        code: 'not_found',
        details: { path: root },
      });
    if (!stats.isDirectory())
      throw new CliError(`${root} is a file; give the folder that holds your workflows.`, {
        code: 'workflow_root_invalid',
        details: { path: root },
      });
  }
  const uniqueRoots = [...new Set(roots)];
  const walks = uniqueRoots.map((root) => {
    const walk = listWorkflowFiles(root);
    // Awaited in turn below; this only keeps a failing walk from counting as unhandled meanwhile.
    walk.catch(() => undefined);
    return walk;
  });
  // Built while the walks wait on the file system: ICU's collator takes some 10 ms to load its locale data.
  const byPath = new Intl.Collator().compare;
  const listed: Array<{ root: string; files: PendingFile[] }> = [];
  for (const [position, root] of uniqueRoots.entries()) {
    const { files, problems } = await walks[position]!;
    listed.push({ root, files: files.sort((a, b) => byPath(a.path, b.path)) });
    for (const problem of problems)
      writeLine(io.stderr, `comfydesk: skipped ${resolve(root, problem.path)}: ${problem.message}`);
  }
  const options = { workerPath, asJson: flags.json === true };
  if (flags.json) {
    // One array, written a batch at a time as the batches come in, in order.
    let isFirst = true;
    await scanInParallel(listed, options, (result) => {
      if (!('json' in result) || result.json === '') return;
      writeText(io.stdout, `${isFirst ? '[' : ','}${result.json}`);
      isFirst = false;
    });
    writeText(io.stdout, isFirst ? '[]\n' : ']\n');
  } else {
    const records: WorkflowRecord[] = [];
    await scanInParallel(listed, options, (result) => {
      if ('records' in result) for (const record of result.records) records.push(record);
    });
    printTable(io, records, roots.length);
  }
  // The folders exist, so the scan did its job even when some files are not usable workflows.
  return ExitCode.ok;
}

const MEDIA = (types: readonly string[]) => (types.length === 0 ? '–' : types.join('+'));

/** The table: column widths measured once over all rows (at most 48 characters), then one write. */
function printTable(io: CliIo, records: WorkflowRecord[], rootCount: number): void {
  const good = records.filter((record) => record.error === null);
  const bad = records.filter((record) => record.error !== null);
  const header = ['NAME', 'TYPE', 'IN → OUT', 'MODELS', 'NODES', 'PATH'];
  const rows = good.map((record) => [
    record.name,
    record.type,
    `${MEDIA(record.inputTypes)} → ${MEDIA(record.outputTypes)}`,
    String(record.models.length),
    String(record.nodeCount),
    record.path,
  ]);
  const widths = header.map((title) => title.length);
  for (const row of rows)
    for (const [column, value] of row.entries()) widths[column] = Math.max(widths[column]!, value.length);
  for (const [column, width] of widths.entries()) widths[column] = Math.min(48, width);
  const cell = (value: string, column: number) => {
    const width = widths[column]!;
    return value.length > width ? `${value.slice(0, width - 1)}…` : value.padEnd(width);
  };
  const lines: string[] = [];
  if (rows.length > 0) for (const row of [header, ...rows]) lines.push(row.map(cell).join('  ').trimEnd());
  for (const record of bad) lines.push(`✗ ${record.path}: ${record.error!.reason}`);
  const folders = rootCount === 1 ? '1 folder' : `${rootCount} folders`;
  lines.push(
    `${good.length} workflow${good.length === 1 ? '' : 's'}${bad.length > 0 ? `, ${bad.length} file${bad.length === 1 ? '' : 's'} that could not be used` : ''}, in ${folders}.`,
  );
  io.stdout.write(`${lines.join('\n')}\n`);
}
