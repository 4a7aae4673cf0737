import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['0s', 0],
    ['0', 0],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['500ms', 500],
    ['1m0s500ms', 60_500],
  ])('%s is %d ms', (s, want) => expect(parseDuration(s)).toBe(want));
  it.each(['', 'm', '1x', '1m ', '-1m', '1.5m', 'abc'])('%j is not a duration', (s) => expect(parseDuration(s)).toBeNaN());
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [60_000, '1m'],
    [5_400_000, '1h30m'],
    [86_400_000, '1d'],
    [900_000, '15m'],
    [60_500, '1m500ms'],
  ])('%d ms is %s', (ms, want) => expect(formatDuration(ms)).toBe(want));
});
