/** Helpers for benchmark files: percentiles and a printed table (what `npm run bench` shows). */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export interface BenchRow {
  metric: string;
  value: string;
  target?: string;
  /** Whether the target was met; omitted when there is no target. */
  met?: boolean;
}

/** Prints one titled table; a missed target is marked, not thrown (machines here are noisy). */
export function printTable(title: string, rows: BenchRow[]): void {
  const header = ['metric', 'value', 'target', 'met'];
  const cells = rows.map((row) => [
    row.metric,
    row.value,
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((name, column) => Math.max(name.length, ...cells.map((cell) => cell[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(' | ')} |`;
  const out = [
    `\n${title}`,
    line(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...cells.map(line),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}
