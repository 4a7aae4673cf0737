import { describe, expect, it } from 'vitest';
import { anomalies, THRESHOLD } from './anomaly';
import type { Sample } from './prom';

const s = (endpoint: string, measure: string, value: number, agg = 'endpoint_1m'): Sample => ({
  name: `kwindow_${agg}_anomaly_score`,
  labels: { endpoint, measure },
  value,
});

describe('anomalies', () => {
  it('marks keys whose score passes the threshold, highest first', () => {
    const got = anomalies(
      [s('/a', 'p99', 4.5), s('/a', 'count', 9), s('/a', 'error_ratio', 4), s('/b', 'p99', -8), s('/c', 'p99', 3.9), s('/d', 'p99', 100, 'region_1m'), s('/e', 'count', NaN)],
      'endpoint_1m',
      ['endpoint'],
    );
    // 4 is not past 4 (the rules say > 4); a large negative score is not an alert either.
    expect([...got.entries()]).toEqual([['/a', [{ measure: 'count', score: 9 }, { measure: 'p99', score: 4.5 }]]]);
  });
  it('uses the rules threshold', () => expect(THRESHOLD).toBe(4));
});
