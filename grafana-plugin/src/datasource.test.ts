import { CoreApp, CustomVariableSupport, DataQueryRequest, dateTime } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import { DataSource } from './datasource';
import { plugin } from './module';
import { AGGREGATIONS, instanceSettings, newDataSource, withTemplateVariables } from './test-utils';
import { KwindowVariableQuery } from './types';

describe('DataSource', () => {
  beforeEach(() => {
    withTemplateVariables([
      { name: 'agg', value: 'endpoint_1m' },
      { name: 'regions', value: ['eu-west', 'us-east'], multi: true },
    ]);
  });

  it('has a one-argument constructor (Grafana 10 needs it to build the data source itself)', () => {
    expect(DataSource.length).toBe(1);
    expect(plugin.DataSourceClass).toBe(DataSource);
  });

  it('registers the config and query editors, and variable and annotation support', () => {
    expect(plugin.components.ConfigEditor).toBeDefined();
    expect(plugin.components.QueryEditor).toBeDefined();
    const ds = new DataSource(instanceSettings);
    expect(ds.variables).toBeInstanceOf(CustomVariableSupport);
    expect(ds.annotations?.QueryEditor).toBeDefined();
  });

  it('sends only visible queries that name an aggregation', () => {
    const ds = new DataSource(instanceSettings);
    expect(ds.filterQuery({ refId: 'A', aggregation: 'endpoint_1m' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', aggregation: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', aggregation: 'endpoint_1m', hide: true })).toBe(false);
  });

  it('starts a new query as a range query of the rate', () => {
    const ds = new DataSource(instanceSettings);
    expect(ds.getDefaultQuery(CoreApp.PanelEditor)).toEqual({ queryType: 'range', measures: ['rate'] });
  });

  it('asks the values resource for a variable, with its filters as match[]', async () => {
    const { ds, calls } = newDataSource();
    const values = await ds.metricFindQuery({
      refId: 'v',
      aggregation: '$agg',
      dimension: 'endpoint',
      prefix: '/api/',
      filters: [{ dim: 'region', op: '=', value: '$regions' }],
    });
    expect(values).toEqual([
      { text: '/api/cart', value: '/api/cart' },
      { text: '/api/checkout', value: '/api/checkout' },
    ]);
    expect(calls).toEqual([
      {
        path: 'values',
        params: {
          aggregation: 'endpoint_1m',
          dimension: 'endpoint',
          prefix: '/api/',
          'match[]': ['region=~"(eu-west|us-east)"'],
        },
      },
    ]);
  });

  it('reads a variable query written as text', async () => {
    const { ds, calls } = newDataSource();
    await ds.metricFindQuery('status_10s/status');
    expect(calls[0].params).toEqual({ aggregation: 'status_10s', dimension: 'status' });
  });

  it('asks nothing for an unfinished variable query', async () => {
    const { ds, calls } = newDataSource();
    expect(await ds.metricFindQuery({ refId: 'v', aggregation: 'endpoint_1m' })).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('answers variable queries through CustomVariableSupport', async () => {
    const { ds } = newDataSource();
    const request = {
      targets: [{ refId: 'v', aggregation: 'status_10s', dimension: 'status' }],
      scopedVars: {},
      range: { from: dateTime(0), to: dateTime(1000), raw: { from: 'now-1h', to: 'now' } },
    } as unknown as DataQueryRequest<KwindowVariableQuery>;
    const variables = ds.variables as CustomVariableSupport<DataSource, KwindowVariableQuery>;
    // Grafana's runRequest calls it unbound.
    const query = variables.query;
    const rsp = await lastValueFrom(query(request));
    expect(rsp.data).toEqual([
      { text: '200', value: '200' },
      { text: '500', value: '500' },
    ]);
  });

  it('asks for aggregations once, and again after a failure', async () => {
    const { ds } = newDataSource();
    const getResource = ds.getResource as jest.Mock;
    getResource.mockRejectedValueOnce(new Error('bad gateway'));
    await expect(ds.getAggregations()).rejects.toThrow('bad gateway');
    expect(await ds.getAggregations()).toEqual(AGGREGATIONS);
    expect(await ds.getAggregations()).toEqual(AGGREGATIONS);
    expect(getResource).toHaveBeenCalledTimes(2);
  });

  it('accepts resources inside the API envelope or as objects', async () => {
    const ds = new DataSource(instanceSettings);
    ds.getResource = jest.fn().mockResolvedValueOnce({ status: 'success', data: AGGREGATIONS });
    expect(await ds.getAggregations()).toEqual(AGGREGATIONS);
    ds.getResource = jest.fn().mockResolvedValueOnce({ group_by: ['endpoint'] });
    expect(await ds.getDimensions('endpoint_1m')).toEqual(['endpoint']);
    ds.getResource = jest.fn().mockResolvedValueOnce(['a', 'b']);
    expect(await ds.getValues({ refId: 'x', aggregation: 'a', dimension: 'b' })).toEqual(['a', 'b']);
  });

  describe('annotations', () => {
    it('run an anomalies query with a threshold', () => {
      const ds = new DataSource(instanceSettings);
      const anno = ds.annotations!;
      expect(anno.getDefaultQuery!()).toEqual({ queryType: 'anomalies', threshold: 3 });
      expect(
        anno.prepareQuery!({
          name: 'Anomalies',
          enable: true,
          iconColor: 'red',
          target: { refId: 'Anno', aggregation: 'endpoint_1m', queryType: 'range', threshold: 4 },
        })
      ).toEqual({ refId: 'Anno', aggregation: 'endpoint_1m', queryType: 'anomalies', threshold: 4 });
      expect(
        anno.prepareQuery!({
          name: 'Anomalies',
          enable: true,
          iconColor: 'red',
          target: { refId: '', aggregation: 'endpoint_1m' },
        })
      ).toEqual({ refId: 'Anno', aggregation: 'endpoint_1m', queryType: 'anomalies', threshold: 3 });
    });

    it('skip an annotation without an aggregation', () => {
      const ds = new DataSource(instanceSettings);
      expect(ds.annotations!.prepareQuery!({ name: 'x', enable: true, iconColor: 'red', target: { refId: 'A' } })).toBe(
        undefined
      );
    });
  });
});
