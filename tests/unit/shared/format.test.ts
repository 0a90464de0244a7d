import { expect, test } from 'vitest';
import { formatBytes, formatTimeLeft } from '@shared/format';

test('sizes read in decimal units with one decimal below ten', () => {
  expect(formatBytes(512)).toBe('512 bytes');
  expect(formatBytes(64_000_000)).toBe('64 MB');
  expect(formatBytes(1_117_320_736)).toBe('1.1 GB');
  expect(formatBytes(2_393_231_072)).toBe('2.4 GB');
});

test('times left round the way people say them', () => {
  expect(formatTimeLeft(0.2)).toBe('1 s');
  expect(formatTimeLeft(75)).toBe('75 s');
  expect(formatTimeLeft(600)).toBe('10 min');
  expect(formatTimeLeft(3900)).toBe('65 min');
  expect(formatTimeLeft(6000)).toBe('1 h 40 min');
});
