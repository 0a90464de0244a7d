// Reads the runners' JSON reports and computes the totals line CI prints.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A report, or undefined when it is missing or cannot be read (both count as a failure, never as zero). */
function readJson(path) {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Counts every test of a Playwright JSON report, by its final outcome. A `flaky` test (failed, then
 * passed on a retry) counts as failed: CI must not hide a test that fails some of the time.
 */
function countPlaywright(report) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const visit = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        if (test.status === 'skipped') counts.skipped += 1;
        else if (test.status === 'expected') counts.passed += 1;
        else counts.failed += 1;
      }
    }
    for (const child of suite.suites ?? []) visit(child);
  };
  for (const suite of report.suites ?? []) visit(suite);
  // A crash outside any test (a broken config, a failing global setup) is a failure too.
  counts.failed += (report.errors ?? []).length;
  return counts;
}

/**
 * @param {string} dir folder holding checks.json, vitest.json and playwright.json
 */
export function summarize(dir) {
  const details = [];
  const missing = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;

  const checks = readJson(join(dir, 'checks.json'));
  if (checks) {
    for (const check of checks) {
      if (check.passed) passed += 1;
      else failed += 1;
    }
    details.push(
      `checks: ${checks.filter((c) => c.passed).length} passed, ${checks.filter((c) => !c.passed).length} failed (${checks.map((c) => `${c.name} ${c.passed ? 'ok' : 'FAILED'}`).join(', ')})`,
    );
  } else {
    missing.push('checks');
    failed += 1;
  }

  const vitest = readJson(join(dir, 'vitest.json'));
  if (vitest) {
    const vSkipped = (vitest.numPendingTests ?? 0) + (vitest.numTodoTests ?? 0);
    // Files that failed to load count as failures even though they report no tests.
    const brokenFiles = (vitest.testResults ?? []).filter(
      (file) => file.status === 'failed' && (file.assertionResults ?? []).length === 0,
    ).length;
    passed += vitest.numPassedTests;
    failed += vitest.numFailedTests + brokenFiles;
    skipped += vSkipped;
    details.push(
      `vitest: ${vitest.numPassedTests} passed, ${vitest.numFailedTests + brokenFiles} failed, ${vSkipped} skipped`,
    );
  } else {
    missing.push('vitest');
    failed += 1;
  }

  const playwright = readJson(join(dir, 'playwright.json'));
  if (playwright) {
    const counts = countPlaywright(playwright);
    passed += counts.passed;
    failed += counts.failed;
    skipped += counts.skipped;
    details.push(`playwright: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  } else {
    missing.push('playwright');
    failed += 1;
  }
  if (missing.length > 0)
    details.push(`missing or unreadable reports (each counted as a failure): ${missing.join(', ')}`);

  const totalLine = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
  return { passed, failed, skipped, missing, details, totalLine };
}

// `node scripts/lib/summary.mjs DIR` prints the totals line alone (used by .ci/run).
if (import.meta.url === `file://${process.argv[1]}`) {
  const summary = summarize(process.argv[2] ?? 'test-results/reports');
  console.log(summary.totalLine);
}
