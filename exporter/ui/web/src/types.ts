// The query API's wire types the page reads (exporter/api/client/types.go).
// Timestamps are unix seconds; values are null for "no value" (NaN).

export type Value = number | null | string; // "+Inf" / "-Inf" as strings

export interface Envelope<T> {
  status: 'success' | 'error';
  data?: T;
  error?: { code: string; message: string; param?: string };
}

export interface Aggregation {
  name: string;
  window: { type: string; size?: string; advance?: string; gap?: string; grace: string };
  group_by: string[];
  measures: string[];
  quantiles: number[];
  sketch_relative_error: number | null;
  retention: string;
}

export interface Member {
  url: string;
  instance_id: string;
  partitions: number[];
  restoring: number[];
}

export interface Status {
  instance: string;
  instance_id: string;
  version: string;
  ready: boolean;
  reason: string;
  partitions: number;
  members: Member[];
}

export interface Point {
  start: number;
  end: number;
  windows: number;
  open: number;
  complete: boolean;
  values: Record<string, Value>;
}

export interface Series {
  labels: Record<string, string>;
  points: Point[];
}

export interface RangeResult {
  aggregation: string;
  group_by: string[];
  measures: string[];
  from: number;
  to: number;
  step: string;
  merged_windows: boolean;
  series: Series[];
  complete: boolean;
  stream_time: number | null;
}

export interface Window {
  start: number;
  end: number;
  last: number;
  partial: boolean;
  values: Record<string, Value>;
}

export interface LatestKey {
  labels: Record<string, string>;
  partition: number;
  closed: Window | null;
  open: Window[];
}

export interface LatestResult {
  aggregation: string;
  group_by: string[];
  measures: string[];
  keys: LatestKey[];
}

export interface WindowUpdate {
  aggregation: string;
  labels: Record<string, string>;
  partition: number;
  start: number;
  end: number;
  last: number;
  partial: boolean;
  committed_at: number;
  values: Record<string, Value>;
}

/** num reads a wire value: null (NaN) stays null, "+Inf"/"-Inf" become ±Infinity. */
export function num(v: Value | undefined): number | null {
  if (v == null) return null;
  if (typeof v === 'number') return v;
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return null;
}

export interface TopKEntry {
  labels: Record<string, string>;
  value: Value;
  windows: number;
  open: number;
  complete: boolean;
}

export interface TopKResult {
  aggregation: string;
  measure: string;
  from: number;
  to: number;
  entries: TopKEntry[];
}
