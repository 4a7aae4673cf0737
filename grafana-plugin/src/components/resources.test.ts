import { AGGREGATIONS } from '../test-utils';
import { errorText, measureOptions } from './resources';

describe('measureOptions', () => {
  const names = (...args: Parameters<typeof measureOptions>) => measureOptions(...args).map((o) => o.value);

  it('puts quantiles after the other measures, smallest first', () => {
    expect(names(AGGREGATIONS[0], ['q0.75', 'p99.99'])).toEqual([
      'count',
      'rate',
      'errors',
      'error_ratio',
      'p50',
      'q0.75',
      'p90',
      'p95',
      'p99',
      'p99.9',
      'p99.99',
    ]);
  });

  it('offers no quantile for an aggregation without a sketch', () => {
    expect(names(AGGREGATIONS[1])).toEqual(['count', 'rate']);
  });

  it('keeps a selected measure the aggregation does not list, so it can be removed', () => {
    expect(names(AGGREGATIONS[1], ['p99'])).toEqual(['count', 'rate', 'p99']);
  });
});

describe('errorText', () => {
  it('reads the backend resource error, Grafana fetch errors and plain errors', () => {
    expect(errorText({ data: { error: 'aggregation: unknown' }, status: 404 })).toBe('aggregation: unknown');
    expect(errorText({ data: { message: 'Plugin health check failed' } })).toBe('Plugin health check failed');
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText({ status: 502, statusText: 'Bad Gateway' })).toBe('Bad Gateway');
  });
});
