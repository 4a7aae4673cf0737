// The exporter's own health from its self-metrics on /metrics.

import type { Sample } from './prom';

export const HEALTH_METRICS = [
  'kwindow_consumer_lag',
  'kwindow_records_consumed_total',
  'kwindow_aborted_transactions_total',
  'kwindow_restore_remaining_records',
  'kwindow_restore_records_total',
];

export interface Scrape {
  at: number; // ms
  samples: Sample[];
}

export interface Health {
  lag: number | null; // records, summed over partitions
  recordsPerSec: number | null; // null until two scrapes
  aborted: number | null;
  /** Restoration: records restored of those to restore (null when nothing restores). */
  restoring: { done: number; left: number } | null;
}

function sum(samples: Sample[], name: string): number | null {
  let n: number | null = null;
  for (const s of samples) if (s.name === name && !Number.isNaN(s.value)) n = (n ?? 0) + s.value;
  return n;
}

/** health reads the latest scrape, and the rate of consumed records since prev. */
export function health(cur: Scrape, prev: Scrape | null): Health {
  const consumed = sum(cur.samples, 'kwindow_records_consumed_total');
  let recordsPerSec: number | null = null;
  if (prev && consumed != null && cur.at > prev.at) {
    const before = sum(prev.samples, 'kwindow_records_consumed_total');
    // A counter that went down was reset (a restart): no rate this time.
    if (before != null && consumed >= before) recordsPerSec = ((consumed - before) * 1000) / (cur.at - prev.at);
  }
  const left = sum(cur.samples, 'kwindow_restore_remaining_records');
  const done = sum(cur.samples, 'kwindow_restore_records_total') ?? 0;
  return {
    lag: sum(cur.samples, 'kwindow_consumer_lag'),
    recordsPerSec,
    aborted: sum(cur.samples, 'kwindow_aborted_transactions_total'),
    restoring: left != null && left > 0 ? { done, left } : null,
  };
}
