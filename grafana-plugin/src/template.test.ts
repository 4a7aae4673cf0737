import { DataSource } from './datasource';
import { escapeRegex, interpolateQuery, parseVariableQuery, toMatcher } from './template';
import { FakeTemplateSrv, instanceSettings, withTemplateVariables } from './test-utils';
import { KwindowQuery } from './types';

const base: KwindowQuery = { refId: 'A', aggregation: 'endpoint_1m' };

describe('applyTemplateVariables', () => {
  const variables = [
    { name: 'agg', value: 'endpoint_1m' },
    { name: 'endpoint', value: '/api/checkout' },
    { name: 'regions', value: ['eu-west', 'us-east.1'], multi: true },
    { name: 'one', value: ['eu-west'], multi: true },
    { name: 'dims', value: ['endpoint', 'region'], multi: true },
    { name: 'pattern', value: 'eu-.*' },
    { name: 'step', value: '5m' },
  ];
  let ds: DataSource;
  beforeEach(() => {
    withTemplateVariables(variables);
    ds = new DataSource(instanceSettings);
  });

  it('replaces a single-value variable in aggregation, filters, groupBy, legend and step', () => {
    const q = ds.applyTemplateVariables(
      {
        ...base,
        aggregation: '$agg',
        filters: [{ dim: 'endpoint', op: '=', value: '$endpoint' }],
        groupBy: ['${dims}'],
        legendFormat: '{{endpoint}} $endpoint',
        step: '$step',
      },
      {}
    );
    expect(q.aggregation).toBe('endpoint_1m');
    expect(q.filters).toEqual([{ dim: 'endpoint', op: '=', value: '/api/checkout' }]);
    expect(q.groupBy).toEqual(['endpoint', 'region']);
    expect(q.legendFormat).toBe('{{endpoint}} /api/checkout');
    expect(q.step).toBe('5m');
  });

  it('leaves a single-value variable unescaped in a regex filter', () => {
    const q = ds.applyTemplateVariables({ ...base, filters: [{ dim: 'region', op: '=~', value: '$pattern' }] }, {});
    expect(q.filters).toEqual([{ dim: 'region', op: '=~', value: 'eu-.*' }]);
  });

  it('turns a multi-value variable into an escaped alternation for =~ and !~', () => {
    const q = ds.applyTemplateVariables(
      {
        ...base,
        filters: [
          { dim: 'region', op: '=~', value: '$regions' },
          { dim: 'region', op: '!~', value: 'x|${regions}' },
        ],
      },
      {}
    );
    expect(q.filters).toEqual([
      { dim: 'region', op: '=~', value: '(eu-west|us-east\\.1)' },
      { dim: 'region', op: '!~', value: 'x|(eu-west|us-east\\.1)' },
    ]);
  });

  it('turns = and != with several values into =~ and !~', () => {
    const q = ds.applyTemplateVariables(
      {
        ...base,
        filters: [
          { dim: 'region', op: '=', value: '$regions' },
          { dim: 'region', op: '!=', value: '$regions' },
        ],
      },
      {}
    );
    expect(q.filters).toEqual([
      { dim: 'region', op: '=~', value: '(eu-west|us-east\\.1)' },
      { dim: 'region', op: '!~', value: '(eu-west|us-east\\.1)' },
    ]);
  });

  it('keeps = for a multi-value variable with one value selected', () => {
    const q = ds.applyTemplateVariables({ ...base, filters: [{ dim: 'region', op: '=', value: '$one' }] }, {});
    expect(q.filters).toEqual([{ dim: 'region', op: '=', value: 'eu-west' }]);
  });

  it('leaves a missing variable as written', () => {
    const q = ds.applyTemplateVariables(
      {
        ...base,
        aggregation: '$nope',
        filters: [{ dim: 'endpoint', op: '=~', value: '$nope' }],
        groupBy: ['$nope'],
      },
      {}
    );
    expect(q.aggregation).toBe('$nope');
    expect(q.filters).toEqual([{ dim: 'endpoint', op: '=~', value: '$nope' }]);
    expect(q.groupBy).toEqual(['$nope']);
  });

  it('prefers scoped variables (panel repeats) over dashboard ones', () => {
    const q = ds.applyTemplateVariables(
      { ...base, filters: [{ dim: 'endpoint', op: '=', value: '$endpoint' }] },
      { endpoint: { text: '/api/cart', value: '/api/cart' } }
    );
    expect(q.filters).toEqual([{ dim: 'endpoint', op: '=', value: '/api/cart' }]);
  });

  it('keeps an empty groupBy (all keys merged) and an absent one (per key) apart', () => {
    expect(ds.applyTemplateVariables({ ...base, groupBy: [] }, {}).groupBy).toEqual([]);
    expect(ds.applyTemplateVariables({ ...base }, {}).groupBy).toBeUndefined();
  });

  it('drops a filter row without a dimension', () => {
    const q = ds.applyTemplateVariables(
      {
        ...base,
        filters: [
          { dim: '', op: '=', value: '' },
          { dim: 'endpoint', op: '=', value: '$endpoint' },
        ],
      },
      {}
    );
    expect(q.filters).toEqual([{ dim: 'endpoint', op: '=', value: '/api/checkout' }]);
  });

  it('does not change the query it was given', () => {
    const q: KwindowQuery = { ...base, filters: [{ dim: 'region', op: '=', value: '$regions' }] };
    ds.applyTemplateVariables(q, {});
    expect(q.filters).toEqual([{ dim: 'region', op: '=', value: '$regions' }]);
  });
});

describe('helpers', () => {
  it('escapes every regex metacharacter', () => {
    const special = '\\^$.|?*+()[]{}';
    expect(new RegExp('^' + escapeRegex(special) + '$').test(special)).toBe(true);
    expect(escapeRegex('/api/v1')).toBe('/api/v1');
  });

  it('writes a filter as a PromQL matcher', () => {
    expect(toMatcher({ dim: 'region', op: '=~', value: 'eu-.*' })).toBe('region=~"eu-.*"');
    expect(toMatcher({ dim: 'path', op: '=', value: 'a"b\\c' })).toBe('path="a\\"b\\\\c"');
  });

  it('reads the text form of a variable query', () => {
    expect(parseVariableQuery('endpoint_1m/endpoint')).toMatchObject({
      aggregation: 'endpoint_1m',
      dimension: 'endpoint',
      prefix: '',
    });
    expect(parseVariableQuery('endpoint_1m/endpoint//api/')).toMatchObject({ prefix: '/api/' });
  });

  it('interpolates measures, a multi-value variable adding one measure per value', () => {
    const srv = new FakeTemplateSrv([{ name: 'm', value: ['p99', 'count'], multi: true }]);
    expect(interpolateQuery(srv, { ...base, measures: ['$m', 'rate'] }).measures).toEqual(['p99', 'count', 'rate']);
  });
});
