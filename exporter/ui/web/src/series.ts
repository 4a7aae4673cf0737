// The page's model of one aggregation over a time range: per key, its points
// (one per step), built from /api/v1/query_range and patched by the stream's
// window updates.

import { num, type RangeResult, type Value, type WindowUpdate } from './types';

export interface Cell {
  values: Record<string, number | null>;
  /** Open: later commits change it. */
  partial: boolean;
  /** Seconds of event time the point has covered so far (a partial point's rate divides by it). */
  elapsed: number;
}

export interface KeySeries {
  labels: Record<string, string>;
  points: Map<number, Cell>; // by start, unix seconds
}

export interface Model {
  groupBy: string[];
  stepSec: number;
  rangeSec: number;
  keys: Map<string, KeySeries>;
}

/** keyOf names a key by its dimension values in group_by order: "/api/users · eu-west-1"; "all" with none. */
export function keyOf(labels: Record<string, string>, groupBy: string[]): string {
  return groupBy.length === 0 ? 'all' : groupBy.map((d) => labels[d] ?? '').join(' · ');
}

function values(vs: Record<string, Value>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(vs)) out[k] = num(v);
  return out;
}

export function fromRange(r: RangeResult, stepSec: number, rangeSec: number): Model {
  const m: Model = { groupBy: r.group_by, stepSec, rangeSec, keys: new Map() };
  const st = r.stream_time;
  for (const s of r.series) {
    const ks: KeySeries = { labels: s.labels, points: new Map() };
    for (const p of s.points) {
      const partial = !p.complete;
      const reached = partial && st != null ? Math.min(p.end, st) : p.end;
      ks.points.set(p.start, { values: values(p.values), partial, elapsed: Math.max(0, reached - p.start) });
    }
    m.keys.set(keyOf(s.labels, r.group_by), ks);
  }
  return m;
}

/**
 * applyUpdate puts a window update into the model as the point starting at the
 * window's start, which is right only when each step holds exactly one window
 * of a key (chooseStep's onePerWindow): the caller re-reads the range otherwise.
 */
export function applyUpdate(m: Model, u: WindowUpdate): void {
  const key = keyOf(u.labels, m.groupBy);
  let ks = m.keys.get(key);
  if (!ks) {
    ks = { labels: u.labels, points: new Map() };
    m.keys.set(key, ks);
  }
  const elapsed = u.partial ? Math.max(0, u.last - u.start) : u.end - u.start;
  ks.points.set(u.start, { values: values(u.values), partial: u.partial, elapsed });
}

/**
 * valueOf is a point's value of a measure. A partial point's rate is its count
 * over the time it has covered so far, not over the whole step: a window that is
 * half done is not half the traffic.
 */
export function valueOf(c: Cell, measure: string, stepSec: number): number | null {
  if (measure === 'rate' && c.partial) {
    const n = c.values.count;
    if (n == null) return null;
    // Under one second of a window, the estimate is noise: leave it out.
    return c.elapsed >= 1 ? n / Math.min(c.elapsed, stepSec) : null;
  }
  return c.values[measure] ?? null;
}

/** The latest start of any point; NaN with none. */
export function latestStart(m: Model): number {
  let t = NaN;
  for (const ks of m.keys.values()) for (const s of ks.points.keys()) if (!(s <= t)) t = s;
  return t;
}

/** The step starts the charts show: the range ending at the latest point. */
export function xs(m: Model, nowSec: number): number[] {
  const last = Math.max(Math.floor(nowSec / m.stepSec) * m.stepSec, Number.isNaN(latestStart(m)) ? -Infinity : latestStart(m));
  const n = Math.round(m.rangeSec / m.stepSec);
  const out: number[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(last - i * m.stepSec);
  return out;
}

/** chartData is uPlot's aligned data: the x values, then one array per key (null where it has no point). */
export function chartData(m: Model, keys: string[], measure: string, x: number[]): (number | null)[][] {
  const out: (number | null)[][] = [x];
  for (const k of keys) {
    const pts = m.keys.get(k)?.points;
    out.push(x.map((t) => {
      const c = pts?.get(t);
      return c ? valueOf(c, measure, m.stepSec) : null;
    }));
  }
  return out;
}

/** topKeys orders keys by their events over the model's points, most first (ties by name). */
export function topKeys(m: Model): string[] {
  const total = (ks: KeySeries) => {
    let n = 0;
    for (const c of ks.points.values()) n += c.values.count ?? 0;
    return n;
  };
  return [...m.keys.entries()]
    .map(([k, ks]) => ({ k, n: total(ks) }))
    .sort((a, b) => b.n - a.n || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((e) => e.k);
}

/**
 * latestClosed is the latest step in which every key's point is closed, and the
 * sum over keys of measure at it (rates and counts add across keys). null when no
 * point is closed.
 */
export function latestClosed(m: Model, measure: string): { start: number; total: number; keys: number } | null {
  const starts = new Set<number>();
  for (const ks of m.keys.values()) for (const s of ks.points.keys()) starts.add(s);
  const sorted = [...starts].sort((a, b) => b - a);
  for (const s of sorted) {
    let total = 0;
    let keys = 0;
    let open = false;
    for (const ks of m.keys.values()) {
      const c = ks.points.get(s);
      if (!c) continue;
      if (c.partial) {
        open = true;
        break;
      }
      total += c.values[measure] ?? 0;
      keys++;
    }
    if (!open && keys > 0) return { start: s, total, keys };
  }
  return null;
}
