import { describe, expect, it } from 'vitest';
import { health } from './health';
import type { Sample } from './prom';

const m = (name: string, value: number, labels: Record<string, string> = {}): Sample => ({ name, labels, value });

describe('health', () => {
  const prev = { at: 10_000, samples: [m('kwindow_records_consumed_total', 1000)] };
  const cur = {
    at: 12_000,
    samples: [
      m('kwindow_records_consumed_total', 81_000),
      m('kwindow_consumer_lag', 5, { partition: '0' }),
      m('kwindow_consumer_lag', 7, { partition: '1' }),
      m('kwindow_aborted_transactions_total', 2),
    ],
  };
  it('sums lag, reads aborted transactions, rates consumed records', () => {
    // 80 000 records in 2 s.
    expect(health(cur, prev)).toEqual({ lag: 12, recordsPerSec: 40_000, aborted: 2, restoring: null });
  });
  it('has no rate from one scrape or across a counter reset', () => {
    expect(health(cur, null).recordsPerSec).toBeNull();
    expect(health(prev, { ...cur, at: 9000 }).recordsPerSec).toBeNull();
  });
  it('reports restoration while records are left', () => {
    const r = health({ at: 1, samples: [m('kwindow_restore_remaining_records', 300, { partition: '2' }), m('kwindow_restore_records_total', 700)] }, null);
    expect(r.restoring).toEqual({ done: 700, left: 300 });
    expect(r.lag).toBeNull();
  });
});
