// The time ranges the page offers and the step of each: long ranges read
// windows merged exactly into steps several windows wide.

export interface WindowSpec {
  type: string; // tumbling, hopping, sliding, session
  sizeMs: number;
  advanceMs: number; // hopping
  gapMs: number; // session
}

export interface Range {
  label: string;
  ms: number;
  /** The step wanted before it is fitted to the windows. */
  targetStepMs: number;
}

const MIN = 60_000;
export const RANGES: Range[] = [
  { label: '15m', ms: 15 * MIN, targetStepMs: MIN },
  { label: '1h', ms: 60 * MIN, targetStepMs: MIN },
  { label: '6h', ms: 360 * MIN, targetStepMs: 5 * MIN },
  { label: '24h', ms: 1440 * MIN, targetStepMs: 15 * MIN },
];

export interface Step {
  ms: number;
  /** Each point merges several windows of a key (counts add, sketches merge). */
  merged: boolean;
  /** A live update of one window is one point: the page patches it in place. */
  onePerWindow: boolean;
}

/**
 * chooseStep fits a range's target step to an aggregation's windows, as
 * /api/v1/query_range accepts it: a multiple of a tumbling or sliding window's
 * size; for a hopping window the advance (one window starting per step) or a
 * multiple of the size; for sessions the target itself.
 */
export function chooseStep(range: Range, w: WindowSpec): Step {
  const t = range.targetStepMs;
  const up = (unit: number) => Math.max(1, Math.ceil(t / unit)) * unit;
  switch (w.type) {
    case 'tumbling':
    case 'sliding': {
      const ms = up(w.sizeMs);
      return { ms, merged: ms > w.sizeMs, onePerWindow: ms === w.sizeMs };
    }
    case 'hopping': {
      if (t <= w.advanceMs) return { ms: w.advanceMs, merged: false, onePerWindow: true };
      const ms = up(w.sizeMs);
      return { ms, merged: true, onePerWindow: false };
    }
    default:
      return { ms: t, merged: true, onePerWindow: false };
  }
}

/** The query's [from, to): the range ending now, aligned to the step so points are whole. */
export function alignedRange(nowMs: number, range: Range, step: Step): { from: number; to: number } {
  const to = (Math.floor(nowMs / step.ms) + 1) * step.ms;
  return { from: to - Math.ceil(range.ms / step.ms) * step.ms, to };
}
