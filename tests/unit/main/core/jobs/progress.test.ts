import { describe, expect, test } from 'vitest';
import { estimateEtaSeconds, expectedDurationMs, median } from '../../../../../src/main/core/jobs/eta';
import type { ApiPrompt } from '@shared/domain/generation';
import { describeProgress } from '@shared/format';
import { ProgressTracker, samplingSteps } from '../../../../../src/main/core/jobs/progress-tracker';

const OUTPUTS = new Set(['SaveImage', 'PreviewImage']);

/** checkpoint → encode ×2 → sampler (20 steps) → decode → save; plus an unrelated dangling node. */
const prompt: ApiPrompt = {
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd15.safetensors' } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a fox', clip: ['4', 1] }, _meta: { title: 'Positive' } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
  '3': {
    class_type: 'KSampler',
    inputs: {
      seed: 1,
      steps: 20,
      cfg: 7,
      model: ['4', 0],
      positive: ['6', 0],
      negative: ['7', 0],
      latent_image: ['5', 0],
    },
    _meta: { title: 'Sampler A' },
  },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
  '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'x' } },
  '99': { class_type: 'CLIPTextEncode', inputs: { text: 'dangling', clip: ['4', 1] } },
};

function tracker(now = () => 0, expectedMs?: number) {
  return new ProgressTracker({ prompt, isOutputNode: (type) => OUTPUTS.has(type), now, expectedMs });
}

describe('ProgressTracker', () => {
  test('only nodes the outputs depend on count', () => {
    expect(tracker().plannedNodes.sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
  });

  test('the sampler weighs by its steps, the percent is monotonic, and 100 comes only at the end', () => {
    const t = tracker();
    const seen: number[] = [];
    const record = () => seen.push(t.snapshot().percent);
    t.cached([]);
    for (const id of ['4', '6', '7', '5']) {
      t.executing(id);
      record();
    }
    t.executing('3');
    for (let step = 1; step <= 20; step += 1) {
      t.progress('3', step, 20);
      record();
    }
    t.executing('8');
    record();
    t.executing('9');
    t.executed('9');
    record();
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(Math.max(...seen)).toBeLessThanOrEqual(99);
    // 6 unit nodes + 20 sampler steps = 26: after the 4 loaders the sampler's half is ~ (4 + 10) / 26.
    expect(seen[4 + 9]).toBeCloseTo(((4 + 10) / 26) * 100, 5);
    t.finish();
    expect(t.snapshot().percent).toBe(100);
  });

  test('cached nodes are taken out of the total, so a mostly cached run still moves smoothly', () => {
    const t = tracker();
    t.cached(['4', '5', '6', '7']);
    t.executing('3');
    t.progress('3', 10, 20);
    expect(t.snapshot().percent).toBeCloseTo((10 / 22) * 100, 5);
  });

  test('the current node is shown by its title and step', () => {
    const t = tracker();
    t.executing('3');
    t.progress('3', 15, 20);
    expect(t.snapshot()).toMatchObject({ nodeId: '3', nodeTitle: 'Sampler A', step: 15, steps: 20 });
    t.executing('7');
    expect(t.snapshot()).toMatchObject({ nodeTitle: 'CLIPTextEncode', step: null });
  });

  test('a node that unexpectedly reports steps is weighed by them without the percent going back', () => {
    const t = tracker();
    t.executing('4');
    t.executing('8');
    const before = t.snapshot().percent;
    t.progress('8', 1, 64);
    expect(t.snapshot().percent).toBeGreaterThanOrEqual(before);
  });

  test('after the last output node has run, the job at 99 % names that node instead of saying "Starting…"', () => {
    const t = tracker();
    for (const id of ['4', '6', '7', '5', '3', '8', '9']) t.executing(id);
    t.executed('9');
    const last = t.snapshot();
    expect(last.percent).toBe(99);
    expect(last.nodeTitle).toBe('SaveImage');
    expect(describeProgress(last)).not.toBe('Starting…');
  });

  test('a run picked up mid-way (after a restart) counts what the running node depends on as done', () => {
    const t = tracker();
    t.resumeAt('3');
    t.progress('3', 10, 20);
    // Loaders and encoders (4 of the 6 unit nodes) ran before the sampler: (4 + 10) / 26.
    expect(t.snapshot().percent).toBeCloseTo(((4 + 10) / 26) * 100, 5);
    expect(t.snapshot()).toMatchObject({ nodeTitle: 'Sampler A', step: 10, steps: 20 });
  });

  test("ComfyUI's progress_state marks finished nodes as done", () => {
    const t = tracker();
    t.nodeStates({ '4': { state: 'finished' }, '5': { state: 'finished' }, '6': { state: 'running' } });
    expect(t.snapshot().percent).toBeCloseTo((2 / 26) * 100, 5);
  });

  test('the run started before the tracker existed: the ETA counts from when it really started', () => {
    let now = 50_000;
    const t = tracker(() => now, 60_000);
    t.started(20_000);
    t.executing('4');
    expect(t.snapshot().etaSeconds).toBe(30);
    now = 60_000;
    expect(t.snapshot().etaSeconds).toBe(20);
  });
});

describe('sampling steps', () => {
  test('the steps of the samplers a run uses, as chosen (start/end narrow them); none without a sampler', () => {
    const isOutput = (type: string) => OUTPUTS.has(type);
    expect(samplingSteps(prompt, isOutput)).toBe(20);
    const advanced: ApiPrompt = {
      ...prompt,
      '3': { ...prompt['3']!, inputs: { ...prompt['3']!.inputs, steps: 30, start_at_step: 10, end_at_step: 25 } },
    };
    expect(samplingSteps(advanced, isOutput)).toBe(15);
    const { '3': _sampler, ...withoutSampler } = prompt;
    expect(samplingSteps(withoutSampler, isOutput)).toBeNull();
  });
});

describe('ETA', () => {
  test('no estimate without progress or history', () => {
    expect(estimateEtaSeconds({ fraction: 0, elapsedMs: 0 })).toBeNull();
    expect(estimateEtaSeconds({ fraction: 0.01, elapsedMs: 1000 })).toBeNull();
  });

  test('the observed rate alone: half done after 10 s leaves 10 s', () => {
    expect(estimateEtaSeconds({ fraction: 0.5, elapsedMs: 10_000 })).toBe(10);
  });

  test('history alone at the start: the median past run minus what has elapsed', () => {
    const past = [30_000, 10_000, 20_000].map((durationMs) => ({ durationMs, samplingSteps: null }));
    expect(estimateEtaSeconds({ fraction: 0, elapsedMs: 2000, expectedMs: expectedDurationMs(past, 20) })).toBe(18);
    expect(median([1, 2, 3, 4])).toBe(2.5);
  });

  test('both: the rate counts more as the run advances', () => {
    const early = estimateEtaSeconds({ fraction: 0.1, elapsedMs: 10_000, expectedMs: 40_000 })!;
    // rate says 90 s, history says 30 s; early on the history dominates.
    expect(early).toBeGreaterThan(30);
    expect(early).toBeLessThan(60);
    const late = estimateEtaSeconds({ fraction: 0.9, elapsedMs: 90_000, expectedMs: 40_000 })!;
    expect(late).toBe(9);
  });

  test('past runs are scaled by the steps chosen now: 40 steps after runs of 20 are expected to take twice as long', () => {
    const past = [
      { durationMs: 10_000, samplingSteps: 20 },
      { durationMs: 12_000, samplingSteps: 20 },
      { durationMs: 3_000, samplingSteps: 5 },
    ];
    expect(expectedDurationMs(past, 40)).toBe(24_000);
    expect(expectedDurationMs(past, 20)).toBe(12_000);
    expect(expectedDurationMs(past, 10)).toBe(6_000);
  });

  test('runs recorded without their steps count only when no run with steps exists, and then unscaled', () => {
    const old = [
      { durationMs: 50_000, samplingSteps: null },
      { durationMs: 60_000, samplingSteps: null },
    ];
    expect(expectedDurationMs(old, 40)).toBe(55_000);
    expect(expectedDurationMs([...old, { durationMs: 10_000, samplingSteps: 20 }], 40)).toBe(20_000);
    expect(expectedDurationMs([], 40)).toBeUndefined();
    expect(expectedDurationMs([{ durationMs: 8_000, samplingSteps: 20 }], null)).toBe(8_000);
  });
});
