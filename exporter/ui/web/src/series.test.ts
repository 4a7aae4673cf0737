import { describe, expect, it } from 'vitest';
import { applyUpdate, chartData, fromRange, keyOf, latestClosed, topKeys, valueOf, xs } from './series';
import type { RangeResult, WindowUpdate } from './types';

// Two keys, 1m steps at t=600, 660, 720 (unix s); 720 is open, stream time 750.
const range: RangeResult = {
  aggregation: 'endpoint_1m',
  group_by: ['endpoint'],
  measures: ['count', 'rate', 'p99'],
  from: 540,
  to: 780,
  step: '1m',
  merged_windows: false,
  complete: false,
  stream_time: 750,
  series: [
    {
      labels: { endpoint: '/a' },
      points: [
        { start: 600, end: 660, windows: 1, open: 0, complete: true, values: { count: 600, rate: 10, p99: 0.25 } },
        { start: 660, end: 720, windows: 1, open: 0, complete: true, values: { count: 1200, rate: 20, p99: null } },
        { start: 720, end: 780, windows: 1, open: 1, complete: false, values: { count: 300, rate: 5, p99: 0.5 } },
      ],
    },
    {
      labels: { endpoint: '/b' },
      points: [
        { start: 660, end: 720, windows: 1, open: 0, complete: true, values: { count: 1800, rate: 30, p99: '+Inf' } },
        { start: 720, end: 780, windows: 1, open: 1, complete: false, values: { count: 60, rate: 1, p99: 0.1 } },
      ],
    },
  ],
};

describe('keyOf', () => {
  it('joins the values in group_by order', () => {
    expect(keyOf({ region: 'eu', endpoint: '/a' }, ['endpoint', 'region'])).toBe('/a · eu');
    expect(keyOf({}, [])).toBe('all');
  });
});

describe('the model of a range', () => {
  const m = () => fromRange(range, 60, 180);
  it('charts each key on the shared steps, with gaps as null', () => {
    const model = m();
    const x = xs(model, 760);
    expect(x).toEqual([600, 660, 720]);
    // /a's open point at 720 has covered 30 s of stream time: 300 events / 30 s = 10/s.
    expect(chartData(model, ['/a', '/b'], 'rate', x)).toEqual([x, [10, 20, 10], [null, 30, 2]]);
    expect(chartData(model, ['/b'], 'p99', x)).toEqual([x, [null, Infinity, 0.1]]);
  });
  // /a: 600 + 1200 + 300 = 2100 events; /b: 1800 + 60 = 1860.
  it('orders keys by events', () => expect(topKeys(m())).toEqual(['/a', '/b']));
  it('sums the latest step whose points are all closed', () => {
    expect(latestClosed(m(), 'rate')).toEqual({ start: 660, total: 50, keys: 2 });
  });
  it('patches a window update in place', () => {
    const model = m();
    const u: WindowUpdate = {
      aggregation: 'endpoint_1m', labels: { endpoint: '/b' }, partition: 0, start: 720, end: 780, last: 779.5,
      partial: false, committed_at: 790, values: { count: 2400, rate: 40, p99: 0.2 },
    };
    applyUpdate(model, u);
    expect(chartData(model, ['/b'], 'rate', [720])).toEqual([[720], [40]]);
    // /a is still open at 720, so 660 stays the latest closed step.
    expect(latestClosed(model, 'rate')?.start).toBe(660);
    applyUpdate(model, { ...u, labels: { endpoint: '/a' }, values: { count: 1500, rate: 25, p99: 0.3 } });
    expect(latestClosed(model, 'rate')).toEqual({ start: 720, total: 65, keys: 2 });
    applyUpdate(model, { ...u, labels: { endpoint: '/new' }, start: 780, end: 840, last: 800, partial: true, values: { count: 100 } });
    expect(topKeys(model)).toEqual(['/b', '/a', '/new']);
    expect(xs(model, 790)).toEqual([660, 720, 780]);
    // 100 events in the 20 s from 780 to 800.
    expect(chartData(model, ['/new'], 'rate', [780])).toEqual([[780], [5]]);
  });
  it('leaves out the rate of a point younger than a second', () => {
    expect(valueOf({ values: { count: 3 }, partial: true, elapsed: 0.5 }, 'rate', 60)).toBeNull();
    expect(valueOf({ values: { count: 3, rate: 0.05 }, partial: false, elapsed: 60 }, 'rate', 60)).toBe(0.05);
  });
});
