import { describe, expect, it } from 'vitest';
import { Table } from './latest';
import type { WindowUpdate } from './types';

describe('Table', () => {
  const t = () =>
    Table.from({
      aggregation: 'endpoint_1m',
      group_by: ['endpoint'],
      measures: ['count'],
      keys: [
        {
          labels: { endpoint: '/a' },
          partition: 3,
          closed: { start: 600, end: 660, last: 659.9, partial: false, values: { count: 60 } },
          open: [{ start: 660, end: 720, last: 690, partial: true, values: { count: 30 } }],
        },
      ],
    });
  const u = (start: number, partial: boolean, count: number, endpoint = '/a'): WindowUpdate => ({
    aggregation: 'endpoint_1m', labels: { endpoint }, partition: 3, start, end: start + 60, last: start + 45,
    partial, committed_at: start + 50, values: { count },
  });

  it('reads /latest, with the time an open window covers', () => {
    const row = t().rows.get('/a')!;
    expect(row.closed?.cell).toEqual({ values: { count: 60 }, partial: false, elapsed: 60 });
    expect(row.open.map((w) => [w.start, w.cell.elapsed])).toEqual([[660, 30]]);
  });
  it('moves a window from open to closed as it closes', () => {
    const table = t();
    table.apply(u(660, true, 45));
    table.apply(u(720, true, 5));
    expect(table.rows.get('/a')!.open.map((w) => [w.start, w.cell.values.count])).toEqual([[660, 45], [720, 5]]);
    table.apply(u(660, false, 61));
    const row = table.rows.get('/a')!;
    expect([row.closed?.start, row.closed?.cell.values.count]).toEqual([660, 61]);
    expect(row.open.map((w) => w.start)).toEqual([720]);
    // A late final result of an older window does not replace the newer one.
    table.apply(u(600, false, 99));
    expect(table.rows.get('/a')!.closed?.start).toBe(660);
  });
  it('adds keys it has not seen', () => {
    const table = t();
    table.apply(u(720, true, 1, '/new'));
    expect([...table.rows.keys()]).toEqual(['/a', '/new']);
  });
});
