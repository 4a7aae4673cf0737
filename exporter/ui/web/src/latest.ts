// The key table's state: per key, its latest closed window and the windows
// still open, from /api/v1/latest and then the stream's window updates.

import { keyOf, type Cell } from './series';
import { num, type LatestResult, type Window, type WindowUpdate } from './types';

export interface Row {
  key: string;
  labels: Record<string, string>;
  closed: TableWindow | null;
  open: TableWindow[]; // ascending by start
}

export interface TableWindow {
  start: number;
  end: number;
  cell: Cell;
}

function tableWindow(w: { start: number; end: number; last: number; partial: boolean; values: Window['values'] }): TableWindow {
  const values: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(w.values)) values[k] = num(v);
  const elapsed = w.partial ? Math.max(0, w.last - w.start) : w.end - w.start;
  return { start: w.start, end: w.end, cell: { values, partial: w.partial, elapsed } };
}

export class Table {
  readonly rows = new Map<string, Row>();
  constructor(readonly groupBy: string[]) {}

  static from(r: LatestResult): Table {
    const t = new Table(r.group_by);
    for (const k of r.keys) {
      const key = keyOf(k.labels, r.group_by);
      t.rows.set(key, { key, labels: k.labels, closed: k.closed ? tableWindow(k.closed) : null, open: k.open.map(tableWindow) });
    }
    return t;
  }

  /** apply takes a window update: an open window replaces its earlier state; a closed one becomes the key's latest closed window unless a later one has closed. */
  apply(u: WindowUpdate): void {
    const key = keyOf(u.labels, this.groupBy);
    let row = this.rows.get(key);
    if (!row) {
      row = { key, labels: u.labels, closed: null, open: [] };
      this.rows.set(key, row);
    }
    const w = tableWindow(u);
    row.open = row.open.filter((o) => o.start !== u.start);
    if (u.partial) {
      row.open.push(w);
      row.open.sort((a, b) => a.start - b.start);
    } else if (!row.closed || row.closed.start <= u.start) {
      row.closed = w;
    }
  }
}
