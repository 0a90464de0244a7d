import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { scanRoot } from '../../core/workflows/scan-root';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import type { CommandContext } from '../command';

interface ScanFlags {
  json?: boolean;
}

export function registerScan(program: Command, context: CommandContext): void {
  program
    .command('scan')
    .description('read every ComfyUI workflow (.json) in the given folders and show what each one needs')
    .argument('<dir...>', 'folders to scan (sub folders included)')
    .option('--json', 'print one JSON array with a record per file (failed files carry "error")')
    .action((dirs: string[], flags: ScanFlags) => context.run(flags.json, () => scan(context.io, dirs, flags)));
}

async function scan(io: CliIo, dirs: string[], flags: ScanFlags): Promise<number> {
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
  const records: WorkflowRecord[] = [];
  for (const root of [...new Set(roots)]) {
    const result = await scanRoot(root);
    records.push(...result.records.sort((a, b) => a.path.localeCompare(b.path)));
    for (const problem of result.problems)
      writeLine(io.stderr, `comfydesk: skipped ${resolve(root, problem.path)}: ${problem.message}`);
  }
  if (flags.json) writeJson(io, records);
  else printTable(io, records, roots.length);
  // The folders exist, so the scan did its job even when some files are not usable workflows.
  return ExitCode.ok;
}

const MEDIA = (types: readonly string[]) => (types.length === 0 ? '–' : types.join('+'));

function printTable(io: CliIo, records: WorkflowRecord[], rootCount: number): void {
  const good = records.filter((record) => record.error === null);
  const bad = records.filter((record) => record.error !== null);
  const rows = good.map((record) => [
    record.name,
    record.type,
    `${MEDIA(record.inputTypes)} → ${MEDIA(record.outputTypes)}`,
    String(record.models.length),
    String(record.nodeCount),
    record.path,
  ]);
  const header = ['NAME', 'TYPE', 'IN → OUT', 'MODELS', 'NODES', 'PATH'];
  const width = (column: number) =>
    Math.min(48, Math.max(header[column]!.length, ...rows.map((row) => row[column]!.length)));
  const cell = (value: string, column: number) =>
    value.length > width(column) ? `${value.slice(0, width(column) - 1)}…` : value.padEnd(width(column));
  if (rows.length > 0) {
    writeLine(io.stdout, header.map(cell).join('  ').trimEnd());
    for (const row of rows) writeLine(io.stdout, row.map(cell).join('  ').trimEnd());
  }
  for (const record of bad) writeLine(io.stdout, `✗ ${record.path}: ${record.error!.reason}`);
  const folders = rootCount === 1 ? '1 folder' : `${rootCount} folders`;
  writeLine(
    io.stdout,
    `${good.length} workflow${good.length === 1 ? '' : 's'}${bad.length > 0 ? `, ${bad.length} file${bad.length === 1 ? '' : 's'} that could not be used` : ''}, in ${folders}.`,
  );
}
