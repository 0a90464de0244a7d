import { describe, expect, test } from 'vitest';
import type { DownloadProgress } from '../../../../../src/shared/domain/llm';
import { ProgressMeter } from '../../../../../src/main/core/transfers/download-parts';
import { waitFor } from '../../../../support/core';

describe('download progress', () => {
  test('while no bytes arrive, the speed shown falls to 0 and the time left becomes unknown', async () => {
    let nowMs = 0;
    /** A meter on the manual clock that repeats its last report after 5 ms without one. */
    const recorded = () => {
      const reports: DownloadProgress[] = [];
      const meter = new ProgressMeter(
        () => nowMs,
        100,
        (progress) => reports.push(progress),
        { idleReportMs: 5 },
      );
      return { reports, meter };
    };
    const { reports, meter } = recorded();
    meter.report(0, 10_000_000, true);
    nowMs = 1000;
    meter.report(1_000_000, 10_000_000, false);
    expect(reports.at(-1)).toEqual({
      receivedBytes: 1_000_000,
      totalBytes: 10_000_000,
      bytesPerSecond: 1_000_000,
      etaSeconds: 9,
    });

    // Two seconds without a byte: the last report is sent again, slower.
    nowMs = 3000;
    const sent = reports.length;
    const slower = await waitFor(() => reports[sent]);
    expect(slower.receivedBytes).toBe(1_000_000);
    expect(slower.bytesPerSecond).toBeCloseTo(1_000_000 / 3);
    expect(slower.etaSeconds).toBeCloseTo(27);

    // Longer than the speed window: nothing arrived in it.
    nowMs = 9000;
    const stopped = await waitFor(() => reports.slice(sent).find((report) => report.bytesPerSecond === 0));
    expect(stopped).toEqual({ receivedBytes: 1_000_000, totalBytes: 10_000_000, bytesPerSecond: 0, etaSeconds: null });

    meter.dispose();
    const count = reports.length;
    // Nothing comes after dispose, while a meter still running sends its idle reports.
    const control = recorded();
    control.meter.report(0, null, true);
    await waitFor(() => control.reports.length >= 4);
    control.meter.dispose();
    expect(reports).toHaveLength(count);
  });
});
