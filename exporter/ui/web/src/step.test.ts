import { describe, expect, it } from 'vitest';
import { alignedRange, chooseStep, RANGES, type WindowSpec } from './step';

const M = 60_000;
const tumbling1m: WindowSpec = { type: 'tumbling', sizeMs: M, advanceMs: 0, gapMs: 0 };
const hopping5m1m: WindowSpec = { type: 'hopping', sizeMs: 5 * M, advanceMs: M, gapMs: 0 };
const tumbling10s: WindowSpec = { type: 'tumbling', sizeMs: 10_000, advanceMs: 0, gapMs: 0 };
const tumbling2m: WindowSpec = { type: 'tumbling', sizeMs: 2 * M, advanceMs: 0, gapMs: 0 };

describe('chooseStep', () => {
  const byLabel = (l: string) => RANGES.find((r) => r.label === l)!;
  it.each([
    // range, windows, step in minutes, merged, one point per window
    ['15m', tumbling1m, 1, false, true],
    ['1h', tumbling1m, 1, false, true],
    ['6h', tumbling1m, 5, true, false],
    ['24h', tumbling1m, 15, true, false],
    ['15m', hopping5m1m, 1, false, true],
    ['6h', hopping5m1m, 5, true, false],
    ['24h', hopping5m1m, 15, true, false],
    ['1h', tumbling10s, 1, true, false],
    ['15m', tumbling2m, 2, false, true],
    ['6h', tumbling2m, 6, true, false],
  ] as const)('%s over %o: %d m', (label, w, min, merged, one) => {
    expect(chooseStep(byLabel(label), w)).toEqual({ ms: min * M, merged, onePerWindow: one });
  });
  it('offers 15m, 1h, 6h and 24h', () => expect(RANGES.map((r) => r.label)).toEqual(['15m', '1h', '6h', '24h']));
});

describe('alignedRange', () => {
  it('ends after the step that holds now and spans the range', () => {
    // 12:07:30 UTC on some day, in ms; 15 steps of 1m.
    const now = Date.UTC(2026, 11, 1, 12, 7, 30);
    const r = alignedRange(now, RANGES[0], { ms: M, merged: false, onePerWindow: true });
    expect(r.to).toBe(Date.UTC(2026, 11, 1, 12, 8, 0));
    expect(r.from).toBe(Date.UTC(2026, 11, 1, 11, 53, 0));
  });
});
