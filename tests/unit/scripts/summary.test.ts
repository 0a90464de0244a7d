import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { summarize } from '../../../scripts/lib/summary.mjs';
import { tempDir } from '../../support/core';

interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  missing: string[];
  totalLine: string;
}
const summary = summarize as (dir: string) => Summary;

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function reports(files: Record<string, unknown>): string {
  const dir = tempDir('comfydesk-reports-');
  dirs.push(dir);
  mkdirSync(dir.path, { recursive: true });
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir.path, name), typeof content === 'string' ? content : JSON.stringify(content));
  return dir.path;
}

const checks = [{ name: 'tsc -b', passed: true }];
const vitest = { numPassedTests: 3, numFailedTests: 0, numPendingTests: 1, testResults: [] };
const playwright = (...statuses: string[]) => ({
  suites: [{ specs: statuses.map((status) => ({ tests: [{ status }] })) }],
  errors: [],
});

describe('the totals line CI reads', () => {
  test('every report present and green: the counts add up', () => {
    const result = summary(
      reports({ 'checks.json': checks, 'vitest.json': vitest, 'playwright.json': playwright('expected') }),
    );
    expect(result.totalLine).toBe('5 passed, 0 failed, 1 skipped');
  });

  test('a flaky Playwright test (failed, then passed on retry) counts as failed', () => {
    const result = summary(
      reports({ 'checks.json': checks, 'vitest.json': vitest, 'playwright.json': playwright('expected', 'flaky') }),
    );
    expect([result.passed, result.failed]).toEqual([5, 1]);
  });

  test('a missing or unreadable report is a failure, never zero', () => {
    const none = summary(reports({}));
    expect(none.failed).toBe(3);
    expect(none.missing).toEqual(['checks', 'vitest', 'playwright']);
    expect(none.totalLine).toBe('0 passed, 3 failed');
    const cut = summary(
      reports({
        'checks.json': checks,
        'vitest.json': '{"numPassedTests": 3',
        'playwright.json': playwright('expected'),
      }),
    );
    expect(cut.failed).toBe(1);
    expect(cut.missing).toEqual(['vitest']);
  });
});
