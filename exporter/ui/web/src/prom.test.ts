import { describe, expect, it } from 'vitest';
import { parseMetrics } from './prom';

const text = `# HELP kwindow_consumer_lag Records behind.
# TYPE kwindow_consumer_lag gauge
kwindow_consumer_lag{partition="0",topic="events"} 12
kwindow_consumer_lag{partition="1",topic="events"} 30
kwindow_endpoint_1m_anomaly_score{endpoint="/a \\"quoted\\" \\\\ x",measure="p99"} 7.25
kwindow_endpoint_1m_anomaly_score{endpoint="/b",measure="count",} -1.5e+00
kwindow_records_consumed_total 1.234e+06
go_goroutines 42
kwindow_weird NaN
kwindow_inf{a="b"} +Inf 1700000000000
`;

describe('parseMetrics', () => {
  it('reads the wanted samples with their labels and escapes', () => {
    const got = parseMetrics(text, (n) => n.startsWith('kwindow_'));
    expect(got).toEqual([
      { name: 'kwindow_consumer_lag', labels: { partition: '0', topic: 'events' }, value: 12 },
      { name: 'kwindow_consumer_lag', labels: { partition: '1', topic: 'events' }, value: 30 },
      { name: 'kwindow_endpoint_1m_anomaly_score', labels: { endpoint: '/a "quoted" \\ x', measure: 'p99' }, value: 7.25 },
      { name: 'kwindow_endpoint_1m_anomaly_score', labels: { endpoint: '/b', measure: 'count' }, value: -1.5 },
      { name: 'kwindow_records_consumed_total', labels: {}, value: 1234000 },
      { name: 'kwindow_weird', labels: {}, value: NaN },
      { name: 'kwindow_inf', labels: { a: 'b' }, value: Infinity },
    ]);
  });
  it('skips families it is not asked for', () => {
    expect(parseMetrics(text, (n) => n === 'go_goroutines')).toEqual([{ name: 'go_goroutines', labels: {}, value: 42 }]);
  });
});
